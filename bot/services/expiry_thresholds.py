"""Warning thresholds: when, before a certificate expires, a warning is due.

A threshold is a number of days before expiry (`30`), a share of the certificate's
lifetime (`33%`: when a third of it is left; lifetimes are shrinking toward 47 days, so
fixed days alone would warn a short-lived certificate at once), or `expired`. Each has a
stable key (`30d`, `33%`, `expired`) stored in the notification claims, so the key and
not the position in a list decides what was already posted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

EXPIRED = "expired"
# Share thresholds of certificates living longer than this count as if they lived this
# long (the old public maximum): it bounds how far ahead the scan must look.
MAX_SHARE_LIFETIME = dt.timedelta(days=825)


@dataclass(frozen=True)
class Threshold:
    key: str
    days: int | None = None
    share: float | None = None  # percent of the lifetime

    @property
    def is_expired(self) -> bool:
        return self.key == EXPIRED

    def lead(self, not_before: dt.datetime | None, not_after: dt.datetime) -> dt.timedelta:
        """How long before `not_after` this threshold is crossed (0 for expired)."""
        if self.days is not None:
            return dt.timedelta(days=self.days)
        if self.share is not None:
            lifetime = not_after - not_before if not_before else MAX_SHARE_LIFETIME
            lifetime = max(dt.timedelta(0), min(lifetime, MAX_SHARE_LIFETIME))
            return lifetime * (self.share / 100.0)
        return dt.timedelta(0)

    def label(self) -> str:
        if self.is_expired:
            return "expired"
        if self.days is not None:
            return f"{self.days} day{'s' if self.days != 1 else ''} left"
        return f"{self.share:g}% of its lifetime left"


EXPIRED_THRESHOLD = Threshold(EXPIRED)


def days_threshold(days: int) -> Threshold:
    return EXPIRED_THRESHOLD if days <= 0 else Threshold(f"{days}d", days=days)


def share_threshold(percent: float) -> Threshold:
    return Threshold(f"{percent:g}%", share=percent)


def parse_thresholds(text: str) -> tuple[Threshold, ...]:
    """`"30,14,7,3,1,0"` or `"33%, 10%, 3"` -> thresholds; ValueError with a readable reason.

    `expired` is always among them: an expired certificate is always worth one loud message.
    """
    found: list[Threshold] = []
    for raw in text.replace(";", ",").split(","):
        part = raw.strip().lower()
        if not part:
            continue
        if part == EXPIRED:
            found.append(EXPIRED_THRESHOLD)
        elif part.endswith("%"):
            try:
                value = float(part[:-1])
            except ValueError:
                raise ValueError(f"{raw.strip()!r} is not a share like 33%") from None
            if not 0 < value <= 100:
                raise ValueError(f"{raw.strip()!r}: a share is above 0% and at most 100%")
            found.append(share_threshold(value))
        elif part.isdigit():
            found.append(days_threshold(int(part)))
        else:
            raise ValueError(f"{raw.strip()!r} is neither a number of days nor a share like 33%")
    if not found:
        raise ValueError("no threshold given")
    return normalized(found)


def normalized(thresholds: Iterable[Threshold]) -> tuple[Threshold, ...]:
    """Without repeats, with `expired`, in a stable order (days, shares, expired)."""
    unique = {t.key: t for t in thresholds}
    unique[EXPIRED] = EXPIRED_THRESHOLD
    return tuple(
        sorted(
            unique.values(),
            key=lambda t: (t.is_expired, t.days is None, -(t.days or 0), -(t.share or 0)),
        )
    )


def from_settings(days: Sequence[int], shares: Sequence[float]) -> tuple[Threshold, ...]:
    return normalized([days_threshold(d) for d in days] + [share_threshold(s) for s in shares])


def thresholds_of(settings: Any) -> tuple[Threshold, ...]:
    """The global thresholds of `bot.settings.Settings` (CERTOPS_WARNING_DAYS): the one
    mapping the scan, `certops adopt`, `probe --adopt` and the Adopt button share."""
    return from_settings(settings.warning_thresholds_days, settings.warning_shares)


def render(thresholds: Sequence[Threshold]) -> str:
    """The text form `parse_thresholds` reads back."""
    return ",".join(
        str(t.days) if t.days is not None else (t.key if t.share is not None else "0")
        for t in thresholds
    )


def due_threshold(
    thresholds: Sequence[Threshold],
    not_before: dt.datetime | None,
    not_after: dt.datetime,
    now: dt.datetime,
) -> Threshold | None:
    """The most severe threshold crossed at `now` (the one closest to expiry), or None."""
    left = not_after - now
    crossed = [t for t in thresholds if left <= t.lead(not_before, not_after)]
    if not crossed:
        return None
    return min(crossed, key=lambda t: t.lead(not_before, not_after))


def threshold_for_key(key: str) -> Threshold:
    """The threshold a stored key names (`30d`, `33%`, `expired`)."""
    if key == EXPIRED:
        return EXPIRED_THRESHOLD
    if key.endswith("%"):
        return share_threshold(float(key[:-1]))
    if key.endswith("d") and key[:-1].isdigit():
        return days_threshold(int(key[:-1]))
    raise ValueError(f"not a threshold key: {key!r}")


def horizon(thresholds: Iterable[Threshold]) -> dt.timedelta:
    """How far ahead of now a certificate's expiry can make one of these thresholds due."""
    leads = [dt.timedelta(0)]
    for t in thresholds:
        if t.days is not None:
            leads.append(dt.timedelta(days=t.days))
        elif t.share is not None:
            leads.append(MAX_SHARE_LIFETIME * (t.share / 100.0))
    return max(leads)


def next_warning(
    thresholds: Sequence[Threshold],
    not_before: dt.datetime | None,
    not_after: dt.datetime,
    now: dt.datetime,
) -> tuple[Threshold, dt.datetime]:
    """The next warning a certificate gets, and when: the most severe threshold already
    crossed (due at the next scan, i.e. `now`), else the first one still ahead."""
    crossed = due_threshold(thresholds, not_before, not_after, now)
    if crossed is not None:
        return crossed, now
    ahead = [(not_after - t.lead(not_before, not_after), t) for t in normalized(thresholds)]
    moment, threshold = min(ahead, key=lambda pair: pair[0])
    return threshold, moment
