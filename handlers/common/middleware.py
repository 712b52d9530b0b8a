"""Global middleware: request id for the logs, who is asking, and retried-event dedupe
(across replicas, through the database: `handlers.common.dedupe.first_delivery`).

Bolt's middleware is a flat list (calling `next()` only sets a flag), so each function
does its part and lets the request through, except the dedupe, which answers a repeat
with 200 so that Slack stops retrying.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse

from bot.services.actors import actor_for
from handlers.common.dedupe import first_delivery
from handlers.common.deps import Deps
from handlers.common.request_context import request_id_for, request_id_var

log = logging.getLogger("certops.slack")


def user_id_of(body: dict[str, Any]) -> str | None:
    """The person behind a command, event or interaction payload."""
    if isinstance(body.get("user_id"), str):  # slash command
        return str(body["user_id"])
    user = body.get("user")  # interactions
    if isinstance(user, dict) and isinstance(user.get("id"), str):
        return str(user["id"])
    event = body.get("event")
    if isinstance(event, dict):
        value = event.get("user")
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and isinstance(value.get("id"), str):
            return str(value["id"])
    return None


def register(app: App, deps: Deps) -> None:
    app.middleware(_with_request_id)
    app.middleware(_with_actor(deps))
    app.middleware(_once_per_event(deps))


def _with_request_id(body: dict[str, Any], context: BoltContext, next: Callable[[], None]) -> None:
    request_id = request_id_for(body)
    request_id_var.set(request_id)
    context["request_id"] = request_id
    next()


def _with_actor(deps: Deps) -> Callable[..., None]:
    def with_actor(body: dict[str, Any], context: BoltContext, next: Callable[[], None]) -> None:
        context["deps"] = deps
        user_id = user_id_of(body) or context.user_id
        if user_id:
            actor = actor_for(user_id, deps.settings)
            context["actor"] = actor
            context["is_admin"] = actor.is_admin
        else:
            context["actor"] = None
            context["is_admin"] = False
        next()

    return with_actor


def _once_per_event(deps: Deps) -> Callable[..., BoltResponse | None]:
    def once_per_event(
        body: dict[str, Any], request: BoltRequest, next: Callable[[], None]
    ) -> BoltResponse | None:
        event_id = body.get("event_id")
        if (
            body.get("type") == "event_callback"
            and isinstance(event_id, str)
            and not first_delivery(deps.seen_events, deps.services, "event", event_id)
        ):
            retry = request.headers.get("x-slack-retry-num", ["?"])[0]
            log.info("event %s already handled, retry %s acknowledged", event_id, retry)
            return BoltResponse(status=200, body="")
        next()
        return None

    return once_per_event
