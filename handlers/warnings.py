"""Expiry warnings in Slack: the publisher the scan posts through, and the buttons.

`SlackPublisher` turns the scan's DueWarning into `chat.postMessage` / `chat.update`
calls (its client retries Slack's 429 answers after their `Retry-After`, with slack-sdk's
RateLimitErrorRetryHandler); any failure becomes `PublishFailed`, so the scan releases
its claim. The buttons: Snooze and Acknowledge record who and when (service `silence`)
and say so in the warning's thread; Renew opens the validate form prefilled with the
Domain and a new name that records which certificate it renews.
"""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import json
import logging
import shlex
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import default_retry_handlers
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.services import expiry, names
from bot.services.actors import Actor
from bot.services.errors import ServiceError
from bot.services.expiry import DueWarning, PublishFailed, RenewedNotice
from bot.services.expiry_digest import expiring_digest
from bot.settings import Settings
from handlers.blocks.base import broadcast, checked_message, checked_view, escape, section
from handlers.blocks.base import context as context_block
from handlers.command_parser import Command
from handlers.deps import Deps
from handlers.markup_gate import GuardedWebClient, guarded
from handlers.replies import Reply
from handlers.service_errors import refusal
from handlers.warnings_blocks import (
    ACTION_ACKNOWLEDGE,
    ACTION_RENEW,
    ACTION_SNOOZE_1,
    ACTION_SNOOZE_7,
    digest_blocks,
    renewal_offer_blocks,
    renewal_offer_text,
    renewed_blocks,
    renewed_text,
    warning_blocks,
    warning_text,
)

log = logging.getLogger("certops.warnings")

RENEW_MODAL_CALLBACK = "certops_warning_renew_modal"
RATE_LIMIT_RETRIES = 3


def warning_client(settings: Settings, client: WebClient | None = None) -> WebClient:
    """A Web API client of the scheduler's own; it waits out 429 answers (Retry-After).

    Retry handlers belong to a client object, and Bolt copies the app's into every
    listener's client: appended to the app's shared client, the rate-limit handler made
    every listener call sleep out a 429, a `views.open` before an ack included. So the
    scheduler gets a new client with `client`'s token, URL and observers.
    """
    if client is None:
        return GuardedWebClient(
            token=settings.slack_bot_token,
            base_url=settings.slack_api_url,
            retry_handlers=[
                *default_retry_handlers(),
                RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
            ],
        )
    handlers = list(client.retry_handlers)
    if not any(isinstance(h, RateLimitErrorRetryHandler) for h in handlers):
        handlers.append(RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES))
    return GuardedWebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        retry_handlers=handlers,
    )


def _failed(error: Exception) -> PublishFailed:
    if isinstance(error, SlackApiError):
        code = str(error.response.get("error", "error")) if error.response else "error"
        return PublishFailed(code, not_found=code == "message_not_found")
    return PublishFailed(type(error).__name__)


