"""The one posting path's markup gate: whatever the bot sends passes `safe_payload`.

The bot speaks to Slack three ways: Web API calls (chat.*, views.*), the response URL
(`respond`) and the ack's body (`ack(text=..., view=...)`). This module wraps all three,
so no message, modal or Home tab can carry an unescaped `<!channel>`, `<!everyone>` or
`<!subteam^...>`, even if its builder forgot `escape` (builders still escape: the gate
cannot tell a hostile `<@U...>` from the bot's own mention). A fix by the gate is logged
with where it was, so the builder gets corrected; the tests require there are none.

Bolt builds a new WebClient for each request from the app's client settings, so the
middleware swaps the request's `client`, `ack` and `respond` for guarded ones before any
listener runs; the scheduler's publishers wrap their client with `guarded`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from slack_bolt import Ack, App, BoltContext, BoltResponse, Respond
from slack_sdk import WebClient
from slack_sdk.web import SlackResponse
from slack_sdk.webhook import WebhookResponse

from handlers.common.blocks.base import safe_payload

log = logging.getLogger("certops.markup")

# Web API methods whose arguments Slack shows to people.
GATED_METHODS = frozenset(
    {
        "chat.postMessage",
        "chat.postEphemeral",
        "chat.update",
        "chat.scheduleMessage",
        "views.open",
        "views.update",
        "views.push",
        "views.publish",
    }
)


def gate(where: str, payload: Any) -> Any:
    """`payload` made safe; a string the gate had to change is logged (not its text)."""
    changed: list[str] = []
    safe = safe_payload(payload, changed)
    if changed:
        log.warning("unescaped Slack markup neutralized in %s at %s", where, ", ".join(changed))
    return safe


class GuardedWebClient(WebClient):
    """A WebClient whose posting methods pass the markup gate."""

    def api_call(
        self, api_method: str, *, json: dict[str, Any] | None = None, **kwargs: Any
    ) -> SlackResponse:
        if api_method in GATED_METHODS:
            if json is not None:
                json = gate(api_method, json)
            for key in ("params", "data"):
                if isinstance(kwargs.get(key), dict):
                    kwargs[key] = gate(api_method, kwargs[key])
        return super().api_call(api_method, json=json, **kwargs)


def guarded(client: WebClient) -> WebClient:
    """`client` itself when it is guarded already, else a guarded one with its settings."""
    if isinstance(client, GuardedWebClient):
        return client
    return GuardedWebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        ssl=client.ssl,
        proxy=client.proxy,
        headers=client.headers,
        logger=client.logger,
        retry_handlers=list(client.retry_handlers),
        team_id=client.default_params.get("team_id"),
    )


class SafeAck(Ack):
    """`ack()` whose text, blocks and view pass the gate. A modal's field `errors` are
    left as they are: Slack shows them as plain text to the person who typed the value."""

    def __call__(  # type: ignore[override]
        self,
        text: str | dict[str, Any] = "",
        blocks: Sequence[Any] | None = None,
        view: Any = None,
        **kwargs: Any,
    ) -> BoltResponse:
        safe = gate("ack", {"text": text, "blocks": _as_dicts(blocks), "view": _as_dict(view)})
        return super().__call__(safe["text"], blocks=safe["blocks"], view=safe["view"], **kwargs)


class SafeRespond(Respond):
    """`respond()` (the response URL) whose text, blocks and attachments pass the gate."""

    def __call__(  # type: ignore[override]
        self,
        text: str | dict[str, Any] = "",
        blocks: Sequence[Any] | None = None,
        attachments: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> WebhookResponse:
        message = {"text": text, "blocks": _as_dicts(blocks), "attachments": _as_dicts(attachments)}
        safe = gate("response_url", message)
        return super().__call__(
            safe["text"], blocks=safe["blocks"], attachments=safe["attachments"], **kwargs
        )


def _as_dict(value: Any) -> Any:
    """A slack_sdk model object (View, Block) as the dict it sends; anything else as is."""
    to_dict = getattr(value, "to_dict", None)
    return to_dict() if callable(to_dict) else value


def _as_dicts(values: Sequence[Any] | None) -> list[Any] | None:
    return None if values is None else [_as_dict(v) for v in values]


def _guard_request(context: BoltContext, next: Callable[[], None]) -> None:
    context["client"] = guarded(context.client)
    context["ack"] = SafeAck()
    context["respond"] = SafeRespond(
        response_url=context.response_url, proxy=context.client.proxy, ssl=context.client.ssl
    )
    next()


def guard_app(app: App) -> None:
    """First of the middleware, so every later step and listener sees the guarded tools."""
    app.middleware(_guard_request)
