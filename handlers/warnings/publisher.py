"""The Slack side of the scheduler: the expiry scan's publisher, and the post-assignment
TLS check's.

`SlackPublisher` turns the scan's DueWarning into `chat.postMessage` / `chat.update`
calls (its client retries Slack's 429 answers after their `Retry-After`, a wait that a
stop cuts short: rate_limit.py); any failure becomes `PublishFailed`, so the scan releases
its claim. Every warning carries Slack message metadata with its claim's id
(`certops_warning`), so that a post whose answer was lost can be found in the channel's
history (`find_warning`, conversations.history with include_all_metadata) instead of
being posted twice; for the same reason the client never retries a post after a broken
connection (no ConnectionErrorRetryHandler).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import RetryHandler
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.services.expiry import DueWarning, PublishFailed, RenewedNotice
from bot.services.served import ServedChange
from bot.settings import Settings
from handlers.common.blocks.base import broadcast, checked_message, section
from handlers.common.markup_gate import GuardedWebClient, guarded
from handlers.warnings.blocks import (
    renewal_offer_blocks,
    renewal_offer_text,
    renewed_blocks,
    renewed_text,
    served_blocks,
    served_text,
    warning_blocks,
    warning_text,
)
from handlers.warnings.rate_limit import StoppableRateLimitHandler, retry_after

RATE_LIMIT_RETRIES = 3
EVENT_TYPE = "certops_warning"  # the metadata event type of every warning message
HISTORY_LIMIT = 200  # messages looked at for a lost answer (one page, since the claim)


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
            retry_handlers=[rate_limit],
        )
    # No ConnectionErrorRetryHandler: a post sent again after a lost answer is a duplicate;
    # slack-sdk's own rate-limit handler is replaced by the one a stop cuts short.
    dropped = (ConnectionErrorRetryHandler, RateLimitErrorRetryHandler)
    handlers = [h for h in client.retry_handlers if not isinstance(h, dropped)]
    handlers.append(rate_limit)
    return GuardedWebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        retry_handlers=handlers,
    )


def _failed(error: Exception) -> PublishFailed:
    """A known refusal (`ok: false`, a 4xx), or an unknown outcome: the connection broke, a
    timeout, a 5xx after the request was sent (Slack may have posted the message)."""
    if isinstance(error, SlackApiError):
        code = str(error.response.get("error", "error")) if error.response else "error"
        status = int(getattr(error.response, "status_code", 200) or 200)
        return PublishFailed(code, not_found=code == "message_not_found", unknown=status >= 500)
    return PublishFailed(type(error).__name__, unknown=True)


def metadata(warning: DueWarning | RenewedNotice) -> dict[str, Any] | None:
    """The message metadata that finds this warning (or renewal offer) again after a lost
    answer, or after its process died before recording it."""
    if warning.claim_id is None:
        return None
    payload = {
        "claim": warning.claim_id,
        "certificate": warning.certificate_id,
        "threshold": warning.threshold if isinstance(warning, DueWarning) else "renewed",
    }
    return {"event_type": EVENT_TYPE, "event_payload": payload}


_posting = threading.local()  # the channel a post is going to, for RateLimitShared


class RateLimitShared(RetryHandler):
    """Never retries: tells `on_limit(channel, seconds)` of each 429 and its Retry-After,
    so that every replica waits it out (`SharedPacer.hold`), not only the one answered.
    Put first in the client's handlers: the SDK asks each handler in turn."""

    def __init__(self, on_limit: Callable[[str, float], None]) -> None:
        super().__init__(max_retry_count=1_000_000)
        self.on_limit = on_limit

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        channel = getattr(_posting, "channel", None)
        if response is None or response.status_code != 429 or not channel:
            return False
        seconds = retry_after(response)
        with contextlib.suppress(Exception):  # the database is down: this replica still waits
            self.on_limit(channel, seconds)
        return False


class _Channel:
    def __init__(self, channel: str) -> None:
        self.channel = channel

    def __enter__(self) -> None:
        _posting.channel = self.channel

    def __exit__(self, *exc: object) -> None:
        _posting.channel = None


class SlackPublisher:
    """Posts warnings with a Web API client (a `Publisher` for `expiry.run_scan`)."""

    def __init__(
        self, client: WebClient, on_rate_limited: Callable[[str, float], None] | None = None
    ) -> None:
        self.client = guarded(client)
        if on_rate_limited is not None:
            self.client.retry_handlers.insert(0, RateLimitShared(on_rate_limited))

    def post_warning(self, warning: DueWarning) -> str:
        try:
            with broadcast(), _Channel(warning.channel):  # an expired warning says <!here>
                answer = self.client.chat_postMessage(
                    channel=warning.channel,
                    text=warning_text(warning),
                    blocks=warning_blocks(warning),
                    metadata=metadata(warning),
                )
        except Exception as error:
            raise _failed(error) from None
        return str(answer["ts"])

    def find_warning(self, channel: str, claim_id: int, since: dt.datetime) -> str | None:
        """The ts of the message posted for `claim_id` in `channel` since `since` (one
        page of recent history with metadata), else None; PublishFailed if unreadable."""
        try:
            answer = self.client.conversations_history(
                channel=channel,
                oldest=f"{since.timestamp():.6f}",
                limit=HISTORY_LIMIT,
                include_all_metadata=True,
            )
        except Exception as error:
            raise _failed(error) from None
        for message in answer.get("messages") or []:
            meta = message.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            if meta.get("event_type") == EVENT_TYPE and str(payload.get("claim")) == str(claim_id):
                return str(message["ts"])
        return None

    def update_warning(self, warning: DueWarning, ts: str) -> None:
        try:
            with broadcast(), _Channel(warning.channel):
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
            with broadcast(), _Channel(warning.channel):
                answer = self.client.chat_postMessage(
                    channel=warning.channel,
                    thread_ts=warning.previous_ts,
                    reply_broadcast=warning.previous_ts is not None,
                    text=warning_text(warning),
                    blocks=warning_blocks(warning),
                    metadata=metadata(warning),
                )
        except Exception as error:
            raise _failed(error) from None
        return str(answer["ts"])

    def post_served(self, change: ServedChange) -> str:
        """A served-certificate change (a `ServedPublisher` for served.post_changes); its
        metadata carries the claim, so `find_warning` finds it after a lost answer."""
        meta = None
        if change.claim_id is not None:
            payload = {"claim": change.claim_id, "hostname": change.hostname}
            meta = {"event_type": EVENT_TYPE, "event_payload": payload}
        try:
            with _Channel(change.channel):
                answer = self.client.chat_postMessage(
                    channel=change.channel,
                    text=served_text(change),
                    blocks=served_blocks(change),
                    metadata=meta,
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
                metadata=metadata(notice),
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
