"""The buttons of an expiry warning: Snooze and Acknowledge record who and when (service
`silence`) and say so in the warning's thread; Renew opens the validate form prefilled
with the Domain and a new name that records which certificate it renews.

The buttons' values carry the certificate id, its name, Domain and channel: a click
needs no lookup of which message it came from, and warnings posted months ago still work.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient

from bot.services import expiry, names, served
from bot.services.actors import Actor
from bot.services.errors import ServiceError
from handlers.common.background import after_ack
from handlers.common.blocks.base import checked_message
from handlers.common.blocks.base import context as context_block
from handlers.common.blocks.dns import dns_blocks
from handlers.common.deps import deps_of
from handlers.common.errors import best_effort
from handlers.common.forms import FormRequest
from handlers.common.payloads import button_value, clicked_in, served_target
from handlers.common.refusals import refusal

log = logging.getLogger("certops.warnings")


def renewal_name(old: str, today: dt.date) -> str:
    """The name proposed for the renewal: says which certificate it renews, and when
    (made to fit the naming rule, whatever the old name was)."""
    return names.fit_name(old, f"-renewal-{today:%Y%m%d}")


def snooze_1(
    ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
) -> None:
    ack()
    silence(body, respond, client, context, days=1)


def snooze_7(
    ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
) -> None:
    ack()
    silence(body, respond, client, context, days=7)


def acknowledge(
    ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
) -> None:
    ack()
    silence(body, respond, client, context, days=None)


def silence(
    body: dict[str, Any],
    respond: Respond,
    client: WebClient,
    context: BoltContext,
    *,
    days: int | None,
) -> None:
    """Record the snooze (`days`) or the acknowledgement, then say so in the thread."""
    deps = deps_of(context)
    actor: Actor = context["actor"]
    value = button_value(body)
    channel, ts = clicked_in(body)
    try:
        result = expiry.silence(
            deps.services,
            actor,
            int(value.get("certificate_id") or 0),
            str(value.get("channel") or channel or ""),
            snooze_days=days,
        )
    except ServiceError as error:
        reply = refusal(error, deps, "warning")
        respond(blocks=reply.blocks, text=reply.text, replace_original=False)
        return
    # Recorded: saying so in the thread is best-effort (a refused post must not read as
    # "something went wrong"); when the thread refuses, the person hears it here instead.
    note = checked_message([context_block(result.text())])
    try:
        if not (channel and ts):
            return
        client.chat_postMessage(channel=channel, thread_ts=ts, text=result.text(), blocks=note)
    except Exception as error:
        log.warning("silence not said in the thread: %s", type(error).__name__)
        best_effort(
            "the silence's answer",
            lambda: respond(blocks=note, text=result.text(), replace_original=False),
        )


def renew(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """The validate form, prefilled to renew the warning's certificate."""
    ack()
    deps = deps_of(context)
    actor: Actor = context["actor"]
    value = button_value(body)
    old = str(value.get("certificate") or "")
    request = FormRequest(
        str(body.get("trigger_id") or ""),
        actor.user_id,
        domain=str(value.get("domain") or ""),
        name=renewal_name(old, deps.services.now().date()),
        renews=old,
    )
    deps.forms.validate(client, request, deps)


# -- the buttons of a served-certificate change (issue 17) ---------------------------------

MALFORMED_SERVED = (
    "This button carries no hostname and environment I can read: nothing was checked."
)


def served_dns_check(
    ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
) -> None:
    """Run the DNS check of the message's hostname (after the ack, on the work pool) and
    answer in the message's thread."""
    ack()
    deps = deps_of(context)
    actor: Actor = context["actor"]
    target = served_target(body)  # the Adopt button's reader: bounded, checked
    if target is None:
        respond(text=MALFORMED_SERVED, replace_original=False)
        return
    hostname, environment = target
    channel, ts = clicked_in(body)

    def work() -> None:
        config = served.config_from_settings(deps.settings)
        try:
            report, name = served.dns_check_of(deps.services, config, hostname, environment)
        except ServiceError as error:
            reply = refusal(error, deps, "DNS check")
            respond(blocks=reply.blocks, text=reply.text, replace_original=False)
            return
        blocks = checked_message(dns_blocks(report.to_dict(), name))
        text = f"DNS check of {hostname}: {report.verdict}"
        if channel and ts:
            client.chat_postMessage(channel=channel, thread_ts=ts, text=text, blocks=blocks)
        else:
            respond(blocks=blocks, text=text, replace_original=False)

    after_ack(deps, actor.user_id, work, body=body, client=client, respond=respond)
