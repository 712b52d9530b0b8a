"""The services' context built from the settings: the one place that maps one to the other.

Its own module so that the terminal commands get it without importing the Slack app
(`bot.app` imports Bolt, which the record commands must not pay for).
"""

from __future__ import annotations

from bot.services.context import ServiceContext
from bot.settings import Settings
from storage.db import Database


def create_service_context(settings: Settings, database: Database | None = None) -> ServiceContext:
    """The services' context for these settings (the database is opened lazily)."""
    return ServiceContext(
        database=database or Database(settings.effective_database_url),
        load_balancer_patterns=settings.load_balancer_patterns,
        default_nameservers=list(settings.nameservers) or None,
    )
