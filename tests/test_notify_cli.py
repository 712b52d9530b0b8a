"""`certops notify --once`: the cron entry point, and two of them at once on PostgreSQL.

The Slack stand-in counts the posts: with two processes racing over the same due
warnings, each warning is posted exactly once between them (the database claim)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import notify
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
ROOT = Path(__file__).resolve().parent.parent


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


def test_two_processes_at_once_post_each_warning_once(
    pg_url: str, api: FakeSlackApi, tmp_path: Path
) -> None:
    seed(pg_url, 6)
    command = [sys.executable, "-m", "bot", "notify", "--once", "--no-tls", "--json"]
    env = environment(pg_url, api)
    runs = [
        subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=60) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err.decode() for _, err in outputs]
    reports = [json.loads(out.decode())["expiry"] for out, _ in outputs]
    assert sum(r["posted"] for r in reports) == 6
    posts = api.calls("chat.postMessage")
    assert len(posts) == 6
    assert sorted(p.params["channel"] for p in posts) == [f"C0CHAN{i:03d}" for i in range(6)]
    # a third run (a restart) finds everything claimed and posts nothing
    again = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, timeout=60)
    assert again.returncode == 0 and json.loads(again.stdout)["expiry"]["posted"] == 0
    assert len(api.calls("chat.postMessage")) == 6


def _in_process(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str, api: FakeSlackApi | None
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    for key in list(os.environ):
        if key.startswith(("SLACK_", "CERTOPS_")) or key == "DATABASE_URL":
            monkeypatch.delenv(key)
    monkeypatch.setenv("DATABASE_URL", url)
    if api is not None:
        monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
        monkeypatch.setenv("SLACK_API_URL", api.api_url)


def test_once_posts_and_reports(
    sqlite_url: str,
    api: FakeSlackApi,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed(sqlite_url, 2)
    _in_process(monkeypatch, tmp_path, sqlite_url, api)
    assert notify.main(["--once"]) == 0
    out = capsys.readouterr().out
    assert "expiry: due 2, posted 2" in out and "tls:" in out
    assert len(api.calls("chat.postMessage")) == 2
    api.fail_next("chat.update")
    assert notify.main(["--once"]) == 0  # nothing due: nothing to fail


def test_failed_post_exits_1_and_the_next_run_posts(
    sqlite_url: str,
    api: FakeSlackApi,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed(sqlite_url, 1)
    _in_process(monkeypatch, tmp_path, sqlite_url, api)
    api.fail_next("chat.postMessage", error="channel_not_found")
    assert notify.main(["--once", "--no-tls"]) == 1
    assert "channel_not_found" in capsys.readouterr().err
    assert notify.main(["--once", "--no-tls"]) == 0
    assert len(api.calls("chat.postMessage")) == 1


def test_usage_and_thresholds(
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed(sqlite_url, 1)
    _in_process(monkeypatch, tmp_path, sqlite_url, None)
    assert notify.main([]) == 2
    assert notify.main(["--once"]) == 1
    assert "SLACK_BOT_TOKEN" in capsys.readouterr().err
    assert notify.main(["--thresholds", "env0", "30,7,33%"]) == 0
    assert "env0: warning thresholds 30,7,33%,0" in capsys.readouterr().out
    assert notify.main(["--thresholds", "env0", "soon"]) == 1
    assert "thresholds" in capsys.readouterr().err
    assert notify.main(["--thresholds", "nowhere", "30"]) == 1
    assert notify.main(["--json", "--thresholds", "env0", "default"]) == 0
    assert json.loads(capsys.readouterr().out) == {"environment": "env0", "thresholds": None}
