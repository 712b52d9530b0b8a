"""Serving a built app until SIGTERM, then stopping cleanly (what `certops run` calls).

HTTP mode: one port serves Slack (`/slack/events`) and `/healthz`, `/readyz`, `/metrics`.
Socket Mode: the WebSocket to Slack, and the same three paths on CERTOPS_METRICS_PORT
when it is set.

On SIGTERM (or SIGINT) both do the same, within CERTOPS_SHUTDOWN_SECONDS: stop taking
new work (close the listening socket / the Socket Mode connection; `/readyz` says
"shutting down" while it is still reachable), finish the requests and listener runs in
flight, run the shutdown callbacks (claims given back), close, and return 0.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING

from bot.health import HealthApp, with_health
from bot.http_server import HttpServer
from bot.metrics import metrics_for
from bot.settings import Settings
from bot.shutdown import Shutdown, shutdown_for
from bot.slack_wsgi import slack_wsgi

if TYPE_CHECKING:
    from slack_bolt import App

log = logging.getLogger("certops")
WAIT_ROUND_SECONDS = 0.5


class ServeError(Exception):
    """The bot could not start serving; the message is one line for the operator."""


def health_app(app: App, shutdown: Shutdown) -> HealthApp:
    metrics = metrics_for(app)
    return HealthApp(metrics, metrics.database if metrics else None, lambda: shutdown.draining)


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
    """Serve Slack and the health paths on `host:port` until SIGTERM; 0 after a clean stop."""
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
    log.info("stopping (%s): no new connections, finishing the work in flight", shutdown.reason)
    server.stop_accepting()
    if not server.drain(deadline):
        log.warning("HTTP requests still open after %.0f s: closing them", shutdown.grace_seconds)
    finished = shutdown.finish(deadline)
    server.close()
    _dispose(app)
    return _stopped(shutdown, finished)


def serve_socket_mode(app: App, settings: Settings, *, metrics_host: str = "0.0.0.0") -> int:
    """Hold the Socket Mode connection until SIGTERM; 0 after a clean stop."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    shutdown = shutdown_for(app)
    side: HttpServer | None = None
    if settings.metrics_port is not None:
        side = _listen(health_app(app, shutdown), metrics_host, settings.metrics_port, 4).start()
        log.info(
            "health and metrics on %s:%d (/healthz, /readyz, /metrics)",
            metrics_host,
            side.port,
        )
    handler = SocketModeHandler(app, settings.slack_app_token)
    log.info("Socket Mode: connecting")
    try:
        handler.connect()
    except Exception as error:
        if side is not None:
            side.close()
        raise _connect_error(error) from None
    shutdown.install_signal_handlers()
    log.info("Socket Mode: connected")
    while not shutdown.requested.wait(WAIT_ROUND_SECONDS):
        pass
    deadline = shutdown.deadline()
    log.info("stopping (%s): disconnecting, finishing the work in flight", shutdown.reason)
    handler.close()
    finished = shutdown.finish(deadline)
    if side is not None:
        side.close()
    _dispose(app)
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
