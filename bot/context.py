"""The services' context built from the settings: the one place that maps one to the other.

Its own module so that the terminal commands get it without importing the Slack app
(`bot.app` imports Bolt, which the record commands must not pay for).
"""

from __future__ import annotations

from bot.services.context import ServiceContext
from bot.settings import Settings
from bot.trust_roots import setting_roots
from storage.db import Database


def create_service_context(settings: Settings, database: Database | None = None) -> ServiceContext:
    """The services' context for these settings (the database is opened lazily).

    CERTOPS_TRUST_STORE's roots become `extra_roots`, the one way trust roots reach the
    pipeline: DM uploads (in the worker process too), the validate and save forms,
    assignments and renewals all validate with them. The files were read at start-up
    (bot/trust_roots.py keeps them); a bad one raises TrustRootsError with one line.
    """
    return ServiceContext(
        database=database or Database(settings.effective_database_url),
        load_balancer_patterns=settings.load_balancer_patterns,
        default_nameservers=list(settings.nameservers) or None,
        extra_roots=setting_roots(settings),
    )
