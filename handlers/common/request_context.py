"""The id of the Slack request being handled, carried into every log line.

A contextvar rather than a logger adapter so that code far from the handler (services,
the pipeline) logs with the id too. Bolt runs listeners on an executor thread, which does
not inherit contextvars by itself: `ContextExecutor` copies the context at submit time.
"""

from __future__ import annotations

import contextvars
import logging
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def request_id_of(body: Mapping[str, Any]) -> str:
    """Slack's own id for the request when it has one (event id, trigger id), else a new one."""
    for key in ("event_id", "trigger_id"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    return "req-" + uuid.uuid4().hex[:12]


def request_id_for(body: Mapping[str, Any]) -> str:
    """The id already given to this request (set when it was dispatched), else one now.

    A request without a Slack id gets a random one: asking twice must not give two.
    """
    current = request_id_var.get()
    return current if current != "-" else request_id_of(body)


class RequestIdFilter(logging.Filter):
    """Adds `record.request_id` so formatters can print it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class ContextExecutor(ThreadPoolExecutor):
    """A thread pool whose tasks run in a copy of the submitter's contextvars."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        context = contextvars.copy_context()
        return super().submit(context.run, fn, *args, **kwargs)
