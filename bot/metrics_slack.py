"""The Slack side of the metrics: Web API errors, request latency and the request id.

Kept apart from `bot.metrics` so that the services, which count validations there, never
import Slack.

- Slack API errors: `SlackApiObserver`, a slack-sdk `RetryHandler` that never retries but
  sees every answer; Bolt copies `retry_handlers` into the client it makes per request,
  so one observer on `app.client` sees every call the listeners make.
- `instrument(app, metrics)` wraps `app.dispatch`, which both Bolt's HTTP adapter and its
  Socket Mode handler call for every request: the request id of the logs is set before
  Bolt writes its own lines, the ack latency is timed, and the listener runs submitted
  during the dispatch inherit the metrics and the kind of request.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest as RetryHttpRequest
from slack_sdk.http_retry.response import HttpResponse as RetryHttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.metrics import Metrics, attach, request_scope
from handlers.common.request_context import request_id_of, request_id_var


def _method_of(url: str) -> str:
    return url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or "unknown"


def _json(data: bytes | None) -> dict[str, Any]:
    try:
        parsed = json.loads(data or b"{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


class SlackApiObserver(RetryHandler):
    """Counts failed Web API answers; never asks for a retry (the handlers after it may)."""

    def __init__(self, metrics: Metrics) -> None:
        super().__init__(max_retry_count=0)
        self.metrics = metrics

    def can_retry(
        self,
        *,
        state: RetryState,
        request: RetryHttpRequest,
        response: RetryHttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        method = _method_of(request.url)
        if error is not None and response is None:
            self._count(method, type(error).__name__)
        elif response is not None:
            body = response.body if isinstance(response.body, dict) else _json(response.data)
            if response.status_code >= 400:
                self._count(method, str(body.get("error") or f"http_{response.status_code}"))
            elif body.get("ok") is False:
                self._count(method, str(body.get("error") or "unknown"))
        return False

    def _count(self, method: str, error: str) -> None:
        self.metrics.slack_api_errors.labels(method=method, error=error[:64]).inc()


def request_kind(body: Mapping[str, Any]) -> str:
    """A low-cardinality name for a Slack request: command, event type, interaction type."""
    if "command" in body:
        return "command"
    if body.get("type") == "event_callback":
        event = body.get("event")
        event_type = event.get("type") if isinstance(event, Mapping) else None
        return f"event:{event_type}" if isinstance(event_type, str) else "event"
    kind = body.get("type")
    if kind in {"block_actions", "view_submission", "view_closed", "shortcut", "message_action"}:
        return str(kind)
    if kind in {"url_verification", "block_suggestion"}:
        return str(kind)
    return "other"


def instrument(app: App, metrics: Metrics) -> None:
    """Hook the metrics (and the request id of the logs) into a built Bolt app.

    `dispatch` is what both Bolt's HTTP adapter and its Socket Mode handler call for every
    request, so wrapping it covers both modes, and sets the request id before Bolt's own
    log lines (signature checks, unhandled requests) are written.
    """
    attach(app, metrics)
    handlers = app.client.retry_handlers
    if not any(isinstance(h, SlackApiObserver) for h in handlers):
        handlers.insert(0, SlackApiObserver(metrics))
    dispatch = app.dispatch

    def metered_dispatch(req: BoltRequest) -> BoltResponse:
        body = req.body if isinstance(req.body, Mapping) else {}
        kind = request_kind(body)
        token = request_id_var.set(request_id_of(body))
        started = time.perf_counter()
        try:
            with request_scope(metrics, kind):
                return dispatch(req)
        finally:
            metrics.slack_requests.labels(kind=kind).observe(time.perf_counter() - started)
            request_id_var.reset(token)

    app.dispatch = metered_dispatch  # type: ignore[method-assign]
