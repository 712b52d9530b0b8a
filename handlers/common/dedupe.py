"""Remembering which Slack deliveries were already handled, so a retry is processed once.

Slack retries an event it thinks was not acknowledged (immediately, after 1 minute, after
5 minutes), with the same `event_id`, and the retry may reach another replica. The
decision is the database's (`bot.services.deliveries`: a unique row per event id or file
id, shared by every replica); `RecentIds`, per process and bounded, answers a repeat seen
by this process without a database round trip, and stands in when the database is down
or does not answer within `deliveries.CLAIM_SECONDS` (the claim runs before the ack; a
retry that reaches another replica then may be answered twice, and the log says so).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from bot.services import deliveries
from bot.services.context import ServiceContext
from bot.services.errors import DatabaseDown

log = logging.getLogger("certops.slack")

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


def first_delivery(recent: RecentIds, services: ServiceContext, kind: str, ident: str) -> bool:
    """True if this delivery (`kind` "event" or "file", `ident` its id) is the first one
    of all the replicas: this process's memory first, then the shared database."""
    key = deliveries.delivery_key(kind, ident)
    if not recent.first_time(key):
        return False
    try:
        return deliveries.claim_within(services, key, kind)
    except DatabaseDown as error:
        log.warning(
            "deduplicating %s %s in this process only (the database is down): %s",
            kind,
            ident,
            error,
        )
        return True
