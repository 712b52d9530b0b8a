"""`/cert expiring [DAYS]`: what expires in the next DAYS days, grouped by environment.

Renewed certificates are listed as renewed (by which one), not as expiring; a certificate
that serves no environment is listed under "no environment" so nothing is forgotten.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from bot.services.clock import as_utc
from bot.services.context import ServiceContext
from bot.services.expiry import EXPIRED_GRACE, renewed_by
from storage import queries

NO_ENVIRONMENT = "(no environment)"


@dataclass(frozen=True)
class DigestItem:
    certificate: str
    hostname: str | None
    not_after: dt.datetime
    days_left: int
    renewed_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "certificate": self.certificate,
            "hostname": self.hostname,
            "not_after": self.not_after.isoformat(),
            "days_left": self.days_left,
            "renewed_by": self.renewed_by,
        }


@dataclass(frozen=True)
class EnvironmentDigest:
    environment: str
    items: list[DigestItem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"environment": self.environment, "items": [i.to_dict() for i in self.items]}


def expiring_digest(ctx: ServiceContext, days: int) -> list[EnvironmentDigest]:
    """Certificates expiring within `days` (and those expired in the last 30 days), by
    environment name."""
    now = ctx.now()
    until = now + dt.timedelta(days=days)
    groups: dict[str, list[DigestItem]] = defaultdict(list)
    with ctx.session() as session:
        renewed = renewed_by(session, until)
        for row in queries.expiry_candidates(session, until, now - EXPIRED_GRACE):
            cid, name, _domain, _nb, not_after, env, _ch, _wd, _lt, host, _status = row
            end = as_utc(not_after)
            left = max(0, (end - now).days) if end > now else -1
            groups[env or NO_ENVIRONMENT].append(
                DigestItem(name, host, end, left, renewed.get(cid))
            )
    order = sorted(groups, key=lambda e: (e == NO_ENVIRONMENT, e))
    return [EnvironmentDigest(env, groups[env]) for env in order]
