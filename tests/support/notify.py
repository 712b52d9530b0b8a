"""The expiry notifier's tests' pieces: the Web API stand-in with the bot token (the `api`
fixture, registered by tests/conftest.py) and certificates due now, seeded straight into a
database.

Shared by tests/test_notify_cli.py and tests/test_expiry_scheduler.py.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

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


def environment(url: str, api: FakeSlackApi) -> dict[str, str]:
    """The environment of a `certops` process posting to the stand-in on `url`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "CERTOPS_", "DATABASE_URL"))
    }
    env.update(
        {
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_API_URL": api.api_url,
            "DATABASE_URL": url,
            "CERTOPS_DEFAULT_CHANNEL": "C0DEFAULT",
        }
    )
    return env


def in_process(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str, api: FakeSlackApi | None
) -> None:
    """This process as a `certops` command would see it: no .env, `url`, the stand-in."""
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    for key in list(os.environ):
        if key.startswith(("SLACK_", "CERTOPS_")) or key == "DATABASE_URL":
            monkeypatch.delenv(key)
    monkeypatch.setenv("DATABASE_URL", url)
    if api is not None:
        monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
        monkeypatch.setenv("SLACK_API_URL", api.api_url)
