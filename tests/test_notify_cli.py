"""`certops notify --once`: the cron entry point, and two of them at once on PostgreSQL.

The Slack stand-in counts the posts: with two processes racing over the same due
warnings, each warning is posted exactly once between them (the database claim)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import notify
from bot.console.slack_api import FakeSlackApi
from tests.support.notify import environment, in_process, seed

ROOT = Path(__file__).resolve().parent.parent


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


def test_once_posts_and_reports(
    sqlite_url: str,
    api: FakeSlackApi,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed(sqlite_url, 2)
    in_process(monkeypatch, tmp_path, sqlite_url, api)
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
    in_process(monkeypatch, tmp_path, sqlite_url, api)
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
    in_process(monkeypatch, tmp_path, sqlite_url, None)
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
