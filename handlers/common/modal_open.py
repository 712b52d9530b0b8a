"""Opening a modal by `trigger_id`: one try, bounded in time, and words when it fails.

Slack waits 3 s for the ack, and a `trigger_id` opens a modal only within 3 s of the
command or click. `/cert validate` and `/cert assign` open their form before they ack
(so that the ack can say why there is no form), so `views.open` must never hold the
ack: it gets one try on a client of its own, built once by the composition root
(`modal_client`): no retry handlers (the app's shared client may carry slack-sdk's
RateLimitErrorRetryHandler, which sleeps out a 429's Retry-After; and a retry after the
trigger's 3 s cannot succeed anyway), a short socket timeout, and a total deadline of
`OPEN_SECONDS` for the whole opening (the assign form reads its records first).

When Slack refuses (429, an expired trigger) or is slow, the ack says so in one line and
the rest (how to go on) follows once the ack is sent: through the response URL for a
command, in the DM for a click.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.handler import RetryHandler

from bot.services.deadlines import Bounded, Late
from bot.services.errors import ServiceError
from handlers.common.blocks.base import escape
from handlers.common.markup_gate import GuardedWebClient

log = logging.getLogger("certops.slack")

# Of Slack's 3 s: the rest is for parsing, the ack's way back, and a loaded machine.
OPEN_SECONDS = 1.5
# Openings still waiting on a Slack that does not answer; past this, "not opened" at once.
OPENS_IN_FLIGHT = 8

NOT_OPENED = ":warning: Slack did not open the form ({reason})."
SLOW = ":hourglass_flowing_sand: Slack is slow to open the form: it may still appear."
IF_NOT_SHOWN = "If no form appeared: {rest}"
NOT_TRIED = "Slack is not answering"

# Opens a modal with the client it is given; None once opened, or the text to answer with
# instead (nothing to assign yet, not an admin).
Opener = Callable[[WebClient], "str | None"]
Tell = Callable[[str], None]


def modal_client(
    client: WebClient, seconds: float = OPEN_SECONDS, observers: Sequence[RetryHandler] = ()
) -> WebClient:
    """A client for `views.open`: `client`'s token and URL, one try, a short timeout.

    `observers` are retry handlers that never retry (the metrics' error counter).
    """
    return GuardedWebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=max(1, math.ceil(seconds)),  # per socket operation; the deadline is total
        retry_handlers=list(observers),
    )


@dataclass(frozen=True)
class Opening:
    """How an opening went: `opened`; `answered` (`text` instead of a form); `refused`
    (`text` is why, Slack's error code: no form); `unsure` (no answer in time: the form
    may still appear; `future` is the opening still going, if it is)."""

    state: str
    text: str = ""
    future: Future[str | None] | None = None

    def ack_text(self) -> str | None:
        """The one line the ack carries; None when the form opened."""
        if self.state == "answered":
            return self.text
        if self.state == "refused":
            return NOT_OPENED.format(reason=self.text)
        if self.state == "unsure":
            return SLOW
        return None

    def follow_up(self, tell: Tell, rest: str) -> None:
        """After the ack: the rest of a refusal now; for an unsure opening, once known."""
        if self.state == "refused":
            _quietly(tell, rest)
        elif self.state == "unsure" and self.future is not None and not self.future.done():
            self.future.add_done_callback(lambda done: _after_unsure(done, tell, rest))
        elif self.state == "unsure":
            _quietly(tell, IF_NOT_SHOWN.format(rest=rest))

    def tell_all(self, tell: Tell, rest: str) -> None:
        """For a click already acknowledged: the ack's line and the rest, in one message."""
        if self.state == "refused":
            _quietly(tell, f"{self.ack_text()}\n{rest}")
        elif self.state == "answered":
            _quietly(tell, self.text)
        elif self.state == "unsure":
            tell_after = self.future is not None and not self.future.done()
            if tell_after:
                self.follow_up(tell, rest)
            else:
                _quietly(tell, f"{SLOW}\n{IF_NOT_SHOWN.format(rest=rest)}")


class ModalOpener:
    """Runs openers with the modal client under the total deadline (`OPEN_SECONDS`)."""

    def __init__(
        self, client: WebClient, seconds: float = OPEN_SECONDS, limit: int = OPENS_IN_FLIGHT
    ) -> None:
        self.client = client
        self.seconds = seconds
        self._runs = Bounded("certops-views-open", limit)

    def open(self, opener: Opener) -> Opening:
        client = self.client
        try:
            future = self._runs.submit(lambda: opener(client))
        except Late as late:
            log.warning("views.open not tried: %s", late)
            return Opening("refused", NOT_TRIED)
        try:
            future.result(timeout=self.seconds)
        except FutureTimeout:
            log.warning("views.open: no answer within %.1f s", self.seconds)
            return Opening("unsure", future=future)
        except Exception:
            pass  # read below, where every outcome is sorted
        return _sorted(future)


def _sorted(future: Future[str | None]) -> Opening:
    """The outcome of a finished opening. A bug (not Slack, not a refusal) is raised."""
    error = future.exception()
    if error is None:
        hint = future.result()
        return Opening("answered", hint) if hint else Opening("opened")
    if isinstance(error, ServiceError):  # the form's records could not be read
        return Opening("answered", f":warning: {escape(error.message)}")
    if isinstance(error, SlackApiError):
        code = str(error.response.get("error") or "refused") if error.response else "refused"
        log.warning("views.open refused: %s", code)
        return Opening("refused", code)
    if isinstance(error, OSError):  # socket timeout, connection refused or reset
        log.warning("views.open got no answer: %s", type(error).__name__)
        return Opening("unsure")
    raise error


def _after_unsure(future: Future[str | None], tell: Tell, rest: str) -> None:
    """Once an opening that missed the deadline ends: say what the ack could not."""
    try:
        opening = _sorted(future)
    except Exception as error:
        log.error("opening a form failed: %s", type(error).__name__, exc_info=error)
        opening = Opening("refused", "an error on our side")
    if opening.state == "answered":
        _quietly(tell, opening.text)
    elif opening.state == "refused":
        _quietly(tell, f"{opening.ack_text()}\n{rest}")
    elif opening.state == "unsure":
        _quietly(tell, IF_NOT_SHOWN.format(rest=rest))


def _quietly(tell: Tell, text: str) -> None:
    """Tell, and log (never raise) when Slack will not take even that."""
    try:
        tell(text)
    except Exception as error:
        log.warning("could not say why the form did not open: %s", type(error).__name__)
