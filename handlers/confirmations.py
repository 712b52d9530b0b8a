"""The clicks that carry out an assignment or a renewal after its confirmation prompt.

The button's value holds what the command named; the service decides everything else
again at click time (admin, status, coverage, DNS), so a stale prompt cannot bypass a rule.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.services import assignments, renewals
from bot.services.actors import Actor
from bot.services.errors import ServiceError
from handlers import home
from handlers.blocks import confirm
from handlers.blocks.base import checked_message, fallback_text, section
from handlers.deps import Deps
from handlers.replies import Reply
from handlers.service_errors import refusal

log = logging.getLogger("certops.slack")


def _value(body: dict[str, Any]) -> dict[str, Any]:
    try:
        value = json.loads(body["actions"][0].get("value") or "{}")
    except (KeyError, IndexError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def register(app: App, deps: Deps) -> None:
    def assign_confirm(
        ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
    ) -> None:
        ack()
        actor: Actor = context["actor"]
        value = _value(body)
        respond(text="Checking the DNS and assigning…", replace_original=True)
        try:
            result = assignments.assign_certificate(
                deps.services,
                actor,
                str(value.get("certificate", "")),
                str(value.get("environment", "")),
                str(value.get("hostname", "")),
                cname_confirmed=True,
            )
        except ServiceError as error:
            answer(respond, refusal(error, deps, "assign"))
            return
        reply = Reply(
            confirm.assignment_done_blocks(result.to_dict(), actor.user_id),
            in_channel=True,
            changed=True,
        )
        answer(respond, reply.checked())
        home.publish(client, actor, deps)

    def renew_confirm(
        ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
    ) -> None:
        ack()
        actor: Actor = context["actor"]
        respond(text="Renewing…", replace_original=True)
        try:
            result = renewals.apply_renewal(
                deps.services, actor, str(_value(body).get("name", "")), cname_confirmed=True
            )
        except ServiceError as error:
            answer(respond, refusal(error, deps, "renew"))
            return
        reply = Reply(
            confirm.renewal_done_blocks(result.to_dict(), actor.user_id),
            in_channel=True,
            changed=True,
        )
        answer(respond, reply.checked())
        home.publish(client, actor, deps)

    def cancel(ack: Ack, respond: Respond) -> None:
        ack()
        respond(text="Cancelled: nothing was changed.", replace_original=True)

    app.action(confirm.ACTION_ASSIGN_CONFIRM)(assign_confirm)
    app.action(confirm.ACTION_RENEW_CONFIRM)(renew_confirm)
    app.action(confirm.ACTION_CANCEL)(cancel)


def answer(respond: Respond, reply: Reply) -> None:
    blocks = checked_message(reply.blocks) if reply.blocks else [section("Done.")]
    respond(
        blocks=blocks,
        text=fallback_text(blocks),
        response_type=reply.response_type,
        replace_original=False,
    )
