"""The offline Slack test harness: the app in HTTP mode on loopback, Slack's side faked.

`SlackHarness` runs the real app (`create_app`) behind waitress and Bolt's WSGI adapter
on a loopback port, with its Web API client pointed at the stand-in (FakeSlackApi, the
same one console mode uses). Helpers send requests exactly as Slack sends them (signed;
form-encoded slash commands with a response URL on the stand-in; JSON event_callback
envelopes; interactive `payload=` forms) and return the Web API calls the bot made.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from slack_bolt import App

from bot.app import create_app
from bot.console.loopback import LoopbackServer
from bot.console.render import message_text
from bot.console.sender import Sent, SlackSender
from bot.console.slack_api import TEAM_ID, Call, FakeSlackApi
from bot.context import create_service_context
from bot.settings import Settings
from bot.shutdown import shutdown_for
from handlers.common.deps import Deps
from handlers.common.request_context import ContextExecutor
from storage.db import Database

ADMIN = "UADMIN001"
USER = "UUSER0001"
OTHER = "UOTHER001"
SIGNING_SECRET = "0123456789abcdef0123456789abcdef"
BOT_TOKEN = "xoxb-test-token"
# Files in a DM within this window form one submission (short: the tests send at once).
UPLOAD_WINDOW = 0.1


@dataclass
class Exchange:
    """One request to the app: its HTTP answer (the ack) and the calls it caused."""

    sent: Sent
    calls: list[Call] = field(default_factory=list)

    @property
    def ack_json(self) -> dict[str, Any]:
        data = self.sent.json()
        return data if isinstance(data, dict) else {}

    @property
    def ack_text(self) -> str:
        data = self.ack_json
        return message_text(data.get("text"), data.get("blocks"))

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    @property
    def responses(self) -> list[Call]:
        return self.of("response_url")

    def texts(self, method: str = "response_url") -> list[str]:
        return [message_text(c.params.get("text"), c.blocks) for c in self.of(method)]

    @property
    def all_text(self) -> str:
        """Everything a person would read: the ack and every message and view."""
        parts = [self.ack_text]
        for call in self.calls:
            if call.method in {"response_url", "chat.postMessage", "chat.postEphemeral"}:
                parts.append(message_text(call.params.get("text"), call.blocks))
            elif call.method.startswith("views."):
                parts.append(message_text(None, call.view.get("blocks")))
        return "\n".join(parts)


class SlackHarness:
    def __init__(
        self,
        api: FakeSlackApi,
        app: App,
        server: LoopbackServer,
        settings: Settings,
        executor: ContextExecutor,
        deps: Deps,
    ) -> None:
        self.api = api
        self.app = app
        self.server = server
        self.settings = settings
        self.executor = executor
        self.deps = deps
        self.sender = SlackSender(server.url, SIGNING_SECRET)

    def settle(self) -> None:
        """Wait for the listener runs and the work pool (timers, checks) alike."""
        work = shutdown_for(self.app).work
        assert work is not None and work.wait_idle(timeout=30), "the app did not finish its work"

    def _exchange(self, send: Any) -> Exchange:
        since = self.api.mark()
        sent = send()
        self.settle()
        return Exchange(sent, self.api.calls(since=since))

    def command(self, text: str, user: str = USER, **extra: Any) -> Exchange:
        """`/cert TEXT` from `user`, as Slack sends it; waits until the work is done."""
        return self._exchange(
            lambda: self.sender.command(
                text, user_id=user, response_url=self.api.response_url(), **extra
            )
        )

    def event(
        self, event: dict[str, Any], *, event_id: str | None = None, retry_num: int | None = None
    ) -> Exchange:
        return self._exchange(
            lambda: self.sender.event(event, event_id=event_id, retry_num=retry_num)
        )

    def dm(self, text: str, user: str = USER, **extra: Any) -> Exchange:
        event = {
            "type": "message",
            "channel_type": "im",
            "channel": "D" + user[1:],
            "user": user,
            "text": text,
            "ts": "1700000000.000100",
            **extra,
        }
        return self.event(event)

    def open_home(self, user: str = USER) -> Exchange:
        return self.event(
            {"type": "app_home_opened", "user": user, "tab": "home", "channel": "D" + user[1:]}
        )

    def click(
        self, action_id: str, user: str = USER, *, value: str = "", in_message: bool = True
    ) -> Exchange:
        """A button click, in a message (with a response URL) or on the Home tab."""
        if in_message:
            return self._exchange(
                lambda: self.sender.button(
                    action_id,
                    user_id=user,
                    value=value,
                    response_url=self.api.response_url(),
                    channel_id="C0TEST",
                )
            )
        view = {"id": "V0HOME", "type": "home", "blocks": []}
        return self._exchange(
            lambda: self.sender.button(action_id, user_id=user, value=value, view=view)
        )

    def click_in_channel(
        self, action_id: str, user: str, *, value: str, channel: str, ts: str
    ) -> Exchange:
        """A click on a button of the channel message `ts` (a post of the bot's)."""
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
            "actions": [
                {"type": "button", "action_id": action_id, "block_id": "b", "value": value}
            ],
            "response_url": self.api.response_url(),
            "channel": {"id": channel},
            "container": {"type": "message", "message_ts": ts, "channel_id": channel},
            "message": {"ts": ts},
        }
        return self._exchange(lambda: self.sender.interaction(payload))

    def click_button_in(self, call: Call, action_id: str, user: str = USER) -> Exchange:
        """Click the button `action_id` found in a message the bot sent (its value included)."""
        for block in call.blocks:
            for element in block.get("elements", []) if block.get("type") == "actions" else []:
                if element.get("action_id") == action_id:
                    return self.click(action_id, user, value=element.get("value", ""))
        raise AssertionError(f"no button {action_id} in {json.dumps(call.blocks)[:300]}")


def harness_settings(database_url: str, **overrides: Any) -> Settings:
    base = Settings(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        database_url=database_url,
        admins=(ADMIN,),
        upload_window_seconds=UPLOAD_WINDOW,
    )
    return dataclasses.replace(base, **overrides)


@contextmanager
def slack_harness(
    database_url: str,
    *,
    nameservers: list[tuple[str, int]] | None = None,
    dns_timeout: float = 3.0,
    extra_roots: Sequence[x509.Certificate] = (),
    **settings_overrides: Any,
) -> Iterator[SlackHarness]:
    with ExitStack() as stack:
        api = stack.enter_context(FakeSlackApi(bot_token=BOT_TOKEN))
        settings = harness_settings(database_url, slack_api_url=api.api_url, **settings_overrides)
        database = Database(settings.effective_database_url)
        stack.callback(database.dispose)
        # Built as the bot builds it (CERTOPS_TRUST_STORE's roots included), then the
        # test's own knobs: `extra_roots` add to the setting's, as --trust-store does.
        base = create_service_context(settings, database)
        services = dataclasses.replace(
            base,
            dns_timeout=dns_timeout,
            extra_roots=(*base.extra_roots, *extra_roots),
            default_nameservers=nameservers,
        )
        deps = Deps(settings=settings, services=services)
        executor = ContextExecutor(max_workers=16, thread_name_prefix="certops-listener")
        stack.callback(executor.shutdown, wait=True)
        app = create_app(settings, deps=deps, listener_executor=executor)
        stack.callback(deps.work.shutdown)
        if deps.isolated is not None:
            stack.callback(deps.isolated.close)
        server = stack.enter_context(LoopbackServer(app))
        yield SlackHarness(api, app, server, settings, executor, deps)
