"""A clean stop on SIGTERM: take no new work, finish what is in flight, release claims.

Orchestrators (systemd, Kubernetes, ECS) send SIGTERM and wait a grace period before
SIGKILL. Within `grace_seconds` (CERTOPS_SHUTDOWN_SECONDS, default 20, under Kubernetes'
30) the bot stops listening, lets the requests and listener runs already started finish,
then runs the shutdown callbacks and exits 0.

Shutdown callbacks are how a part of the bot that holds claims in the database (the
expiry notifier's claimed `Notification` rows) gives them back, so that another replica,
or this one after a restart, takes the work over at once instead of waiting for a claim to
go stale. Register one with the app's coordinator:

    from bot.shutdown import shutdown_for

    shutdown_for(app).on_shutdown(scheduler.stop, name="scheduler")  # gives back its claims

Callbacks run once, newest first, after the in-flight work has finished (or the grace
period ran out), each in its own try: one that fails is logged and the others still run.
They must be quick (a DELETE or UPDATE of this replica's unfinished claims).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any, Protocol

log = logging.getLogger(__name__)

DEFAULT_GRACE_SECONDS = 20.0


class InFlight(Protocol):
    """Work this process started and has not finished (the listener executor)."""

    @property
    def pending(self) -> int: ...

    def wait_idle(self, timeout: float) -> bool: ...


@dataclass
class _Callback:
    name: str
    run: Callable[[], Any]


class Shutdown:
    """The stop request of one app, what it waits for, and the callbacks it then runs."""

    def __init__(
        self,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
        work: InFlight | None = None,
        drain_seconds: float = 0.0,
    ) -> None:
        self.grace_seconds = grace_seconds
        # The least time HTTP mode keeps answering (/readyz 503) after the stop begins.
        self.drain_seconds = min(drain_seconds, grace_seconds)
        self.work = work
        self.requested = threading.Event()
        self._callbacks: list[_Callback] = []
        self._lock = threading.Lock()
        self._ran = False
        self._deadline: float | None = None
        self.reason = ""

    # --- registering -------------------------------------------------------------------
    def on_shutdown(
        self, callback: Callable[[], Any], name: str | None = None
    ) -> Callable[[], Any]:
        """Run `callback` at shutdown (returns it, so it can be used as a decorator)."""
        with self._lock:
            label = name or str(getattr(callback, "__name__", "callback"))
            self._callbacks.append(_Callback(label, callback))
        return callback

    # --- asking ------------------------------------------------------------------------
    def request(self, reason: str = "requested") -> None:
        """Ask the serving loop to stop (from a signal handler or another thread)."""
        if not self.requested.is_set():
            self.reason = reason
            self.requested.set()

    @property
    def draining(self) -> bool:
        return self.requested.is_set()

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT request the stop (main thread only, as Python requires)."""

        def handle(signum: int, _frame: FrameType | None) -> None:
            name = signal.Signals(signum).name
            if self.requested.is_set():
                log.info("%s again: already stopping", name)
                return
            log.info("%s received: stopping, no new work taken", name)
            self.request(name)

        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, handle)

    # --- finishing ---------------------------------------------------------------------
    def deadline(self) -> float:
        """The `time.monotonic()` deadline of the stop: `grace_seconds` after the first
        call (the stop's start); later calls return the same, so every step of the stop
        shares one grace period instead of each getting its own."""
        if self._deadline is None:
            self._deadline = time.monotonic() + self.grace_seconds
        return self._deadline

    def remaining(self) -> float:
        """Seconds left of the grace period (all of it when the stop has not begun):
        what a shutdown callback may wait."""
        if self._deadline is None:
            return self.grace_seconds
        return max(0.0, self._deadline - time.monotonic())

    def wait_for_work(self, deadline: float) -> bool:
        """Wait for the listener runs in flight; False if some were still running."""
        if self.work is None:
            return True
        pending = self.work.pending
        if pending:
            log.info("waiting for %d handler run(s) in flight", pending)
        finished = self.work.wait_idle(max(0.0, deadline - time.monotonic()))
        if not finished:
            log.warning(
                "%d handler run(s) still running after %.0f s: stopping anyway",
                self.work.pending,
                self.grace_seconds,
            )
        return finished

    def run_callbacks(self) -> int:
        """Run the registered callbacks once, newest first; returns how many failed."""
        with self._lock:
            if self._ran:
                return 0
            self._ran = True
            callbacks = list(reversed(self._callbacks))
        failed = 0
        for callback in callbacks:
            try:
                callback.run()
                log.info("shutdown: %s done", callback.name)
            except Exception as error:
                failed += 1
                log.error("shutdown: %s failed: %s: %s", callback.name, type(error).__name__, error)
        return failed

    def finish(self, deadline: float | None = None) -> bool:
        """Wait for the work in flight (until `deadline`), then run the callbacks.

        True when everything finished in time and every callback succeeded.
        """
        finished = self.wait_for_work(self.deadline() if deadline is None else deadline)
        return self.run_callbacks() == 0 and finished


_by_app: weakref.WeakKeyDictionary[Any, Shutdown] = weakref.WeakKeyDictionary()


def attach(app: object, shutdown: Shutdown) -> Shutdown:
    """Make `shutdown` the coordinator of `app` (done by `create_app`)."""
    _by_app[app] = shutdown
    return shutdown


def shutdown_for(app: object) -> Shutdown:
    """The shutdown coordinator of `app` (one is made if the app has none yet)."""
    found = _by_app.get(app)
    if found is None:
        found = attach(app, Shutdown())
    return found
