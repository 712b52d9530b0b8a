"""A request body that is not UTF-8 gets 400 before Bolt sees it, signed or not, and
leaves one log line, never a traceback (issue 11, point 8). Through `certops run --http`
as a real process, and through the loopback server the other Slack tests use."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.console.sender import SlackSender
from bot.console.slack_api import FakeSlackApi
from tests.support.certops_run import (
    ADMIN,
    SECRET,
    TOKEN,
    free_port,
    post_bytes,
    run_environ,
    start_http,
)
from tests.support.slack_harness import SIGNING_SECRET, SlackHarness, slack_harness

# What Slack never sends: Latin-1, a lone continuation byte, a cut multi-byte sequence.
NOT_UTF8 = [
    ("json", "application/json", b'{"type":"event_callback","event":{"text":"caf\xe9"}}'),
    ("form", "application/x-www-form-urlencoded", b"command=/cert&text=\xff\xfe"),
    ("cut", "application/json", b'{"text":"\xe2\x82"}'),
]


@dataclass
class Running:
    api: FakeSlackApi
    sender: SlackSender
    url: str
    process: subprocess.Popen[str]

    def logs(self) -> str:
        """Everything the process wrote, once it has stopped."""
        self.process.terminate()
        out, err = self.process.communicate(timeout=20)
        return out + err


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
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
            CERTOPS_LOG_LEVEL="INFO",
        )
        process = start_http(port, tmp_path, environ)
        try:
            url = f"http://127.0.0.1:{port}"
            yield Running(api, SlackSender(url, SECRET), url, process)
        finally:
            if process.poll() is None:
                process.terminate()
                process.communicate(timeout=20)


def test_certops_run_refuses_bodies_that_are_not_utf8_with_400_and_no_traceback(
    running: Running,
) -> None:
    for _, content_type, body in NOT_UTF8:
        assert post_bytes(running.url, body, content_type, SECRET) == 400, body
        assert post_bytes(running.url, body, content_type, None) == 400, body
    # The bot goes on answering what Slack sends.
    sent = running.sender.command("help", user_id=ADMIN, response_url=running.api.response_url())
    assert sent.status == 200 and "/cert" in sent.body
    accented = running.sender.command(
        "show café", user_id=ADMIN, response_url=running.api.response_url()
    )
    assert accented.status == 200
    logs = running.logs()
    assert "Traceback" not in logs and " 500 " not in logs
    assert logs.count("the body is not UTF-8") == 2 * len(NOT_UTF8)
    assert running.api.calls("chat.postMessage") == []


@pytest.mark.parametrize("kind", [k for k, _, _ in NOT_UTF8])
def test_the_loopback_server_refuses_them_before_bolt(sqlite_url: str, kind: str) -> None:
    _, content_type, body = next(case for case in NOT_UTF8 if case[0] == kind)
    with slack_harness(sqlite_url) as h:
        assert post_bytes(h.server.url, body, content_type, SIGNING_SECRET) == 400
        h.settle()
        assert h.api.calls() == []
        assert_still_answers(h)


def assert_still_answers(h: SlackHarness) -> None:
    assert "/cert" in h.command("help").ack_text
