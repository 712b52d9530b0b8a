"""The `certops` dispatcher: usage, unknown commands, and its last guard against bugs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot import cli


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "usage: certops COMMAND" in capsys.readouterr().out


def test_an_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


def test_a_bug_ends_in_one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CERTOPS_DEBUG", raising=False)
    monkeypatch.setitem(cli.COMMANDS, "boom", ("tests.support.cli_boom", "fails"))
    assert cli.main(["boom"]) == cli.INTERNAL_EXIT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error (RuntimeError)" in err
    assert "Traceback" not in err and "key.pem" not in err


def test_debug_shows_the_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CERTOPS_DEBUG", "1")
    monkeypatch.setitem(cli.COMMANDS, "boom", ("tests.support.cli_boom", "fails"))
    assert cli.main(["boom"]) == cli.INTERNAL_EXIT
    assert "Traceback" in capsys.readouterr().err


def test_a_reader_that_goes_away_is_not_an_internal_error(tmp_path: Path) -> None:
    """`certops env list | head`: no 'internal error', no claim about what was saved."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"}
    env.pop("CERTOPS_DEBUG", None)
    argv = [sys.executable, "-m", "bot", "env", "list"]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == cli.SIGPIPE_EXIT, err
    assert "internal error" not in err and "Traceback" not in err and "Exception" not in err
