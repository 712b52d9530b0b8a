"""Calls that must answer within a deadline, on a few daemon threads of their own.

A blocking call into something that may hang (a frozen database, a slow Slack) cannot be
interrupted from Python: psycopg waits on its socket, urllib on its read, for as long as
the other side keeps the connection open. So the call runs on a thread of its own and the
caller waits at most `seconds`; past that the caller goes on without the answer (`Late`)
and the thread finishes, or hangs, alone.

- Daemon threads: a hung one never keeps the process from exiting.
- At most `limit` calls in flight per `Bounded`: a dependency that hangs costs a bounded
  number of threads (and pooled connections). Once they are all stuck, a further call is
  `Late` at once instead of queueing behind them, so the caller's wait stays bounded too.
- The thread runs in a copy of the caller's contextvars (the request id stays in the logs).
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

T = TypeVar("T")


class Late(Exception):
    """No answer within the deadline, or every thread of the `Bounded` is still busy."""


class Bounded:
    """Runs calls on daemon threads, at most `limit` at a time, each awaited for a deadline."""

    def __init__(self, name: str, limit: int) -> None:
        self.name = name
        self.limit = limit
        self._lock = threading.Lock()
        self._busy = 0

    def submit(self, work: Callable[[], T]) -> Future[T]:
        """Start `work` now on a thread of its own; `Late` when `limit` calls are in flight."""
        with self._lock:
            if self._busy >= self.limit:
                raise Late(f"{self.limit} earlier {self.name} calls have not answered yet")
            self._busy += 1
        future: Future[T] = Future()
        future.set_running_or_notify_cancel()

        def run() -> None:
            try:
                future.set_result(work())
            except BaseException as error:  # handed to whoever reads the future
                future.set_exception(error)
            finally:
                self._release()

        context = contextvars.copy_context()
        thread = threading.Thread(target=context.run, args=(run,), name=self.name, daemon=True)
        try:
            thread.start()
        except RuntimeError:  # no thread could be started (the process is at its limit)
            self._release()
            raise Late(f"no thread for a {self.name} call") from None
        return future

    def call(self, work: Callable[[], T], seconds: float) -> T:
        """`work()`'s answer if it comes within `seconds`; else `Late` (the work goes on)."""
        future = self.submit(work)
        try:
            return future.result(timeout=max(seconds, 0.0))
        except FutureTimeout:
            raise Late(f"no answer within {seconds * 1000:.0f} ms") from None

    def in_flight(self) -> int:
        """How many calls have not returned yet (for tests and diagnostics)."""
        with self._lock:
            return self._busy

    def _release(self) -> None:
        with self._lock:
            self._busy -= 1
