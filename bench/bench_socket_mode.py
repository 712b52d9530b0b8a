"""Socket Mode clients against the loopback stand-in of Slack's Socket Mode service.

Each client runs in a process of its own, as a bot would: a minimal Bolt app on
slack_sdk's built-in client (`builtin`), on Bolt's websocket-client adapter
(`websocket_client`), on certops' own client (`certops_client`, bot/socket_mode.py),
and the real `certops run` (`certops`: the same client under the whole app, whose
listeners check the database for redelivered events before the ack). The stand-in (tests/support/socket_mode_server.py) and the Web
API stand-in (`apps.connections.open`) run here. Measured per client:

- steady: ack times of envelopes on a settled connection (the baseline);
- refresh: `disconnect` `refresh_requested`, an envelope right after the new
  connection's hello: its ack time after that hello; `apps.connections.open` calls;
- drop / reset: the connection closed without a close frame / with a TCP reset: the time
  to the next hello, and the client's CPU time meanwhile;
- refused: no connection taken for --outage seconds: the client's CPU time and its
  `apps.connections.open` calls (retry rate), then the time to reconnect once taken again;
- link_disabled: connection attempts in the 5 s after it, and whether the process ended;
- SIGTERM: an envelope sent just before: acked or not; a close frame or not; time to exit.

    .venv/bin/python bench/bench_socket_mode.py [--clients builtin,websocket_client,certops_client,certops]
        [--wait 70] [--outage 5]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.console.slack_api import FakeSlackApi  # noqa: E402
from tests.support.socket_mode_server import SocketModeServer, event_envelope  # noqa: E402

TOKEN = "xoxb-bench-socket"
APP_TOKEN = "xapp-1-A1-bench-socket"
EXE = str(Path(sys.executable).with_name("certops"))
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def child(kind: str, api_url: str) -> None:
    """A minimal Bolt app on one of slack_sdk's clients, until SIGTERM."""
    import logging
    import threading

    from slack_bolt import App
    from slack_sdk import WebClient

    logging.basicConfig(level=logging.WARNING)
    app = App(
        client=WebClient(token=TOKEN, base_url=api_url),
        token_verification_enabled=False,
        request_verification_enabled=False,
    )
    app.event("app_home_opened")(lambda: None)
    app.command("/cert")(lambda ack: ack(text="ok"))
    stop = threading.Event()
    handler: Any
    if kind == "builtin":
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        handler = SocketModeHandler(app, APP_TOKEN)
    elif kind == "websocket_client":
        from slack_bolt.adapter.socket_mode.websocket_client import SocketModeHandler

        handler = SocketModeHandler(app, APP_TOKEN)
    else:  # certops' client under the same minimal app
        from bot.socket_mode import SocketModeClient
        from bot.socket_mode import SocketModeHandler as Handler

        client = SocketModeClient(APP_TOKEN, app.client, on_fatal=lambda _: stop.set())
        handler = Handler(app, client)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    handler.connect()
    stop.wait()
    handler.close()
    os._exit(1 if getattr(handler.client, "failure", None) else 0)


