"""Waiting out Slack's 429 without holding up a stop.

slack-sdk's RateLimitErrorRetryHandler sleeps the `Retry-After` with `time.sleep`: a
SIGTERM during that sleep waited it out (12 s of Retry-After made a 3 s grace period
last 20 s), and the warning's claim was kept, so the warning was never posted. This
handler waits on the process's stop event instead: once it is set, no wait begins and a
wait under way ends at once, the 429 answer is returned, the post fails (it was not sent,
Slack refused it) and the scan gives its claim back for another process to post.
"""

from __future__ import annotations

import random
import threading

from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

# Slack sends Retry-After in whole seconds; without one, about a second as slack-sdk does.
DEFAULT_WAIT_SECONDS = 1.0


def retry_after(response: HttpResponse) -> float:
    """Seconds Slack asked to wait (its `Retry-After`), plus a little jitter."""
    for name, values in response.headers.items():
        if name.lower() == "retry-after" and values:
            try:
                return max(0.0, float(values[0])) + random.random()
            except ValueError:
                break
    return DEFAULT_WAIT_SECONDS + random.random()


class StoppableRateLimitHandler(RateLimitErrorRetryHandler):
    """Retries a 429 after its Retry-After, unless `stopping` is set first."""

    def __init__(self, stopping: threading.Event, max_retry_count: int = 1) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.stopping = stopping

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if self.stopping.is_set():
            return False  # stopping: the 429 is the answer, the claim goes back
        return super()._can_retry(state=state, request=request, response=response, error=error)

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if response is None:  # not a 429 (the base class raises here too)
            raise error if error is not None else RuntimeError("no response to retry")
        if self.stopping.wait(retry_after(response)):
            return  # stopped while waiting: no next attempt, the 429 is returned
        state.next_attempt_requested = True
        state.increment_current_attempt()
