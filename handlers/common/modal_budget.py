"""Work started by a modal submission, raced against Slack's 3 seconds.

A `view_submission` can only show field errors in its ack, and the ack must come within
3 seconds. So the work goes to the app's work pool (fair per person, never a listener
thread) and a timer is set for the budget; whichever comes first answers the ack: the
work's outcome (errors on the fields, or the updated modal), or, when the budget runs
out, a "working" view, and the outcome follows with `views.update`. No thread waits:
the listener returns at once (Bolt sends the ack whenever `ack()` is called, from any
thread). The work runs in a copy of the caller's contextvars (the request id stays in
the logs).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient

from bot.work_pool import Quota, WorkPool
from handlers.common.background import still_checking_text
from handlers.common.errors import best_effort, error_blocks
from handlers.common.request_context import request_id_var

log = logging.getLogger("certops.slack")


@dataclass
class Outcome:
    """What a submission ends in: errors on fields, or a new view; then optional follow-up.

    `errors` map an input block id to its message (Slack shows it under the field); they
    can only be shown in the ack, so after the budget they are turned into `late_view`.
    """

    view: dict[str, Any] | None = None
    errors: dict[str, str] = field(default_factory=dict)
    after: Callable[[], None] | None = None
    late_view: dict[str, Any] | None = None


def race(
    ack: Ack,
    client: WebClient,
    view_id: str,
    work: Callable[[], Outcome],
    working_view: dict[str, Any],
    *,
    pool: WorkPool,
    key: str,
    budget: float,
    quota: Quota | None = None,
) -> None:
    """Run `work` on `pool` for `key`; ack with its outcome if it is ready within `budget`,
    else with `working_view` and update the modal when it is.

    Work that raised still ends in a view that says so (never a modal left "working").
    With a `quota`, a person already at it is answered at once and nothing runs.
    """
    if quota is not None and not quota.take(key):
        ack(response_action="update", view=busy_view(quota.limit))
        return
    answered = threading.Lock()  # held by whoever answers the ack: the work or the timer

    def budget_over() -> None:
        if answered.acquire(blocking=False):
            ack(response_action="update", view=working_view)

    timer = pool.call_later(max(budget, 0.0), budget_over)

    def answer(outcome: Outcome) -> None:
        if answered.acquire(blocking=False):
            timer.cancel()
            if outcome.errors:
                ack(response_action="errors", errors=outcome.errors)
            else:
                ack(response_action="update", view=outcome.view)
        else:
            view = outcome.view if not outcome.errors else outcome.late_view
            if view is not None:
                client.views_update(view_id=view_id, view=view)
        if outcome.after is not None:  # the change is made and shown: what follows may fail
            best_effort("the follow-up of a form", outcome.after)

    def run() -> None:
        """The work, then the answer: one item on the pool, in the request's context."""
        try:
            try:
                outcome = work()
            except Exception as error:
                outcome = _failed(error)
            answer(outcome)
        finally:
            if quota is not None:
                quota.give(key)

    pool.start(key, run, "answering a modal")


def busy_view(limit: int) -> dict[str, Any]:
    """The answer to one submission too many (the per-person cap), given in the ack."""
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Still checking"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": still_checking_text(limit)}}
        ],
    }


def _failed(error: Exception) -> Outcome:
    """Work that raised: logged, and a view that says so (never a modal left working)."""
    log.error("modal work failed: %s", type(error).__name__, exc_info=error)
    blocks = error_blocks("handling your form", request_id_var.get())
    return Outcome(
        view={
            "type": "modal",
            "title": {"type": "plain_text", "text": "Something went wrong"},
            "close": {"type": "plain_text", "text": "Close"},
            "blocks": blocks,
        }
    )
