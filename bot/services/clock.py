"""Time as a dependency: services ask a clock, so tests can move time instead of sleeping.

A clock is any callable returning an aware UTC datetime.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ManualClock:
    """A clock that stands still until told to move (for tests and simulations)."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.now = start or utc_now()

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


def as_utc(value: dt.datetime) -> dt.datetime:
    """Databases may hand datetimes back naive (SQLite): read them as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


class ShiftedClock:
    """Real time moved by a shift: the console's `/time` clock.

    Unlike ManualClock it keeps running after a move, so what waits on real minutes (an
    assignment's update window, a snooze) still passes while someone types.
    """

    def __init__(self, base: Clock = utc_now) -> None:
        self.base = base
        self.shift = dt.timedelta(0)

    def __call__(self) -> dt.datetime:
        return self.base() + self.shift

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        self.shift += delta
        return self()

    def set(self, when: dt.datetime) -> dt.datetime:
        """Make it `when` now (an aware time; naive is read as UTC)."""
        self.shift = as_utc(when) - self.base()
        return self()

    def reset(self) -> dt.datetime:
        self.shift = dt.timedelta(0)
        return self()


def iso(moment: dt.datetime | None) -> str | None:
    """ISO-8601 in UTC with a Z, as every JSON output of certops writes time."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
