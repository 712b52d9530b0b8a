"""The expiry notifier's tests' pieces: the Web API stand-in with the bot token (the `api`
fixture, registered by tests/conftest.py) and certificates due now, seeded straight into a
database.

Shared by tests/test_notify_cli.py and tests/test_expiry_scheduler.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from bot.console.slack_api import FakeSlackApi
from bot.services.context import ServiceContext
from storage import queries
from storage.db import Database
from storage.models import (
    Assignment,
    AssignmentState,
    Certificate,
    CertificateStatus,
    Environment,
    SubmittedFormat,
)

TOKEN = "xoxb-notify-test"


@pytest.fixture
def api() -> Iterator[FakeSlackApi]:
    with FakeSlackApi(bot_token=TOKEN) as server:
        yield server


def seed(url: str, count: int, *, days_left: float = 10) -> None:
    """`count` certificates, each on its own environment and channel, due now (14d)."""
    database = Database(url)
    ctx = ServiceContext(database=database)
    now = dt.datetime.now(dt.UTC)
    try:
        with ctx.session() as session:
            for index in range(count):
                env = queries.add_environment(
                    session,
                    Environment(
                        name=f"env{index}",
                        default_host=f"acme-{index}.outsystemsenterprise.com",
                        channel=f"C0CHAN{index:03d}",
                    ),
                )
                cert = queries.add_certificate(
                    session,
                    Certificate(
                        name=f"cert-{index}",
                        domain=f"host{index}.example.com",
                        submitted_format=SubmittedFormat.PEM,
                        status=CertificateStatus.VALIDATED,
                        subject=f"CN=host{index}.example.com",
                        sans=[f"host{index}.example.com"],
                        issuer="CN=Test CA",
                        not_before=now - dt.timedelta(days=80),
                        not_after=now + dt.timedelta(days=days_left),
                        submitted_by="U1",
                    ),
                )
                queries.add_assignment(
                    session,
                    Assignment(
                        certificate_id=cert.id or 0,
                        environment_id=env.id or 0,
                        hostname=f"host{index}.example.com",
                        state=AssignmentState.ACTIVE,
                        assigned_by="UADMIN",
                        assigned_at=now - dt.timedelta(days=30),
                        active_at=now - dt.timedelta(days=30),
                    ),
                )
    finally:
        database.dispose()
