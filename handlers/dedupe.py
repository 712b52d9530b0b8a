"""Remembering which Slack events were already handled, so a retry is processed once.

Slack retries an event it thinks was not acknowledged (immediately, after 1 minute, after
5 minutes), with the same `event_id`. The memory is per process and bounded; with several
replicas a retry may land on another one, which is why the services themselves are
idempotent where it matters (unique names, one notification per threshold).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

DEFAULT_TTL_SECONDS = 15 * 60
DEFAULT_CAPACITY = 10_000


class RecentIds:
    """A thread-safe set of ids that forgets them after `ttl` seconds or beyond `capacity`."""

    def __init__(
        self,
        ttl: float = DEFAULT_TTL_SECONDS,
        capacity: int = DEFAULT_CAPACITY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._capacity = capacity
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, key: str) -> bool:
        """True the first time `key` is seen (and remembers it), False for a repeat."""
        now = self._clock()
        with self._lock:
            self._forget_old(now)
            if key in self._seen:
                return False
            self._seen[key] = now
            while len(self._seen) > self._capacity:
                self._seen.popitem(last=False)
            return True

    def _forget_old(self, now: float) -> None:
        while self._seen:
            key, seen_at = next(iter(self._seen.items()))
            if now - seen_at < self._ttl:
                return
            del self._seen[key]
