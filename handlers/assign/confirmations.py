"""The clicks that carry out an assignment or a renewal after its confirmation prompt.

The result is a real message in the channel of the click (`chat.postMessage`, the DM when
the channel refuses) so that the post-assignment TLS check can answer in its thread.

The button's value holds what the command named; the service decides everything else
again at click time (admin, status, coverage, DNS), so a stale prompt cannot bypass a rule.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.services import assignments, renewals
from bot.services.actors import Actor
from bot.services.errors import ServiceError
from handlers.assign.post import assignment_ids, follow_in_thread, post_result
from handlers.common.background import after_ack
from handlers.common.blocks import confirm
from handlers.common.blocks.base import checked_message, fallback_text, section
from handlers.common.deps import Deps, deps_of
from handlers.common.errors import best_effort
from handlers.common.payloads import button_value, clicked_in
from handlers.common.refusals import refusal
from handlers.common.replies import Reply

log = logging.getLogger("certops.slack")


# What a confirmation runs after the ack (on the work pool).
Confirmed = Callable[[dict[str, Any], Respond, WebClient, Actor, Deps], None]


def assign_confirm(
    ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
) -> None:
    ack()
    confirmed(assign, "Checking the DNS and assigning…", body, respond, client, context)


def renew_confirm(
    ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
) -> None:
    ack()
    confirmed(renew, "Renewing…", body, respond, client, context)


def confirmed(
    work: Confirmed,
    working: str,
    body: dict[str, Any],
    respond: Respond,
    client: WebClient,
    context: BoltContext,
) -> None:
    """The prompt says `working`; the DNS checks and the change go to the work pool."""
    deps = deps_of(context)
    actor: Actor = context["actor"]
    respond(text=working, replace_original=True)
    after_ack(
        deps,
        actor.user_id,
        lambda: work(body, respond, client, actor, deps),
        body=body,
        client=client,
        respond=respond,
    )


def assign(
    body: dict[str, Any], respond: Respond, client: WebClient, actor: Actor, deps: Deps
) -> None:
    """The DNS check and the assignment (on the work pool)."""
    value = button_value(body)
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
    done = confirm.assignment_done_blocks(result.to_dict(), actor.user_id)
    announce(client, respond, body, actor, done, assignment_ids([result.to_dict()]), deps)
    best_effort("the Home after an assignment", lambda: deps.publish_home(client, actor))


def renew(
    body: dict[str, Any], respond: Respond, client: WebClient, actor: Actor, deps: Deps
) -> None:
    """The DNS checks and the renewal (on the work pool)."""
    try:
        result = renewals.apply_renewal(
            deps.services, actor, str(button_value(body).get("name", "")), cname_confirmed=True
        )
    except ServiceError as error:
        answer(respond, refusal(error, deps, "renew"))
        return
    outcome = result.to_dict()
    done = confirm.renewal_done_blocks(outcome, actor.user_id)
    ids = assignment_ids(o["result"] for o in outcome["outcomes"])
    announce(client, respond, body, actor, done, ids, deps)
    best_effort("the Home after a renewal", lambda: deps.publish_home(client, actor))


def announce(
    client: WebClient,
    respond: Respond,
    body: dict[str, Any],
    actor: Actor,
    done: list[dict[str, Any]],
    ids: list[int],
    deps: Deps,
) -> None:
    """The result as a channel message (the TLS check answers in its thread); the
    person's prompt says where it went."""
    try:
        posted = post_result(client, clicked_in(body)[0], actor.user_id, done)
    except SlackApiError as error:  # neither the channel nor the DM: answer here
        log.warning("result not posted (%s): answered in place", error.response.get("error"))
        answer(respond, Reply(done, in_channel=True, changed=True).checked())
        return
    follow_in_thread(deps, ids, posted)
    where = (
        "I could not post in this channel: the result is in our DM."
        if posted.in_dm
        else "Done: the result is posted in this channel."
    )
    respond(text=where, replace_original=True)


def cancel(ack: Ack, respond: Respond) -> None:
    ack()
    respond(text="Cancelled: nothing was changed.", replace_original=True)


def answer(respond: Respond, reply: Reply) -> None:
    blocks = checked_message(reply.blocks) if reply.blocks else [section("Done.")]
    respond(
        blocks=blocks,
        text=fallback_text(blocks),
        response_type=reply.response_type,
        replace_original=False,
    )