class SlackPublisher:
    """Posts warnings with a Web API client (a `Publisher` for `expiry.run_scan`)."""

    def __init__(self, client: WebClient) -> None:
        self.client = guarded(client)

    def post_warning(self, warning: DueWarning) -> str:
        try:
            with broadcast():  # an expired certificate's warning says <!here>
                answer = self.client.chat_postMessage(
                    channel=warning.channel,
                    text=warning_text(warning),
                    blocks=warning_blocks(warning),
                )
        except Exception as error:
            raise _failed(error) from None
        return str(answer["ts"])

    def update_warning(self, warning: DueWarning, ts: str) -> None:
        try:
            with broadcast():
                self.client.chat_update(
                    channel=warning.channel,
                    ts=ts,
                    text=warning_text(warning),
                    blocks=warning_blocks(warning),
                )
        except Exception as error:
            raise _failed(error) from None

    def remind(self, warning: DueWarning) -> str:
        try:
            with broadcast():
                answer = self.client.chat_postMessage(
                    channel=warning.channel,
                    thread_ts=warning.previous_ts,
                    reply_broadcast=warning.previous_ts is not None,
                    text=warning_text(warning),
                    blocks=warning_blocks(warning),
                )
        except Exception as error:
            raise _failed(error) from None
        return str(answer["ts"])

    def mark_renewed(self, notice: RenewedNotice) -> str | None:
        blocks = renewed_blocks(notice)
        text = renewed_text(notice)
        try:
            for ts in notice.message_ts:
                self.client.chat_update(channel=notice.channel, ts=ts, text=text, blocks=blocks)
            if not notice.targets:
                return None
            answer = self.client.chat_postMessage(
                channel=notice.channel,
                thread_ts=notice.message_ts[-1] if notice.message_ts else None,
                text=renewal_offer_text(notice),
                blocks=renewal_offer_blocks(notice),
            )
        except SlackApiError as error:
            if _failed(error).not_found:
                return None
            raise _failed(error) from None
        except Exception as error:
            raise _failed(error) from None
        return str(answer["ts"])


class SlackTlsPublisher:
    """Posts the post-assignment check's messages (a `TlsPublisher` for tls_check)."""

    def __init__(self, client: WebClient) -> None:
        self.client = guarded(client)

    def announce(self, channel: str, text: str) -> str:
        answer = self.client.chat_postMessage(
            channel=channel, text=text, blocks=checked_message([section(text)])
        )
        return str(answer["ts"])

    def reply(self, channel: str, thread_ts: str | None, text: str) -> str:
        answer = self.client.chat_postMessage(
            channel=channel,
            thread_ts=thread_ts,
            text=text,
            blocks=checked_message([section(text)]),
        )
        return str(answer["ts"])


# -- buttons -------------------------------------------------------------------------------


