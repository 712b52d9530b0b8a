"""`certops db upgrade | current`, through the real dispatcher and once as a process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from storage import migrate

HEAD = migrate.head_revision()


@pytest.fixture(autouse=True)
def _no_stray_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run from an empty folder (no .env) with no DATABASE_URL unless a test sets one."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("CERTOPS_DATA_DIR", raising=False)


def test_upgrade_then_current(empty_database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "current", "--url", empty_database_url]) == 0
    assert f"no schema (empty; head is {HEAD})" in capsys.readouterr().out

    assert main(["db", "upgrade", "--url", empty_database_url]) == 0
    assert f"upgraded from empty to {HEAD}" in capsys.readouterr().out

    assert main(["db", "upgrade", "--url", empty_database_url]) == 0
    assert f"already at {HEAD} (head)" in capsys.readouterr().out

    assert main(["db", "current", "--url", empty_database_url, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["current"] == HEAD and payload["up_to_date"] is True
    assert migrate.current_revision(empty_database_url) == HEAD


def test_upgrade_json(empty_database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade", "--url", empty_database_url, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["from"] is None and payload["to"] == HEAD and payload["changed"] is True


def test_database_url_from_the_environment(
    empty_pg_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(
        "DATABASE_URL", empty_pg_url.replace("postgresql+psycopg://", "postgresql://")
    )
    assert main(["db", "upgrade"]) == 0
    out = capsys.readouterr().out
    assert "postgresql+psycopg://" in out and f"to {HEAD}" in out
    assert migrate.current_revision(empty_pg_url) == HEAD


def test_default_is_a_sqlite_file_in_the_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CERTOPS_DATA_DIR", str(tmp_path / "var" / "certops"))
    assert main(["db", "upgrade"]) == 0
    assert (tmp_path / "var" / "certops" / "certops.db").is_file()
    assert f"to {HEAD}" in capsys.readouterr().out


def test_unreachable_database_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://certops:hunter2@127.0.0.1:{port}/certops"
    assert main(["db", "upgrade", "--url", url]) == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "database unavailable" in captured.err
    assert "hunter2" not in captured.err + captured.out
    assert "Traceback" not in captured.err
    assert main(["db", "current", "--url", url, "--json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert payload["code"] == "database_unavailable" and "hunter2" not in payload["error"]


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db"]) == 2
    assert main(["db", "sideways"]) == 2
    assert "invalid choice" in capsys.readouterr().err
    assert main(["db", "--help"]) == 0
    assert "upgrade" in capsys.readouterr().out


def test_as_a_process_outside_the_repository(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'proc' / 'certops.db'}"
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "db", "upgrade", "--url", url],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f"upgraded from empty to {HEAD}" in done.stdout
