"""The expiry tests' record and publisher: rows written straight through the queries, a
Publisher that records what it is asked to post, and a clock fixed at START.

Shared by tests/test_expiry*.py and tests/test_slack_markup.py. The `clock` and `ctx` fixtures
share their names with the services' ones tests/conftest.py registers, so the modules that
want these bind them by name.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest
from sqlmodel import col, select

from bot.services.clock import ManualClock
from bot.services.context import ServiceContext
from bot.services.expiry import DueWarning, ExpiryConfig, PublishFailed, RenewedNotice
from bot.services.expiry_thresholds import from_settings
from storage import queries
from storage.db import Database
from storage.models import (
    Assignment,
    AssignmentState,
    Certificate,
    CertificateStatus,
    Environment,
    Notification,
    SubmittedFormat,
)

START = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
DEFAULT = from_settings((30, 14, 7, 3, 1, 0), ())


@dataclass
class Recorder:
    """A Publisher that records what it was asked to post; can fail on demand."""

    calls: list[tuple[str, DueWarning | RenewedNotice, str]] = field(default_factory=list)
    fail: int = 0
    counter: int = 0

    def _next(self) -> str:
        if self.fail:
            self.fail -= 1
            raise PublishFailed("internal_error")
        self.counter += 1
        return f"17000000{self.counter:02d}.000100"

    def post_warning(self, warning: DueWarning) -> str:
        ts = self._next()
        self.calls.append(("post", warning, ts))
        return ts

    def update_warning(self, warning: DueWarning, ts: str) -> None:
        self._next()
        self.calls.append(("update", warning, ts))

    def remind(self, warning: DueWarning) -> str:
        ts = self._next()
        self.calls.append(("remind", warning, ts))
        return ts

    def mark_renewed(self, notice: RenewedNotice) -> str | None:
        self._next()
        self.calls.append(("renewed", notice, ""))
        return None

    def kinds(self) -> list[tuple[str, str]]:
        return [
            (kind, item.threshold if isinstance(item, DueWarning) else item.renewed_by)
            for kind, item, _ in self.calls
        ]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def ctx(database: Database, clock: ManualClock) -> ServiceContext:
    return ServiceContext(database=database, clock=clock)


def config(default_channel: str | None = "C0DEFAULT") -> ExpiryConfig:
    return ExpiryConfig(DEFAULT, default_channel, "test-replica")


def add_env(
    ctx: ServiceContext, name: str, channel: str | None, warning_days: str | None = None
) -> int:
    with ctx.session() as session:
        env = queries.add_environment(
            session,
            Environment(
                name=name,
                default_host=f"acme-{name}.outsystemsenterprise.com",
                channel=channel,
                warning_days=warning_days,
            ),
        )
        return env.id or 0


def add_cert(
    ctx: ServiceContext,
    name: str,
    days: float,
    *,
    lifetime_days: float = 90,
    sans: tuple[str, ...] = ("shop.example.com",),
    issuer: str = "CN=Test CA",
    renews: int | None = None,
    domain: str | None = None,
    status: CertificateStatus = CertificateStatus.VALIDATED,
) -> int:
    end = START + dt.timedelta(days=days)
    with ctx.session() as session:
        row = queries.add_certificate(
            session,
            Certificate(
                name=name,
                domain=domain or sans[0],
                submitted_format=SubmittedFormat.PEM,
                status=status,
                subject=f"CN={sans[0]}",
                sans=list(sans),
                issuer=issuer,
                not_before=end - dt.timedelta(days=lifetime_days),
                not_after=end,
                fingerprint_sha256=f"FP:{name}",
                submitted_by="U1",
                renews_id=renews,
            ),
        )
        return row.id or 0


def assign(ctx: ServiceContext, cert_id: int, env_id: int, hostname: str) -> None:
    with ctx.session() as session:
        queries.add_assignment(
            session,
            Assignment(
                certificate_id=cert_id,
                environment_id=env_id,
                hostname=hostname,
                state=AssignmentState.ACTIVE,
                assigned_by="UADMIN",
                active_at=START,
            ),
        )


def claims(ctx: ServiceContext) -> list[tuple[int, str, str, str | None]]:
    with ctx.session() as session:
        rows = session.exec(select(Notification).order_by(col(Notification.id))).all()
        return [(n.certificate_id, n.threshold, n.channel, n.message_ts) for n in rows]
