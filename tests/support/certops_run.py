"""`certops run` as a real process, as the tests drive it: the executable, a free loopback
port, waiting until it listens, reading its /metrics, posting raw bytes to /slack/events.

Shared by tests/test_slack_run.py, tests/test_shutdown.py, tests/test_http_bodies.py,
tests/test_socket_mode.py, tests/test_health_socket_mode.py and bench/bench_hung.py.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

EXE = str(Path(sys.executable).with_name("certops"))
SECRET = "run-test-signing-secret"
TOKEN = "xoxb-run-test"
ADMIN = "UADMINRUN"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, process: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"certops run exited: {process.communicate()[1]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("certops run --http did not start listening")


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def gauge(port: int, name: str) -> float:
    _, text = get(port, "/metrics")
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return sample.value
    raise AssertionError(f"{name} not in /metrics")


def wait_in_flight(port: int, count: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while gauge(port, "certops_handlers_in_flight") != count:
        assert time.monotonic() < deadline, "the handler run never started"
        time.sleep(0.05)


def post_bytes(url: str, body: bytes, content_type: str, secret: str | None) -> int:
    """POST raw bytes to /slack/events, signed over those bytes with `secret` if given."""
    headers = {"Content-Type": content_type}
    if secret is not None:
        ts = str(int(time.time()))
        mac = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
        headers.update(
            {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + mac.hexdigest()}
        )
    request = urllib.request.Request(url + "/slack/events", data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def run_environ(**settings: str) -> dict[str, str]:
    """This machine's environment less any Slack, certops or database setting, plus
    `settings`: what a `certops run` under test sees (no developer's .env leaks in)."""
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CERTOPS_", "DATABASE_"))
    }
    environ.update(settings)
    return environ


def start_http(
    port: int, cwd: Path, environ: dict[str, str], *, quiet: bool = False
) -> subprocess.Popen[str]:
    """`certops run --http` on 127.0.0.1:`port`, listening when this returns. `quiet`:
    its output goes nowhere (a benchmark that never reads it must not fill a pipe)."""
    output = subprocess.DEVNULL if quiet else subprocess.PIPE
    process = subprocess.Popen(
        [EXE, "run", "--http", "--host", "127.0.0.1", "--port", str(port)],
        cwd=cwd,
        env=environ,
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=output,
        text=True,
    )
    try:
        wait_listening(port, process)
    except BaseException:
        process.kill()
        process.communicate(timeout=10)
        raise
    return process
