"""Socket Mode under Slack's refreshes, dropped connections, outages, `link_disabled` and
SIGTERM: the real `certops run` process against the Socket Mode stand-in
(tests/support/socket_mode_server.py) and the Web API stand-in on loopback.

The bounds asserted are generous (the defects they catch are 3 s and ~50 s); the exact
figures come from bench/bench_socket_mode.py."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot import socket_mode
from bot.console.slack_api import FakeSlackApi
from bot.health import HealthApp
from bot.socket_mode import (
    BACKOFF_CAP_SECONDS,
    READY_GRACE_SECONDS,
    ConnectionState,
    SocketModeClient,
    backoff,
)
from tests.support.certops_run import EXE, free_port, gauge, get, wait_listening
from tests.support.socket_mode_server import SocketModeServer, event_envelope

TOKEN = "xoxb-socket-test"
APP_TOKEN = "xapp-1-A1-socket-test"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def home(user: str) -> dict[str, str]:
    return {"type": "app_home_opened", "user": user, "tab": "home", "channel": "D1"}


@pytest.fixture
def slack() -> Iterator[tuple[FakeSlackApi, SocketModeServer]]:
    with FakeSlackApi(bot_token=TOKEN) as api, SocketModeServer() as server:
        api.app_token = APP_TOKEN
        api.socket_mode_url = server.url
        yield api, server


@contextmanager
def certops_run(
    tmp_path: Path,
    api: FakeSlackApi,
    *,
    name: str = "bot",
    metrics_port: int | None = None,
    database_url: str = "",
) -> Iterator[subprocess.Popen[str]]:
    """`certops run` in Socket Mode; its stderr is in tmp_path/<name>.log."""
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CERTOPS_", "DATABASE_"))
    }
    environ.update(
        {
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_APP_TOKEN": APP_TOKEN,
            "SLACK_API_URL": api.api_url,
            "DATABASE_URL": database_url,
            "CERTOPS_DATA_DIR": str(tmp_path / "data"),
            "CERTOPS_NOTIFY_INTERVAL": "3600",
        }
    )
    if metrics_port is not None:
        environ["CERTOPS_METRICS_PORT"] = str(metrics_port)
    with open(tmp_path / f"{name}.log", "w") as log:
        process = subprocess.Popen(
            [EXE, "run", "--host", "127.0.0.1"],
            cwd=tmp_path,
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            text=True,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def logged(tmp_path: Path, name: str = "bot") -> str:
    return (tmp_path / f"{name}.log").read_text()


# --- a refresh -------------------------------------------------------------------------
@pytest.mark.parametrize("reason", ["refresh_requested", "warning"])
def test_an_envelope_right_after_a_refresh_hello_is_acked_at_once(
    tmp_path: Path, slack: tuple[FakeSlackApi, SocketModeServer], reason: str
) -> None:
    api, server = slack
    with certops_run(tmp_path, api) as process:
        (old,) = server.wait_connections(1, timeout=60)
        opened = len(api.calls("apps.connections.open"))
        server.after_hello = [event_envelope(home("UREFRESH"), "env-refresh", "EvREFRESH")]
        server.disconnect(old, reason)
        new = server.wait_new_connection(old.number)
        ack = server.wait_ack_record("env-refresh")
        # slack_sdk's built-in client acked it at 3.1 s; bench_socket_mode.py has the figure.
        assert ack.at - new.hello_at < 1.0
        assert ack.connection == new.number
        # The old connection is still read until Slack closes it: its envelopes are acked.
        server.send_event(home("UOLD"), "env-old", "EvOLD", connection=old)
        assert server.wait_ack_record("env-old").connection == old.number
        old.close()
        assert old.ended.wait(5)
        assert len(api.calls("apps.connections.open")) == opened + 1  # one new connection
        server.send_event(home("UAFTER"), "env-after", "EvAFTER")
        assert server.wait_ack_record("env-after").connection == new.number
        assert process.poll() is None
    text = logged(tmp_path)
    assert f"Slack asked for a new connection ({reason})" in text
    assert "connection 2 up in" in text
    assert "old connection 1 closed" in text


# --- a dropped connection --------------------------------------------------------------
def test_a_connection_dropped_or_reset_is_replaced_within_seconds(
    tmp_path: Path, slack: tuple[FakeSlackApi, SocketModeServer]
) -> None:
    api, server = slack
    with certops_run(tmp_path, api) as process:
        (first,) = server.wait_connections(1, timeout=60)
        first.drop()  # no close frame: a load balancer, a blip
        second = server.wait_new_connection(first.number, timeout=5)
        server.send_event(home("UDROP"), "env-drop", "EvDROP")
        assert server.wait_ack_record("env-drop").connection == second.number

        second.reset()  # TCP reset (SO_LINGER 0)
        third = server.wait_new_connection(second.number, timeout=5)
        server.send_event(home("URESET"), "env-reset", "EvRESET")
        assert server.wait_ack_record("env-reset").connection == third.number
        assert process.poll() is None
    text = logged(tmp_path)
    assert "connection 1 lost (dropped without a close frame): reconnecting" in text
    assert "connection 2 lost (ConnectionResetError" in text
    assert "reconnected (connection 3) after" in text


def test_a_silent_connection_is_pinged_then_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    """No FIN, no reset: only the unanswered pings tell (the figures scaled down)."""
    monkeypatch.setattr(socket_mode, "POLL_SECONDS", 0.1)
    monkeypatch.setattr(socket_mode, "PING_SECONDS", 0.3)
    monkeypatch.setattr(socket_mode, "DEAD_SECONDS", 1.5)
    with FakeSlackApi(bot_token=TOKEN) as api, SocketModeServer() as server:
        api.app_token = APP_TOKEN
        api.socket_mode_url = server.url
        client = SocketModeClient(APP_TOKEN, WebClient(base_url=api.api_url))
        client.connect()
        try:
            (first,) = server.wait_connections(1)
            deadline = time.monotonic() + 10
            while first.pings < 2:  # an idle connection is pinged, and the pongs count
                assert time.monotonic() < deadline, "no ping on an idle connection"
                time.sleep(0.05)
            assert server.open_connections() == [first]
            first.freeze()
            second = server.wait_new_connection(first.number, timeout=10)
            listened = threading.Event()
            client.socket_mode_request_listeners.append(lambda *_: listened.set())
            server.send_event(home("USILENT"), "env-silent", "EvSILENT", connection=second)
            assert listened.wait(5), "the new connection is not read"
        finally:
            client.close()


# --- an outage: backoff, readiness, the metric -----------------------------------------
def test_while_slack_refuses_connections_the_bot_backs_off_and_says_not_ready(
    tmp_path: Path, slack: tuple[FakeSlackApi, SocketModeServer]
) -> None:
    api, server = slack
    port = free_port()
    with certops_run(tmp_path, api, metrics_port=port) as process:
        wait_listening(port, process)
        (first,) = server.wait_connections(1, timeout=60)
        assert get(port, "/readyz") == (200, "ready\n")
        assert gauge(port, "certops_socket_mode_connected") == 1
        since = api.mark()
        server.refuse()
        cpu = cpu_seconds(process.pid)
        started = time.monotonic()
        first.drop()
        time.sleep(4.0)
        spent = cpu_seconds(process.pid) - cpu
        attempts = len(api.calls("apps.connections.open", since=since))
        # A spinning receive loop burns ~4 s of CPU here; a retry without backoff, one
        # attempt every 0.5 s or faster.
        assert spent < 1.5, f"{spent:.2f} s of CPU in 4 s while disconnected"
        assert 2 <= attempts <= 6, f"{attempts} connection attempts in 4 s"
        assert gauge(port, "certops_socket_mode_connected") == 0
        status, body = wait_readyz(port, 503, timeout=20)
        assert status == 503
        assert time.monotonic() - started > READY_GRACE_SECONDS
        assert body.startswith("Socket Mode not connected for ")

        server.accept()
        server.wait_new_connection(first.number, timeout=BACKOFF_CAP_SECONDS + 5)
        assert wait_readyz(port, 200, timeout=10) == (200, "ready\n")
        assert gauge(port, "certops_socket_mode_connected") == 1
        server.send_event(home("UBACK"), "env-back", "EvBACK")
        server.wait_ack_record("env-back")
    assert "connection attempt 1 failed (ConnectionRefusedError" in logged(tmp_path)


def wait_readyz(port: int, status: int, timeout: float) -> tuple[int, str]:
    deadline = time.monotonic() + timeout
    while True:
        found = get(port, "/readyz")
        if found[0] == status or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


# --- link_disabled ---------------------------------------------------------------------
def test_link_disabled_stops_the_bot_with_one_line_and_no_reconnection(
    tmp_path: Path, slack: tuple[FakeSlackApi, SocketModeServer]
) -> None:
    api, server = slack
    with certops_run(tmp_path, api) as process:
        (connection,) = server.wait_connections(1, timeout=60)
        since = api.mark()
        server.disconnect(connection, "link_disabled")
        assert process.wait(timeout=30) == 1
        assert connection.ended.wait(5)
        assert connection.close_frame_received
        assert api.calls("apps.connections.open", since=since) == []
        assert len(server.connections) == 1
    text = logged(tmp_path)
    errors = [line for line in text.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "link_disabled" in errors[0], text
    assert text.strip().splitlines()[-1] == (
        "certops run: Socket Mode stopped: Slack disabled Socket Mode for this app "
        "(link_disabled): turn it back on in the app's settings, then start certops again"
    )
    assert "Traceback" not in text


def test_a_token_refused_at_a_reconnection_stops_the_bot_instead_of_retrying(
    tmp_path: Path, slack: tuple[FakeSlackApi, SocketModeServer]
) -> None:
    api, server = slack
    with certops_run(tmp_path, api) as process:
        (connection,) = server.wait_connections(1, timeout=60)
        api.app_token = "xapp-1-another"  # the app token was revoked meanwhile
        since = api.mark()
        connection.drop()
        assert process.wait(timeout=30) == 1
        assert len(api.calls("apps.connections.open", since=since)) == 1
    last = logged(tmp_path).strip().splitlines()[-1]
    assert last == (
        "certops run: Socket Mode stopped: Slack refused the Socket Mode connection "
        "(invalid_auth): check SLACK_APP_TOKEN"
    )


# --- SIGTERM ---------------------------------------------------------------------------
def test_sigterm_acks_every_envelope_read_then_sends_a_close_frame(
    tmp_path: Path, slack: tuple[FakeSlackApi, SocketModeServer]
) -> None:
    api, server = slack
    with certops_run(tmp_path, api) as process:
        (connection,) = server.wait_connections(1, timeout=60)
        server.send_event(home("USTART"), "env-start", "EvSTART")
        server.wait_ack_record("env-start")  # serving: SIGTERM is handled from here on
        ids = [f"env-stop-{n}" for n in range(10)]
        for n, envelope_id in enumerate(ids):
            connection.send(event_envelope(home(f"USTOP{n}"), envelope_id, f"EvSTOP{n}"))
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert connection.ended.wait(5)
    assert connection.close_frame_received, "no close frame at SIGTERM"
    acked = {ack.envelope_id for ack in server.ack_log}
    assert acked >= set(ids)
    closed_at = connection.ended_at
    assert all(ack.at <= closed_at for ack in server.ack_log)


def test_close_waits_for_the_ack_of_an_envelope_in_flight_before_the_close_frame() -> None:
    """The envelope is known to be read (its listener started); the stop comes while it
    is not acked yet: the ack goes out, then the close frame."""
    with FakeSlackApi(bot_token=TOKEN) as api, SocketModeServer() as server:
        api.app_token = APP_TOKEN
        api.socket_mode_url = server.url
        client = SocketModeClient(APP_TOKEN, WebClient(base_url=api.api_url))
        started = threading.Event()

        def slow_ack(client: SocketModeClient, request: object) -> None:
            started.set()
            time.sleep(1.0)
            client.send_message('{"envelope_id": "env-slow"}')

        client.socket_mode_request_listeners.append(slow_ack)  # type: ignore[arg-type]
        client.connect()
        (connection,) = server.wait_connections(1)
        connection.send(event_envelope(home("USLOW"), "env-slow", "EvSLOW"))
        assert started.wait(5)
        client.close()
        assert connection.ended.wait(5)
        ack = server.wait_ack_record("env-slow", timeout=1)
        assert connection.close_frame_received
        assert ack.at <= connection.ended_at


# --- two replicas ----------------------------------------------------------------------
def test_two_replicas_each_command_answered_once_each_event_handled_once(
    tmp_path: Path, slack: tuple[FakeSlackApi, SocketModeServer], fresh_pg_url: str
) -> None:
    api, server = slack
    with (
        certops_run(tmp_path, api, name="one", database_url=fresh_pg_url) as one,
        certops_run(tmp_path, api, name="two", database_url=fresh_pg_url) as two,
    ):
        server.wait_connections(2, timeout=60)
        commands = [f"env-cmd-{n}" for n in range(6)]
        events = [f"env-ev-{n}" for n in range(6)]
        for envelope_id in commands:
            server.send_command("env list", envelope_id, "USOMEONE", api.response_url())
        for n, envelope_id in enumerate(events):
            server.send_event(home(f"UREPLICA{n}"), envelope_id, f"EvREPLICA{n}")
        # A retry of an event reaches the other replica: handled once all the same.
        first = server.wait_ack_record(events[0])
        other = next(c for c in server.open_connections() if c.number != first.connection)
        retry = event_envelope(home("UREPLICA0"), "env-ev-retry", "EvREPLICA0")
        retry["retry_attempt"] = 1
        retry["retry_reason"] = "timeout"
        server.send(retry, other)
        for envelope_id in [*commands, *events, "env-ev-retry"]:
            server.wait_ack_record(envelope_id)
        api.wait_for("response_url", count=len(commands), timeout=30)
        api.wait_for("views.publish", count=len(events), timeout=30)
        time.sleep(1.0)  # anything sent twice would arrive by now
        assert one.poll() is None and two.poll() is None
    acks = [ack.envelope_id for ack in server.ack_log]
    assert sorted(acks) == sorted({*acks}), "an envelope was acked twice"
    assert {ack.connection for ack in server.ack_log} == {1, 2}, "both replicas took envelopes"
    answered = sorted(call.path for call in api.calls("response_url"))
    assert answered == sorted({*answered}) and len(answered) == len(commands)
    published = sorted(call.params["user_id"] for call in api.calls("views.publish"))
    assert published == [f"UREPLICA{n}" for n in range(6)]


# --- the parts ---------------------------------------------------------------------------
def test_backoff_doubles_to_a_cap_with_jitter() -> None:
    assert [backoff(n, lambda: 1.0) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff(50, lambda: 1.0) == BACKOFF_CAP_SECONDS
    assert backoff(3, lambda: 0.0) == 1.0  # never less than half: no hot loop
    drawn = {backoff(5) for _ in range(20)}
    assert len(drawn) > 1 and all(4.0 <= d <= 8.0 for d in drawn)


def test_connection_state_is_a_readiness_problem_only_after_the_grace() -> None:
    now = [100.0]
    state = ConnectionState(clock=lambda: now[0])
    state.set(True)
    assert state.problem() is None
    state.set(False)
    now[0] += READY_GRACE_SECONDS
    assert state.problem() is None
    now[0] += 1.0
    assert state.problem() == f"Socket Mode not connected for {READY_GRACE_SECONDS + 1:.0f} s"
    health = HealthApp(None, None, connection=state.problem)
    assert health.readiness() == (
        False,
        f"Socket Mode not connected for {READY_GRACE_SECONDS + 1:.0f} s",
    )
    state.set(True)
    assert health.readiness() == (True, "ready")
