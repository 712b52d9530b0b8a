"""Sending requests to the app exactly as Slack does: signed, form-encoded or JSON.

Slack signs `v0:{timestamp}:{body}` with the signing secret (HMAC-SHA256) and sends
slash commands and interactions form-encoded, events as JSON. The console and the tests
use this class so that they exercise the same verification path as Slack's requests.
"""

from __future__ import annotations

import itertools
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from bot.console.slack_api import TEAM_ID

EVENTS_PATH = "/slack/events"


@dataclass(frozen=True)
class Sent:
    """What the app answered: the HTTP status and body, and when the answer arrived."""

    status: int
    body: str
    elapsed: float

    def json(self) -> Any:
        """The body as JSON; a plain-text ack (Bolt's `ack(text)`) as {"text": ...}."""
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return {"text": self.body}


def file_share_event(
    files: list[dict[str, Any]], user: str, text: str = "", ts: str | None = None
) -> dict[str, Any]:
    """The `message` event of files dropped in the DM with the bot, as Slack sends it:
    subtype `file_share`, the files as hosted (`FakeSlackApi.add_file`), a fresh `ts`."""
    return {
        "type": "message",
        "subtype": "file_share",
        "channel_type": "im",
        "channel": "D" + user[1:],
        "user": user,
        "text": text,
        "files": files,
        "upload": False,
        "display_as_bot": False,
        "ts": ts or f"{time.time():.6f}",
    }


class SlackSender:
    def __init__(
        self,
        app_url: str,
        signing_secret: str,
        *,
        clock: Callable[[], float] = time.time,
        timeout: float = 30.0,
    ) -> None:
        self.url = (
            app_url.rstrip("/") + EVENTS_PATH if not app_url.endswith(EVENTS_PATH) else app_url
        )
        self.signing_secret = signing_secret
        self.clock = clock
        self.timeout = timeout
        self._ids = itertools.count(1)

    def signed_headers(self, body: str, *, timestamp: int | None = None) -> dict[str, str]:
        ts = str(int(self.clock()) if timestamp is None else timestamp)
        signature = SignatureVerifier(self.signing_secret).generate_signature(
            timestamp=ts, body=body
        )
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature or ""}

    def post(
        self,
        body: str,
        content_type: str,
        *,
        headers: dict[str, str] | None = None,
        timestamp: int | None = None,
        signature: str | None = None,
    ) -> Sent:
        """POST a body; sign it unless `signature` is given (to forge one)."""
        all_headers = {
            "Content-Type": content_type,
            **self.signed_headers(body, timestamp=timestamp),
        }
        if signature is not None:
            all_headers["X-Slack-Signature"] = signature
        all_headers.update(headers or {})
        request = urllib.request.Request(
            self.url, data=body.encode("utf-8"), headers=all_headers, method="POST"
        )
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                text = answer.read().decode("utf-8")
                return Sent(answer.status, text, time.perf_counter() - started)
        except urllib.error.HTTPError as error:
            text = error.read().decode("utf-8", "replace")
            return Sent(error.code, text, time.perf_counter() - started)

    # --- the three kinds of request ------------------------------------------------------
    def command_body(
        self,
        text: str,
        *,
        user_id: str,
        response_url: str,
        channel_id: str = "C0CONSOLE",
        command: str = "/cert",
        user_name: str | None = None,
    ) -> str:
        return urlencode(
            {
                "token": "unused-verification-token",
                "team_id": TEAM_ID,
                "team_domain": "console",
                "channel_id": channel_id,
                "channel_name": "console",
                "user_id": user_id,
                "user_name": user_name or user_id.lower(),
                "command": command,
                "text": text,
                "api_app_id": "A0CERTOPS",
                "is_enterprise_install": "false",
                "response_url": response_url,
                "trigger_id": f"{next(self._ids)}.{uuid.uuid4().hex[:12]}",
            }
        )

    def command(self, text: str, *, user_id: str, response_url: str, **extra: Any) -> Sent:
        body = self.command_body(text, user_id=user_id, response_url=response_url, **extra)
        return self.post(body, "application/x-www-form-urlencoded")

    def event(
        self, event: dict[str, Any], *, event_id: str | None = None, retry_num: int | None = None
    ) -> Sent:
        envelope = {
            "token": "unused-verification-token",
            "team_id": TEAM_ID,
            "api_app_id": "A0CERTOPS",
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(self.clock()),
            "authorizations": [{"team_id": TEAM_ID, "user_id": "U0CERTOPS", "is_bot": True}],
        }
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        return self.post(json.dumps(envelope), "application/json", headers=headers)

    def interaction(self, payload: dict[str, Any]) -> Sent:
        payload = {
            "team": {"id": TEAM_ID, "domain": "console"},
            "api_app_id": "A0CERTOPS",
            **payload,
        }
        payload.setdefault("trigger_id", f"{next(self._ids)}.{uuid.uuid4().hex[:12]}")
        body = urlencode({"payload": json.dumps(payload)})
        return self.post(body, "application/x-www-form-urlencoded")

    def button(
        self,
        action_id: str,
        *,
        user_id: str,
        value: str = "",
        response_url: str | None = None,
        view: dict[str, Any] | None = None,
        channel_id: str | None = None,
        message_ts: str | None = None,
    ) -> Sent:
        """A click on a button, in a message (response_url) or on the Home tab (view).
        With `message_ts`, the message's place comes as Slack sends it (`container`,
        `message`): a listener that answers in the message's thread reads it there."""
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user_id, "username": user_id.lower(), "team_id": TEAM_ID},
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": "b",
                    "value": value,
                    "action_ts": f"{self.clock():.6f}",
                }
            ],
        }
        if response_url:
            payload["response_url"] = response_url
        if view is not None:
            payload["view"] = view
            payload["container"] = {"type": "view", "view_id": view.get("id", "V0")}
        if channel_id is not None:
            payload["channel"] = {"id": channel_id}
        if channel_id is not None and message_ts is not None:
            payload["container"] = {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel_id,
                "is_ephemeral": False,
            }
            payload["message"] = {"type": "message", "ts": message_ts}
        return self.interaction(payload)