def _value(body: dict[str, Any]) -> dict[str, Any]:
    try:
        value = json.loads(body["actions"][0].get("value") or "{}")
    except (KeyError, IndexError, TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _message_of(body: dict[str, Any]) -> tuple[str | None, str | None]:
    """(channel, ts) of the message the button is in."""
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
    ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
    return channel, ts


def renewal_name(old: str, today: dt.date) -> str:
    """The name proposed for the renewal: says which certificate it renews, and when
    (made to fit the naming rule, whatever the old name was)."""
    return names.fit_name(old, f"-renewal-{today:%Y%m%d}")


def renew_modal(old: str, domain: str, new_name: str) -> dict[str, Any]:
    """A small form of ours until the validate modal takes prefill arguments."""
    return checked_view(
        {
            "type": "modal",
            "callback_id": RENEW_MODAL_CALLBACK,
            "title": {"type": "plain_text", "text": "Renew certificate"},
            "submit": {"type": "plain_text", "text": "Next"},
            "close": {"type": "plain_text", "text": "Cancel"},
            "private_metadata": json.dumps({"renews": old}),
            "blocks": [
                section(
                    f"Renewing *{escape(old)}*. Check the Domain and the new name, then send "
                    "the files."
                ),
                {
                    "type": "input",
                    "block_id": "domain",
                    "label": {"type": "plain_text", "text": "Domain"},
                    "element": {
                        "type": "plain_text_input",
                        "action_id": "value",
                        "initial_value": domain,
                    },
                },
                {
                    "type": "input",
                    "block_id": "name",
                    "label": {"type": "plain_text", "text": "New certificate name"},
                    "element": {
                        "type": "plain_text_input",
                        "action_id": "value",
                        "initial_value": new_name,
                    },
                },
                context_block(f"The new certificate records that it renews {escape(old)}."),
            ],
        }
    )


def open_renewal_form(
    client: WebClient, trigger_id: str, user_id: str, deps: Deps, *, old: str, domain: str
) -> None:
    """The validate modal prefilled, if it takes prefill arguments; else our small form."""
    new_name = renewal_name(old, deps.services.now().date())
    opener = _prefilling_validate_modal()
    if opener is not None:
        opener(client, trigger_id, user_id, deps, domain=domain, name=new_name, renews=old)
        return
    client.views_open(trigger_id=trigger_id, view=renew_modal(old, domain, new_name))


def _prefilling_validate_modal() -> Any:
    """`handlers.validate_modal.open_modal` once it takes `domain`, `name` and `renews`
    (the validate modal is built in the uploads issue; until then, our small form)."""
    try:
        module = importlib.import_module("handlers.validate_modal")
    except ImportError:
        return None
    opener = getattr(module, "open_modal", None)
    if opener is None:
        return None
    if {"domain", "name", "renews"} <= set(inspect.signature(opener).parameters):
        return opener
    return None


def _submitted(view: dict[str, Any]) -> tuple[str, str, str]:
    values = view.get("state", {}).get("values", {})
    domain = str(values.get("domain", {}).get("value", {}).get("value") or "").strip()
    name = str(values.get("name", {}).get("value", {}).get("value") or "").strip()
    try:
        renews = str(json.loads(view.get("private_metadata") or "{}").get("renews") or "")
    except ValueError:
        renews = ""
    return domain, name, renews


def renewal_instructions(domain: str, name: str, renews: str) -> str:
    """What to do next, in mrkdwn: every value escaped (the old name may predate the rule,
    the Domain is as typed), shell-quoted in the command line."""
    words = ["certops", "cert", "submit", "FILE...", "--name", name, "--domain", domain]
    command = shlex.join([*words, "--renews", renews])
    return (
        f"To renew *{escape(renews)}*, send the new certificate files (certificate, key and "
        f"chain, a PFX or a ZIP). On a terminal:\n```{escape(command)}```\nOnce it is valid "
        "I offer, in the warning's thread, to put it on every environment of the old one in "
        "one step."
    )


def register(app: App, deps: Deps) -> None:
    def silence(days: int | None) -> Any:
        def handler(
            ack: Ack,
            body: dict[str, Any],
            respond: Respond,
            client: WebClient,
            context: BoltContext,
        ) -> None:
            ack()
            actor: Actor = context["actor"]
            value = _value(body)
            channel, ts = _message_of(body)
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
            if channel and ts:
                client.chat_postMessage(
                    channel=channel,
                    thread_ts=ts,
                    text=result.text(),
                    blocks=checked_message([context_block(result.text())]),
                )

        return handler

    def renew(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        ack()
        actor: Actor = context["actor"]
        value = _value(body)
        open_renewal_form(
            client,
            str(body.get("trigger_id") or ""),
            actor.user_id,
            deps,
            old=str(value.get("certificate") or ""),
            domain=str(value.get("domain") or ""),
        )

    def renew_submitted(
        ack: Ack, view: dict[str, Any], client: WebClient, context: BoltContext
    ) -> None:
        domain, name, renews = _submitted(view)
        try:
            name = names.check_certificate_name(name)
        except ServiceError as error:
            ack(response_action="errors", errors={"name": error.message})
            return
        ack()
        actor: Actor = context["actor"]
        text = renewal_instructions(domain, name, renews)
        channel = client.conversations_open(users=actor.user_id)["channel"]["id"]
        client.chat_postMessage(channel=channel, text=text, blocks=checked_message([section(text)]))

    app.action(ACTION_SNOOZE_1)(silence(1))
    app.action(ACTION_SNOOZE_7)(silence(7))
    app.action(ACTION_ACKNOWLEDGE)(silence(None))
    app.action(ACTION_RENEW)(renew)
    app.view(RENEW_MODAL_CALLBACK)(renew_submitted)


# -- /cert expiring ------------------------------------------------------------------------


def expiring_reply(command: Command, actor: Actor, deps: Deps) -> Reply:
    """`/cert expiring [DAYS]`: the digest by environment."""
    days = int(command.args.get("days") or 0)
    return Reply(digest_blocks(days, expiring_digest(deps.services, days)))
