"""Work started by a modal submission, raced against Slack's 3 seconds.

A `view_submission` can only show field errors in its ack, and the ack must come within
3 seconds. So the work starts on its own thread; if it finishes within the budget the ack
carries its outcome (errors on the fields, or the updated modal), otherwise the ack turns
the modal into a "working" view and the outcome follows with `views.update`. The thread
runs in a copy of the caller's contextvars (the request id stays in the logs).
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field
from typing import Any, TypeVar

from slack_bolt import Ack
from slack_sdk import WebClient

from handlers.errors import error_blocks
from handlers.request_context import request_id_var

log = logging.getLogger("certops.slack")

T = TypeVar("T")


def start(work: Callable[[], T], budget: float) -> Future[T]:
    """Run `work` on a thread; return its future once done or once `budget` has passed."""
    future: Future[T] = Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(work())
        except BaseException as error:  # handed to whoever reads the future
            future.set_exception(error)

    context = contextvars.copy_context()
    threading.Thread(target=context.run, args=(run,), name="certops-modal", daemon=True).start()
    wait_for([future], timeout=max(budget, 0.0))
    return future


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


def settle(
    ack: Ack,
    client: WebClient,
    view_id: str,
    future: Future[Outcome],
    working_view: dict[str, Any],
) -> Outcome:
    """Ack with the outcome when it is ready, else with `working_view` and update later.

    Work that raised still ends in a view that says so (never a modal left "working").
    """
    if future.done():
        outcome = _outcome_of(future)
        if outcome.errors:
            ack(response_action="errors", errors=outcome.errors)
        else:
            ack(response_action="update", view=outcome.view)
    else:
        ack(response_action="update", view=working_view)
        outcome = _outcome_of(future)
        view = outcome.view if not outcome.errors else outcome.late_view
        if view is not None:
            client.views_update(view_id=view_id, view=view)
    if outcome.after is not None:
        outcome.after()
    return outcome


def _outcome_of(future: Future[Outcome]) -> Outcome:
    try:
        return future.result()
    except Exception as error:
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
