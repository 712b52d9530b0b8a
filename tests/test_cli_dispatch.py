"""The `certops` dispatcher: usage, unknown commands, and its last guard against bugs."""

from __future__ import annotations

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
    monkeypatch.setitem(cli.COMMANDS, "boom", ("tests.cli_boom", "fails"))
    assert cli.main(["boom"]) == cli.INTERNAL_EXIT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error (RuntimeError)" in err
    assert "Traceback" not in err and "key.pem" not in err


def test_debug_shows_the_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CERTOPS_DEBUG", "1")
    monkeypatch.setitem(cli.COMMANDS, "boom", ("tests.cli_boom", "fails"))
    assert cli.main(["boom"]) == cli.INTERNAL_EXIT
    assert "Traceback" in capsys.readouterr().err
