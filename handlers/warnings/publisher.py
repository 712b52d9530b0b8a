"""The Slack side of the scheduler: the expiry scan's publisher, and the post-assignment
TLS check's.

`SlackPublisher` turns the scan's DueWarning into `chat.postMessage` / `chat.update`
calls (its client retries Slack's 429 answers after their `Retry-After`, a wait that a
stop cuts short: rate_limit.py); any failure becomes `PublishFailed`, so the scan releases
its claim.
"""

from __future__ import annotations

import threading

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import default_retry_handlers
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.services.expiry import DueWarning, PublishFailed, RenewedNotice
from bot.settings import Settings
from handlers.common.blocks.base import broadcast, checked_message, section
from handlers.common.markup_gate import GuardedWebClient, guarded
from handlers.warnings.blocks import (
    renewal_offer_blocks,
    renewal_offer_text,
    renewed_blocks,
    renewed_text,
    warning_blocks,
    warning_text,
)
from handlers.warnings.rate_limit import StoppableRateLimitHandler

RATE_LIMIT_RETRIES = 3


def warning_client(
    settings: Settings,
    client: WebClient | None = None,
    stopping: threading.Event | None = None,
) -> WebClient:
    """A Web API client of the scheduler's own; it waits out 429 answers (Retry-After),
    unless `stopping` is set (the process is stopping: see rate_limit.py).

    Retry handlers belong to a client object, and Bolt copies the app's into every
    listener's client: appended to the app's shared client, the rate-limit handler made
    every listener call sleep out a 429, a `views.open` before an ack included. So the
    scheduler gets a new client with `client`'s token, URL and observers.
    """
    rate_limit = StoppableRateLimitHandler(stopping or threading.Event(), RATE_LIMIT_RETRIES)
    if client is None:
        return GuardedWebClient(
            token=settings.slack_bot_token,
            base_url=settings.slack_api_url,
            retry_handlers=[*default_retry_handlers(), rate_limit],
        )
    handlers = [h for h in client.retry_handlers if not isinstance(h, RateLimitErrorRetryHandler)]
    handlers.append(rate_limit)
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
