"""Who has opened the App Home, so a change to the record reaches every open Home tab.

Slack has no "who is looking" query: the bot learns it from `app_home_opened`. The list is
per process and bounded (least recently opened dropped first); a replica that never saw a
person open the Home simply does not republish theirs, and the next open rebuilds it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from bot.services.actors import Actor

MAX_VIEWERS = 500


class HomeViewers:
    def __init__(self, limit: int = MAX_VIEWERS) -> None:
        self._limit = limit
        self._viewers: OrderedDict[str, Actor] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, actor: Actor) -> None:
        with self._lock:
            self._viewers.pop(actor.user_id, None)
            self._viewers[actor.user_id] = actor
            while len(self._viewers) > self._limit:
                self._viewers.popitem(last=False)

    def discard(self, user_id: str) -> None:
        with self._lock:
            self._viewers.pop(user_id, None)

    def others(self, user_id: str) -> list[Actor]:
        """Every known viewer but `user_id`, most recent first."""
        with self._lock:
            return [a for uid, a in reversed(self._viewers.items()) if uid != user_id]
