"""Serving a built app until SIGTERM, then stopping cleanly (what `certops run` calls).

HTTP mode: one port serves Slack (`/slack/events`) and `/healthz`, `/readyz`, `/metrics`.
Socket Mode: the WebSocket to Slack, and the same three paths on CERTOPS_METRICS_PORT
when it is set.

On SIGTERM (or SIGINT) both do the same, within CERTOPS_SHUTDOWN_SECONDS: stop taking
new work (HTTP: the socket stays open, `/readyz` and new Slack requests get 503 "shutting
down"; Socket Mode: the connection closes, `/readyz` on the metrics port says the same),
finish the requests and listener runs in flight, run the shutdown callbacks (scheduler
stopped, claims given back), close, and return 0.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.health import HealthApp, with_health
from bot.http_server import HttpServer
from bot.metrics import metrics_for, watch_socket_mode
from bot.settings import Settings
from bot.shutdown import Shutdown, shutdown_for
from bot.slack_wsgi import slack_wsgi

if TYPE_CHECKING:
    from slack_bolt import App

log = logging.getLogger("certops")
WAIT_ROUND_SECONDS = 0.5


class ServeError(Exception):
    """The bot could not start serving; the message is one line for the operator."""


def health_app(
    app: App, shutdown: Shutdown, connection: Callable[[], str | None] | None = None
) -> HealthApp:
    metrics = metrics_for(app)
    database = metrics.database if metrics else None
    return HealthApp(metrics, database, lambda: shutdown.draining, connection)


def _listen(app: object, host: str, port: int, threads: int) -> HttpServer:
    try:
        return HttpServer(app, host=host, port=port, threads=threads)
    except OSError as error:
        raise ServeError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None


def _dispose(app: App) -> None:
    metrics = metrics_for(app)
    if metrics is not None and metrics.database is not None:
        metrics.database.dispose()


def serve_http(app: App, host: str, port: int, *, threads: int = 16) -> int:
    """Serve Slack and the health paths on `host:port` until SIGTERM; 0 after a clean stop.

    The stop keeps the socket open while the work in flight finishes: `/readyz` answers
    503 "shutting down" (a load balancer's cue to drain) and new Slack requests get 503
    (Slack retries events later, on a replica that is up). Then the socket closes and the
    requests still open get what is left of the grace period."""
    shutdown = shutdown_for(app)
    server = _listen(with_health(slack_wsgi(app), health_app(app, shutdown)), host, port, threads)
    shutdown.install_signal_handlers()
    log.info(
        "HTTP mode: listening on %s:%d (/slack/events, /healthz, /readyz, /metrics)",
        host,
        server.port,
    )
    server.serve(until=shutdown.requested)
    deadline = shutdown.deadline()
    log.info(
        "stopping (%s): /readyz 503, new requests refused, finishing the work", shutdown.reason
    )
    finished = _finish_while_draining(server, shutdown, deadline)
    server.stop_accepting()
    if not server.drain(deadline):
        log.warning("HTTP requests still open after %.0f s: closing them", shutdown.grace_seconds)
    server.close(timeout=shutdown.remaining())
    _dispose(app)
    return _stopped(shutdown, finished)


def _finish_while_draining(server: HttpServer, shutdown: Shutdown, deadline: float) -> bool:
    """Run the stop's waits and callbacks while another thread keeps answering."""
    answered = threading.Event()
    loop = threading.Thread(
        target=server.serve, args=(answered,), name="certops-http-drain", daemon=True
    )
    loop.start()
    try:
        return shutdown.finish(deadline)
    finally:
        # CERTOPS_DRAIN_SECONDS: a load balancer that polls /readyz sees the 503 first.
        started = deadline - shutdown.grace_seconds
        time.sleep(max(0.0, started + shutdown.drain_seconds - time.monotonic()))
        answered.set()
        loop.join()


def serve_socket_mode(app: App, settings: Settings, *, metrics_host: str = "0.0.0.0") -> int:
    """Hold a Socket Mode connection until SIGTERM; 0 after a clean stop.

    The connection is kept by `bot.socket_mode` (reconnection with backoff, refreshes
    without a gap, acks before the close frame). When Slack disables Socket Mode for the
    app (`link_disabled`) or refuses the token later on, the bot stops as on SIGTERM and
    `ServeError` says why (exit 1): no retry can mend that, and a crash-looping replica is
    what an operator notices."""
    from bot.socket_mode import ConnectionState, SocketModeClient, SocketModeHandler

    shutdown = shutdown_for(app)
    state = ConnectionState()
    watch_socket_mode(metrics_for(app), lambda: state.up)
    side: HttpServer | None = None
    if settings.metrics_port is not None:
        health = health_app(app, shutdown, state.problem)
        side = _listen(health, metrics_host, settings.metrics_port, 4).start()
        log.info(
            "health and metrics on %s:%d (/healthz, /readyz, /metrics)",
            metrics_host,
            side.port,
        )
    client = SocketModeClient(
        settings.slack_app_token or "", app.client, state=state, on_fatal=shutdown.request
    )
    handler = SocketModeHandler(app, client)
    shutdown.install_signal_handlers()  # a SIGTERM while connecting stops right after
    log.info("Socket Mode: connecting")
    try:
        handler.connect()
    except Exception as error:
        if side is not None:
            side.close()
        raise _connect_error(error) from None
    while not shutdown.requested.wait(WAIT_ROUND_SECONDS):
        pass
    deadline = shutdown.deadline()
    log.info("stopping (%s): disconnecting, finishing the work in flight", shutdown.reason)
    handler.close()
    finished = shutdown.finish(deadline)
    if side is not None:
        side.close(timeout=shutdown.remaining())
    _dispose(app)
    if client.failure is not None:
        _stopped(shutdown, finished)
        raise ServeError(f"Socket Mode stopped: {client.failure}")
    return _stopped(shutdown, finished)


def _stopped(shutdown: Shutdown, finished: bool) -> int:
    """0 after a clean stop. Listener threads still running past the grace period would
    keep the interpreter alive at exit (it joins executor threads), so then the process
    leaves at once, with its logs flushed."""
    if finished or shutdown.work is None or not shutdown.work.pending:
        log.info("stopped")
        return 0
    log.warning("stopped with %d handler run(s) cut short", shutdown.work.pending)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _connect_error(error: Exception) -> ServeError:
    """One line for a failed Socket Mode connection, never a traceback."""
    from slack_sdk.errors import SlackApiError

    if isinstance(error, SlackApiError):  # Slack refused: say what it said
        code = error.response.get("error", "refused") if error.response else "refused"
        return ServeError(
            f"Slack refused the Socket Mode connection ({code}): check SLACK_APP_TOKEN"
        )
    first = (str(error).splitlines() or [""])[0]  # no network, DNS...
    return ServeError(f"Socket Mode stopped: {type(error).__name__}: {first}")