@contextmanager
def running(kind: str) -> Iterator[tuple[FakeSlackApi, SocketModeServer, subprocess.Popen[str]]]:
    with FakeSlackApi(bot_token=TOKEN) as api, SocketModeServer() as server:
        api.app_token = APP_TOKEN
        api.socket_mode_url = server.url
        with tempfile.TemporaryDirectory() as data:
            if kind == "certops":
                command = [EXE, "run"]
            else:
                command = [sys.executable, __file__, "--child", kind, api.api_url]
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
                    "CERTOPS_DATA_DIR": data,
                    "CERTOPS_NOTIFY_INTERVAL": "3600",
                    "CERTOPS_LOG_LEVEL": "WARNING",
                }
            )
            process = subprocess.Popen(
                command,
                cwd=data,
                env=environ,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            try:
                server.wait_connections(1, timeout=60)
                time.sleep(1.0)  # let the start settle (certops: its first expiry scan)
                yield api, server, process
            finally:
                if process.poll() is None:
                    process.kill()
                process.wait()


def opens(api: FakeSlackApi, since: int = 0) -> int:
    return len(api.calls("apps.connections.open", since=since))


def steady(server: SocketModeServer, rounds: int = 10) -> str:
    """Ack times of envelopes on a settled connection, one at a time (the baseline)."""
    times = []
    for n in range(rounds):
        sent = server.send_event(home(), f"env-steady-{n}", f"EvSTEADY{n}")
        times.append(server.wait_ack_record(f"env-steady-{n}", timeout=15).at - sent)
        time.sleep(0.05)
    times.sort()
    return f"ack median {1000 * times[len(times) // 2]:.0f} ms, max {1000 * times[-1]:.0f} ms"


def refresh(api: FakeSlackApi, server: SocketModeServer) -> str:
    (old,) = server.open_connections()
    since = api.mark()
    newest = max(c.number for c in server.connections)
    server.after_hello = [event_envelope(home(), "env-refresh", "EvREFRESH")]
    server.disconnect(old, "refresh_requested")
    new = server.wait_new_connection(newest)
    ack = server.wait_ack_record("env-refresh", timeout=15)
    time.sleep(1.0)
    old.close()  # Slack closes the old connection
    time.sleep(1.0)
    return (
        f"ack {1000 * (ack.at - new.hello_at):.0f} ms after the new hello; "
        f"{opens(api, since)} apps.connections.open"
    )


def cut(api: FakeSlackApi, server: SocketModeServer, pid: int, how: str, wait: float) -> str:
    (current,) = server.open_connections()
    newest = max(c.number for c in server.connections)
    cpu = cpu_seconds(pid)
    started = time.monotonic()
    getattr(current, how)()
    try:
        new = server.wait_new_connection(newest, timeout=wait)
    except AssertionError:
        spent = cpu_seconds(pid) - cpu
        return f"no reconnection within {wait:.0f} s; CPU {spent:.2f} s meanwhile"
    spent = cpu_seconds(pid) - cpu
    took = new.hello_at - started
    time.sleep(1.0)
    return f"reconnected in {took:.2f} s; CPU {spent:.2f} s meanwhile ({100 * spent / took:.0f} %)"


def refused(
    api: FakeSlackApi, server: SocketModeServer, pid: int, outage: float, wait: float
) -> str:
    (current,) = server.open_connections()
    server.refuse()
    newest = max(c.number for c in server.connections)
    since = api.mark()
    cpu = cpu_seconds(pid)
    current.drop()
    time.sleep(outage)
    spent = cpu_seconds(pid) - cpu
    calls = opens(api, since)
    server.accept()
    started = time.monotonic()
    try:
        new = server.wait_new_connection(newest, timeout=wait)
        back = f"back {new.hello_at - started:.2f} s after the outage"
    except AssertionError:
        back = f"not back {wait:.0f} s after the outage"
    return f"{outage:.0f} s refused: CPU {spent:.2f} s, {calls} apps.connections.open; {back}"


def link_disabled(kind: str) -> str:
    with running(kind) as (api, server, process):
        (current,) = server.open_connections()
        since = api.mark()
        server.disconnect(current, "link_disabled")
        time.sleep(5.0)
        code = process.poll()
        ended = "still running" if code is None else f"exited {code}"
        return f"{opens(api, since)} apps.connections.open in 5 s; {ended}"


def sigterm(api: FakeSlackApi, server: SocketModeServer, process: subprocess.Popen[str]) -> str:
    (current,) = server.open_connections()
    started = time.monotonic()
    current.send(event_envelope(home(), "env-last", "EvLAST"))
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        return "did not exit within 30 s"
    took = time.monotonic() - started
    current.ended.wait(5)
    acked = any(a.envelope_id == "env-last" for a in server.ack_log)
    return (
        f"exit {code} in {took:.2f} s; envelope sent just before "
        f"{'acked' if acked else 'NOT acked'}; "
        f"close frame {'sent' if current.close_frame_received else 'NOT sent'}"
    )


def home() -> dict[str, str]:
    return {"type": "app_home_opened", "user": "UBENCH", "tab": "home", "channel": "D1"}


def bench(kind: str, wait: float, outage: float) -> None:
    print(f"\n== {kind}", flush=True)
    with running(kind) as (api, server, process):
        print(f"  steady:        {steady(server)}", flush=True)
        print(f"  refresh:       {refresh(api, server)}", flush=True)
        print(f"  drop:          {cut(api, server, process.pid, 'drop', wait)}", flush=True)
        if not server.open_connections():
            server.wait_connections(1, timeout=wait)
        print(f"  reset:         {cut(api, server, process.pid, 'reset', wait)}", flush=True)
        if not server.open_connections():
            server.wait_connections(1, timeout=wait)
        print(f"  refused:       {refused(api, server, process.pid, outage, wait)}", flush=True)
        if not server.open_connections():
            server.wait_connections(1, timeout=wait)
        time.sleep(1.0)
        print(f"  SIGTERM:       {sigterm(api, server, process)}", flush=True)
    print(f"  link_disabled: {link_disabled(kind)}", flush=True)


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="builtin,websocket_client,certops_client,certops")
    parser.add_argument("--wait", type=float, default=70.0, help="longest wait for a reconnection")
    parser.add_argument("--outage", type=float, default=5.0)
    args = parser.parse_args()
    for kind in args.clients.split(","):
        bench(kind, args.wait, args.outage)
    return 0


if __name__ == "__main__":
    sys.exit(main())
