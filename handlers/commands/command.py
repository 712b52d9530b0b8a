"""The `/cert` slash command: parse, refuse or ack, then run the subcommand after the ack.

Slack waits 3 seconds for the ack. Usage, help and refusals are answered in the ack
itself (they need nothing slow); `validate` and `assign` open their form first, with
one bounded try (`handlers.common.modal_open`), and ack once it opened or with one line saying
why not (the rest follows through the response URL); every other subcommand is
acknowledged first and answered through the response URL once its service returns, so
a slow database, DNS or Slack never shows as Slack's timeout.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.services.actors import Actor, actor_for
from bot.services.errors import ServiceError
from handlers.commands.subcommands import SUBCOMMANDS
from handlers.common.background import after_ack
from handlers.common.blocks.base import checked_message, fallback_text, section
from handlers.common.blocks.help import help_blocks, not_admin_blocks, usage_blocks
from handlers.common.command_parser import Command, UsageError, parse
from handlers.common.deps import Deps, deps_of
from handlers.common.errors import best_effort
from handlers.common.forms import ASSIGN_REST, VALIDATE_REST, FormOpener, FormRequest
from handlers.common.modal_open import Opening
from handlers.common.payloads import dm_channel
from handlers.common.refusals import refusal
from handlers.common.replies import Reply

log = logging.getLogger("certops.slack")

# Subcommands slow enough that the person should see that the work started; their work
# runs on the work pool (handlers/background.py), the others' on the listener thread.
WORKING = {"dns": "Checking the DNS…", "env sync": "Asking LifeTime for its environments…"}
NOT_YET = "`/cert {name}` is not available in this version yet."


def cert_command(
    ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
) -> None:
    deps = deps_of(context)
    actor: Actor = context["actor"]
    try:
        command = parse(str(body.get("text") or ""))
    except UsageError as error:
        usage = usage_blocks(error)
        ack(blocks=usage, text=fallback_text(usage))
        return
    log.info("/cert %s by %s", command.name, actor.user_id)
    early = early_answer(command, actor, deps)
    if early is not None:
        ack(blocks=early, text=fallback_text(early))
        return
    form = form_of(command, deps)
    if form is not None:
        opener, rest = form
        request = FormRequest(
            str(body.get("trigger_id") or ""), actor.user_id, str(body.get("channel_id") or "")
        )
        opening = deps.open_modal(client, lambda fast: opener(fast, request, deps))
        answer_opening(opening, ack, respond, rest)
        return
    # From here on Slack has its answer; the work below may take longer than 3 s.
    ack(text=WORKING.get(command.name, ""))

    def answer() -> None:
        reply = run(command, actor, deps)
        respond(
            blocks=reply.blocks,
            text=reply.text,
            response_type=reply.response_type,
            replace_original=False,
        )
        follow_up(reply, actor, client, deps)

    if command.name in WORKING:  # slow (DNS, LifeTime): on the work pool, fair per person
        after_ack(deps, actor.user_id, answer, body=body, client=client, respond=respond)
    else:
        answer()


def early_answer(command: Command, actor: Actor, deps: Deps) -> list[dict[str, Any]] | None:
    """The answer that goes into the ack itself, or None when there is more to do."""
    if command.name == "help":
        return help_blocks(actor.is_admin)
    if command.admin_only and not actor.is_admin:
        return not_admin_blocks(command.name, deps.admin_mentions())
    if form_of(command, deps) is None and command.name not in SUBCOMMANDS:
        return checked_message([section(NOT_YET.format(name=command.name))])
    return None


def form_of(command: Command, deps: Deps) -> tuple[FormOpener, str] | None:
    """The modal a subcommand opens, and what to say if Slack does not open it."""
    if command.name == "validate":
        return deps.forms.validate, VALIDATE_REST
    if command.name == "assign" and not command.args:
        return deps.forms.assign, ASSIGN_REST
    return None


def answer_opening(opening: Opening, ack: Ack, respond: Respond, rest: str) -> None:
    """Ack at once: empty when the form opened, else one line; the rest after the ack."""
    text = opening.ack_text()
    if text is None:
        ack()
    else:
        ack(blocks=checked_message([section(text)]), text=text)

    def tell(more: str) -> None:
        respond(
            blocks=checked_message([section(more)]),
            text=more,
            response_type="ephemeral",
            replace_original=False,
        )

    opening.follow_up(tell, rest)


def run(command: Command, actor: Actor, deps: Deps) -> Reply:
    """The subcommand's reply; a refusal by a service becomes its message."""
    try:
        return SUBCOMMANDS[command.name](command, actor, deps).checked()
    except ServiceError as error:
        return refusal(error, deps, command.name)


def follow_up(reply: Reply, actor: Actor, client: WebClient, deps: Deps) -> None:
    """After the answer: tell the people concerned, refresh the asker's App Home."""
    for user, text in reply.notices:
        if user != actor.user_id and user[:1] in {"U", "W"}:
            try:
                client.chat_postMessage(
                    channel=dm_channel(client, user),
                    text=text,
                    blocks=checked_message([section(text)]),
                )
                deps.show_home(client, actor_for(user, deps.settings))  # their record moved
            except SlackApiError as error:
                # The change is made and answered: a person Slack will not let us reach
                # (left, disabled) must not turn it into "something went wrong".
                log.warning("could not tell %s: %s", user, error.response.get("error"))
    if reply.changed:
        best_effort("the Home after a change", lambda: deps.publish_home(client, actor))
