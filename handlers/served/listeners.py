"""The "Adopt" button: take in the certificate a hostname serves (service `adoption`).

Thin: ack at once; the probe (DNS, a TLS handshake: seconds) runs on the work pool; the
outcome goes in the thread of the post the button is in, for the channel to see (the
record changed), and a refusal only to the person who clicked. Who may adopt is the
service's rule: admins, as for assign.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient

from bot.services import adoption, served
from bot.services.actors import Actor
from bot.services.errors import ServiceError
from bot.services.expiry_thresholds import thresholds_of
from handlers.common.background import after_ack
from handlers.common.blocks.base import fallback_text
from handlers.common.blocks.help import problem_blocks
from handlers.common.deps import Deps, deps_of
from handlers.common.errors import best_effort
from handlers.common.payloads import clicked_in, served_target
from handlers.common.refusals import refusal
from handlers.served.blocks import adopted_blocks, retry_blocks

log = logging.getLogger("certops.served")

MALFORMED = "This button carries no hostname and environment I can read: nothing was adopted."


def adopt(
    ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
) -> None:
    ack()
    deps = deps_of(context)
    actor: Actor = context["actor"]
    target = served_target(body)
    if target is None:
        respond(blocks=problem_blocks(MALFORMED), text=MALFORMED, replace_original=False)
        return
    after_ack(
        deps,
        actor.user_id,
        lambda: _adopt(deps, actor, target, body, respond, client),
        body=body,
        client=client,
        respond=respond,
    )


def _adopt(
    deps: Deps,
    actor: Actor,
    target: tuple[str, str | int],
    body: dict[str, Any],
    respond: Respond,
    client: WebClient,
) -> None:
    hostname, environment = target
    settings = deps.settings
    try:
        result = adoption.adopt_served(
            deps.services,
            actor,
            hostname,
            environment,
            options=served.config_from_settings(settings),
            thresholds=thresholds_of(settings),
        )
    except ServiceError as error:
        reply = refusal(error, deps, "adopt", action="adopting a served certificate")
        refused = retry_blocks(reply.blocks, error.code, hostname, environment)
        respond(blocks=refused, text=reply.text, replace_original=False)
        return
    blocks = adopted_blocks(result.to_dict(), actor.user_id)
    text = fallback_text(blocks)
    channel, ts = clicked_in(body)
    if channel and ts:
        try:
            client.chat_postMessage(channel=channel, thread_ts=ts, text=text, blocks=blocks)
        except Exception as error:  # adopted all the same: the person hears it here instead
            log.warning("adoption not said in the thread: %s", type(error).__name__)
            best_effort(
                "the adoption's answer",
                lambda: respond(blocks=blocks, text=text, replace_original=False),
            )
    else:
        respond(blocks=blocks, text=text, replace_original=False)
    if result.changed:
        best_effort("the Home after an adoption", lambda: deps.publish_home(client, actor))
