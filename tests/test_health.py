"""`/healthz`, `/readyz`, `/metrics` beside Slack's path, and a start that stops on a bad
or missing setting with one line naming it."""

from __future__ import annotations

import logging
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main as certops
from bot.health import HealthApp, with_health
from bot.http_server import HttpServer
from bot.metrics import Metrics
from storage.db import Database


def get(url: str, method: str = "GET") -> tuple[int, str]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def slack_stand_in(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"slack:" + environ["PATH_INFO"].encode()]


def test_the_paths_and_what_they_say(sqlite_url: str) -> None:
    database = Database(sqlite_url)
    draining = {"now": False}
    health = HealthApp(Metrics(database), database, lambda: draining["now"])
    with HttpServer(with_health(slack_stand_in, health), host="127.0.0.1", port=0) as server:
        assert get(server.url + "/healthz") == (200, "ok\n")
        assert get(server.url + "/readyz") == (200, "ready\n")
        status, text = get(server.url + "/metrics")
        assert status == 200 and "certops_database_up 1.0" in text
        assert get(server.url + "/slack/events") == (200, "slack:/slack/events")
        assert get(server.url + "/metrics", "POST")[0] == 405
        draining["now"] = True
        assert get(server.url + "/readyz") == (503, "shutting down\n")
        assert get(server.url + "/healthz") == (200, "ok\n")  # up, only not taking work
    database.dispose()


def test_readyz_says_why_the_database_is_not_ready() -> None:
    down = Database("postgresql://certops:hunter22@127.0.0.1:1/certops")
    health = HealthApp(Metrics(down), down)
    with HttpServer(health, host="127.0.0.1", port=0) as server:
        status, text = get(server.url + "/readyz")
        assert status == 503
        assert text.startswith("database unavailable") and "hunter22" not in text
        assert get(server.url + "/healthz") == (200, "ok\n")
        assert get(server.url + "/nowhere")[0] == 404


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """`certops run` configures the root logger on the test's stderr, which pytest closes."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    monkeypatch.chdir(tmp_path)  # no .env
    import os

    for key in list(os.environ):
        if key.startswith(("SLACK_", "CERTOPS_", "DATABASE_URL")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("CERTOPS_DATA_DIR", str(tmp_path / "data"))
    return monkeypatch


@pytest.mark.parametrize(
    ("env", "args", "line", "code"),
    [
        (
            {
                "SLACK_BOT_TOKEN": "xoxb-1",
                "SLACK_SIGNING_SECRET": "s",
                "CERTOPS_METRICS_PORT": "http",
            },
            ["--http"],
            "certops run: CERTOPS_METRICS_PORT must be a port number from 1 to 65535",
            2,
        ),
        (
            {
                "SLACK_BOT_TOKEN": "xoxb-1",
                "SLACK_SIGNING_SECRET": "s",
                "CERTOPS_SHUTDOWN_SECONDS": "-1",
            },
            ["--http"],
            "certops run: CERTOPS_SHUTDOWN_SECONDS must be a number of seconds from 0 to 3600",
            2,
        ),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "CERTOPS_LOG_LEVEL": "loud"},
            ["--http"],
            "certops run: CERTOPS_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR",
            2,
        ),
        (
            {"SLACK_BOT_TOKEN": "xoxp-user", "SLACK_SIGNING_SECRET": "s"},
            ["--http"],
            "certops run: SLACK_BOT_TOKEN must be a bot token (it starts with xoxb-)",
            2,
        ),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1"},
            ["--http"],
            "certops run: HTTP mode needs SLACK_SIGNING_SECRET (the app's Signing Secret)",
            1,
        ),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1"},
            [],
            "certops run: Socket Mode needs SLACK_APP_TOKEN (an xapp- token); or use --http with SLACK_SIGNING_SECRET",
            1,
        ),
        (
            {
                "SLACK_BOT_TOKEN": "xoxb-1",
                "SLACK_SIGNING_SECRET": "s",
                "DATABASE_URL": "postgresql://certops:hunter22@127.0.0.1:1/certops",
            },
            ["--http"],
            "certops run: database unavailable (postgresql+psycopg://certops:***@127.0.0.1:1/certops)",
            1,
        ),
    ],
)
def test_a_bad_or_missing_setting_stops_the_start_with_one_line(
    clean_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    args: list[str],
    line: str,
    code: int,
) -> None:
    for key, value in env.items():
        clean_env.setenv(key, value)
    assert certops(["run", *args, "--host", "127.0.0.1", "--port", "1"]) == code
    err = capsys.readouterr().err
    lines = [text for text in err.splitlines() if text.startswith("certops run:")]
    assert len(lines) == 1 and lines[0].startswith(line), err
    assert "Traceback" not in err and "hunter22" not in err


def test_a_port_in_use_is_one_line(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    clean_env.setenv("SLACK_SIGNING_SECRET", "0123456789abcdef0123456789abcdef")
    clean_env.setenv("SLACK_API_URL", "http://127.0.0.1:1/api/")
    with HttpServer(slack_stand_in, host="127.0.0.1", port=0) as taken:
        args = ["run", "--http", "--host", "127.0.0.1", "--port", str(taken.port)]
        assert certops(args) == 1
    err = capsys.readouterr().err
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith(f"certops run: cannot listen on 127.0.0.1:{taken.port}: ")
    )
    assert "Traceback" not in err


def test_a_huge_body_is_refused_before_it_is_read(sqlite_url: str) -> None:
    """Waitress allowed 1 GB, read into memory by Bolt before the signature check."""
    from bot.http_server import MAX_BODY_BYTES

    seen: list[int] = []

    def slack(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(len(environ["wsgi.input"].read()))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"read"]

    with HttpServer(slack, host="127.0.0.1", port=0) as server:
        url = server.url + "/slack/events"
        small = urllib.request.Request(url, data=b"x" * 1000, method="POST")
        with urllib.request.urlopen(small, timeout=5) as answer:
            assert answer.status == 200
        # Only the headers are sent: the refusal comes before any byte of the body is read.
        assert _status_of_headers_only(server.port, MAX_BODY_BYTES + 1).startswith(b"HTTP/1.1 413")
    assert seen == [1000]


def _status_of_headers_only(port: int, length: int, tries: int = 3) -> bytes:
    """The first bytes of the answer to a request whose body is never sent.

    The server closes right after its refusal; on a loaded machine the close can reach
    the client as a reset before the answer is read, so the request is made again.
    """
    for attempt in range(tries):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                raw.sendall(
                    b"POST /slack/events HTTP/1.1\r\nHost: x\r\n"
                    + f"Content-Length: {length}\r\n\r\n".encode()
                )
                return raw.recv(100)
        except ConnectionResetError:
            if attempt == tries - 1:
                raise
    return b""
