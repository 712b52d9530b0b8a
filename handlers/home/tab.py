"""The App Home: published when a person opens it, and again for every open Home when the
record changes (other features ask through `Deps.publish_home`)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.services import certificates, environments
from bot.services.actors import Actor
from bot.services.errors import ServiceError
from handlers.common.deps import Deps, deps_of
from handlers.home.blocks import home_view, unavailable_view

log = logging.getLogger("certops.slack")


def app_home_opened(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    if event.get("tab", "home") != "home":
        return  # the Messages tab: nothing to publish
    deps = deps_of(context)
    deps.home_viewers.add(context["actor"])
    show(client, context["actor"], deps)


def build_view(actor: Actor, deps: Deps) -> dict[str, Any]:
    envs = [e.to_dict() for e in environments.list_environments(deps.services)]
    certs = [c.to_dict(with_report=False) for c in certificates.list_certificates(deps.services)]
    return home_view(envs, certs, user_id=actor.user_id, is_admin=actor.is_admin)


def publish(client: WebClient, actor: Actor, deps: Deps) -> None:
    """`actor` changed the record: republish their Home and every other open Home.

    The change itself has been answered already, so a Home that cannot be published is
    logged, not reported; a viewer who cannot be published to (left the workspace) is
    forgotten.
    """
    for person in [actor, *deps.home_viewers.others(actor.user_id)]:
        try:
            show(client, person, deps)
        except SlackApiError as error:
            log.info("home of %s not republished: %s", person.user_id, error.response.get("error"))
            deps.home_viewers.discard(person.user_id)


def show(client: WebClient, actor: Actor, deps: Deps) -> None:
    """Publish the Home tab of `actor` with the record as it is now.

    When the record cannot be read (the database is down), the tab says so instead of
    keeping a stale view without a word.
    """
    try:
        view = build_view(actor, deps)
    except ServiceError as error:
        log.warning("home for %s not built: %s", actor.user_id, error.code)
        view = unavailable_view(error.message)
    client.views_publish(user_id=actor.user_id, view=view)
    log.info("home published for %s", actor.user_id)
