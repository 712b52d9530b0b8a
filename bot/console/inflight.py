"""A listener executor that knows when the app has finished all work it started.

After Slack's request is acknowledged the listener goes on in this pool; the console
waits for it before showing the prompt again, and tests wait for it instead of sleeping.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from handlers.common.request_context import ContextExecutor

T = TypeVar("T")


class TrackingExecutor(ContextExecutor):
    def __init__(self, max_workers: int = 16) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix="certops-listener")
        self._pending = 0
        self._idle = threading.Condition()

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        with self._idle:
            self._pending += 1
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._done)
        return future

    def _done(self, _future: Future[Any]) -> None:
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    @property
    def pending(self) -> int:
        with self._idle:
            return self._pending

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no listener runs; False if that did not happen within `timeout`."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout)
