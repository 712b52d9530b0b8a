"""What the handlers need from the composition root, passed explicitly (never a global)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from slack_sdk import WebClient

from bot.isolation import Isolated
from bot.services.context import ServiceContext
from bot.settings import Settings
from bot.work_pool import Quota, WorkPool
from handlers.dedupe import RecentIds
from handlers.home_viewers import HomeViewers
from handlers.modal_open import ModalOpener, Opener, Opening, modal_client


@dataclass
class Deps:
    settings: Settings
    # The services' context (database, clock, DNS options): handlers hand it to the
    # services and never touch the database themselves.
    services: ServiceContext
    seen_events: RecentIds = field(default_factory=RecentIds)
    # People who opened the App Home: a change to the record republishes theirs too.
    home_viewers: HomeViewers = field(default_factory=HomeViewers)
    # Opens modals with a client of its own (one try, a short deadline): set by
    # `bot.app.create_app`, which gives it the metrics' observer.
    modals: ModalOpener | None = None

    def open_modal(self, client: WebClient, opener: Opener) -> Opening:
        """Run `opener` under the modal deadline (`handlers.modal_open`).

        `client` (the request's) only serves to build the opener when the composition
        root did not, once for these Deps.
        """
        if self.modals is None:
            self.modals = ModalOpener(modal_client(client))
        return self.modals.open(opener)

    @cached_property
    def work(self) -> WorkPool:
        """Where slow work goes after the ack (checking files, downloads, DNS): a bounded
        pool, fair per person, and the timers of waits (bot/work_pool.py). Made by
        `create_app` before the first request, so never by two threads at once."""
        return WorkPool(self.settings.work_threads)

    @cached_property
    def isolated(self) -> Isolated | None:
        """Where DM uploads are checked: a worker process (CERTOPS_ISOLATE_CHECKS), so a
        key derivation never holds this process's GIL (bot/isolation.py)."""
        return Isolated() if self.settings.isolate_checks else None

    @cached_property
    def submissions(self) -> Quota:
        """Submissions in flight per person (CERTOPS_MAX_SUBMISSIONS_PER_PERSON)."""
        return Quota(self.settings.max_submissions_per_person)

    def admin_mentions(self) -> str:
        """The admins as Slack mentions, for the polite refusal of an admin-only command."""
        if not self.settings.admins:
            return "nobody yet (an operator sets CERTOPS_ADMINS)"
        return ", ".join(f"<@{user}>" for user in self.settings.admins)
