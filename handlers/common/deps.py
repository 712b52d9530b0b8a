"""What the handlers need from the composition root, passed explicitly (never a global).

Listeners are module-level functions: the middleware puts the Deps in the request's
context (`deps_of(context)`). One feature starting another (open the assign form from an
upload, republish the Home after a save) goes through a callback here, set by the
feature that owns it when it registers: feature folders never import each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TypeVar

from slack_bolt import BoltContext
from slack_sdk import WebClient

from bot.isolation import Isolated
from bot.services.actors import Actor
from bot.services.context import ServiceContext
from bot.settings import Settings
from bot.work_pool import Quota, WorkPool
from handlers.common.dedupe import RecentIds
from handlers.common.forms import Forms
from handlers.common.home_viewers import HomeViewers
from handlers.common.modal_open import ModalOpener, Opener, Opening, modal_client

T = TypeVar("T")


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
    # The validate and assign forms, set by their features (validate/, assign/).
    forms: Forms = field(default_factory=Forms)
    # Publish one person's Home; and, after a change, theirs and every open Home. Set by
    # home/ when it registers; until then (an app without a Home) they do nothing.
    show_home: Callable[[WebClient, Actor], None] = lambda client, actor: None
    publish_home: Callable[[WebClient, Actor], None] = lambda client, actor: None
    # A feature's own state for the life of the app (the uploads being collected), made
    # by its register and found by its type: common/ needs no import of the feature.
    feature_state: dict[type, object] = field(default_factory=dict)

    def state(self, kind: type[T]) -> T:
        """The state of type `kind` a feature registered."""
        found = self.feature_state[kind]
        assert isinstance(found, kind), kind
        return found

    def open_modal(self, client: WebClient, opener: Opener) -> Opening:
        """Run `opener` under the modal deadline (`handlers.common.modal_open`).

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


def deps_of(context: BoltContext) -> Deps:
    """The Deps of this app, put in every request's context by the middleware."""
    deps = context["deps"]
    assert isinstance(deps, Deps), "handlers.common.middleware sets context['deps']"
    return deps
