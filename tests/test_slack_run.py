"""`certops run --http` as a real process: waitress, Bolt's WSGI adapter on /slack/events,
signatures checked, the database upgraded at start, SLACK_API_URL honoured."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.console.sender import SlackSender
from bot.console.slack_api import FakeSlackApi
from tests.support.certops_run import (
    ADMIN,
    EXE,
    SECRET,
    TOKEN,
    free_port,
    run_environ,
    start_http,
)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[FakeSlackApi, SlackSender, Path]]:
    port = free_port()
    with FakeSlackApi(bot_token=TOKEN) as api:
        environ = run_environ(
            SLACK_BOT_TOKEN=TOKEN,
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_APP_TOKEN="",
            SLACK_API_URL=api.api_url,
            DATABASE_URL="",
            CERTOPS_DATA_DIR=str(tmp_path / "data"),
            CERTOPS_ADMINS=ADMIN,
        )
        process = start_http(port, tmp_path, environ)
        try:
            yield api, SlackSender(f"http://127.0.0.1:{port}", SECRET), tmp_path
        finally:
            process.terminate()
            process.wait(timeout=10)
            if process.stdout:
                process.stdout.close()
            if process.stderr:
                process.stderr.close()


def test_http_mode_serves_signed_commands(served: tuple[FakeSlackApi, SlackSender, Path]) -> None:
    api, sender, tmp_path = served
    assert (tmp_path / "data" / "certops.db").is_file()  # upgraded before serving
    forged = sender.post(
        "command=/cert&text=help", "application/x-www-form-urlencoded", signature="v0=" + "1" * 64
    )
    assert forged.status == 401
    sent = sender.command(
        "env add dev acme-dev.outsystemsenterprise.com",
        user_id=ADMIN,
        response_url=api.response_url(),
    )
    assert sent.status == 200
    (answer,) = api.wait_for("response_url", timeout=20)
    assert "Environment *dev* recorded" in answer.params["text"]
    assert api.calls("auth.test"), "the bot token was checked against SLACK_API_URL"
    since = api.mark()
    sender.command("env list", user_id="USOMEONE", response_url=api.response_url())
    (listed,) = api.wait_for("response_url", since=since, timeout=20)
    assert any("*dev*" in b.get("text", {}).get("text", "") for b in listed.blocks)


def test_socket_mode_uses_slack_api_url_and_a_refusal_is_one_line(tmp_path: Path) -> None:
    with FakeSlackApi(bot_token=TOKEN) as api:
        environ = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SLACK_", "CERTOPS_", "DATABASE_"))
        }
        environ.update(
            {
                "SLACK_BOT_TOKEN": TOKEN,
                "SLACK_APP_TOKEN": "xapp-1-refused",
                "SLACK_SIGNING_SECRET": "",
                "SLACK_API_URL": api.api_url,
                "DATABASE_URL": "",
                "CERTOPS_DATA_DIR": str(tmp_path / "data"),
            }
        )
        done = subprocess.run(
            [EXE, "run"],
            cwd=tmp_path,
            env=environ,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert [c.method for c in api.calls()] == ["apps.connections.open"]
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert (
        last
        == "certops run: Slack refused the Socket Mode connection (invalid_auth): check SLACK_APP_TOKEN"
    )
    assert "Traceback" not in done.stderr
