"""Slow work after the ack, on the app's work pool: never on the threads acks need.

Bolt runs listeners on one executor; a listener that stays for a DNS check, a download
or the check of a file keeps a thread that another person's `/cert help` may need for its
ack. Such work goes to `deps.work` (bot/work_pool.py): bounded, taken round-robin per
person. A failure there is answered as the error handler answers a listener's (the
person hears about it, the log has the details).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt.context.respond import Respond
from slack_sdk import WebClient

from handlers.common.deps import Deps
from handlers.common.errors import handle_error


def after_ack(
    deps: Deps,
    user: str,
    work: Callable[[], Any],
    *,
    body: dict[str, Any],
    client: WebClient,
    respond: Respond | None = None,
) -> None:
    """Queue `work` for `user` on the work pool; the listener returns at once."""

    def guarded() -> None:
        try:
            work()
        except Exception as error:  # told to the person, logged with the request id
            handle_error(error, body, respond, client, None)

    deps.work.start(user, guarded, "work after the ack")


def still_checking_text(limit: int) -> str:
    """The answer to one submission too many (the per-person cap), given at once."""
    plural = "submission" if limit == 1 else "submissions"
    return (
        f":hourglass: I am still checking your earlier files ({limit} {plural} at a time): "
        "I did not read these. Send them again once I have answered."
    )
