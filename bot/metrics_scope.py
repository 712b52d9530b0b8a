"""Which app's metrics count this thread's work: the part of `bot.metrics` services call.

`record_validation` runs on every submission, also in `certops cert submit`, where no
app is bound and nothing is counted: importing `prometheus_client` there only to find that
out cost the command about 20 ms (issue 16). The context variable and the calls that read
it live here, free of Prometheus; `bot.metrics` binds it and re-exports these names.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.metrics import Metrics

_current: contextvars.ContextVar[Metrics | None] = contextvars.ContextVar(
    "certops_metrics", default=None
)


def current() -> Metrics | None:
    """The metrics bound to this context (a Slack request, a bound block), if any."""
    return _current.get()


def record_validation(verdict: str) -> None:
    """Count one validation; a no-op outside an app (the CLI, a test of the services)."""
    metrics = _current.get()
    if metrics is not None:
        metrics.validations.labels(verdict=verdict).inc()
