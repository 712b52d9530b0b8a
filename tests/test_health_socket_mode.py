"""Socket Mode as a real process: the health paths and metrics on CERTOPS_METRICS_PORT, an
event received over a real WebSocket and acknowledged, then SIGTERM: the run in flight
finishes, the connection is closed, exit 0."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from bot.console.slack_api import FakeSlackApi
from tests.support.certops_run import EXE, free_port, gauge, get, wait_in_flight, wait_listening
from tests.support.socket_mode_server import SocketModeServer

TOKEN = "xoxb-socket-test"
APP_TOKEN = "xapp-1-A1-socket-test"


def test_socket_mode_serves_health_on_its_port_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    with FakeSlackApi(bot_token=TOKEN) as api, SocketModeServer() as slack_side:
        api.app_token = APP_TOKEN
        api.socket_mode_url = slack_side.url
        environ = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SLACK_", "CERTOPS_", "DATABASE_"))
        }
        environ.update(
            {
                "SLACK_BOT_TOKEN": TOKEN,
                "SLACK_APP_TOKEN": APP_TOKEN,
                "SLACK_API_URL": api.api_url,
                "CERTOPS_DATA_DIR": str(tmp_path / "data"),
                "CERTOPS_METRICS_PORT": str(port),
                "CERTOPS_NOTIFY_INTERVAL": "3600",
            }
        )
        process = subprocess.Popen(
            [EXE, "run", "--host", "127.0.0.1"],
            cwd=tmp_path,
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_listening(port, process)
            assert slack_side.connected.wait(15), "the bot never connected over Socket Mode"
            assert get(port, "/healthz") == (200, "ok\n")
            assert get(port, "/readyz") == (200, "ready\n")
            assert gauge(port, "certops_database_up") == 1
            assert get(port, "/slack/events")[0] == 404  # Slack is on the WebSocket here

            api.delays["views.publish"] = 1.5
            event = {"type": "app_home_opened", "user": "USOCKET1", "tab": "home", "channel": "D1"}
            slack_side.send_event(event, envelope_id="env-1", event_id="Ev0SOCKET1")
            slack_side.wait_ack("env-1")
            wait_in_flight(port, 1)
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=20) == 0
            assert time.monotonic() - started > 0.5  # it waited for the run in flight
            (published,) = api.calls("views.publish")
            assert published.params["user_id"] == "USOCKET1"
            assert slack_side.closed.wait(5), "the Socket Mode connection was left open"
        finally:
            if process.poll() is None:
                process.kill()
            _, stderr = process.communicate(timeout=10)
    assert "SIGTERM received" in stderr and "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1].endswith("stopped")
