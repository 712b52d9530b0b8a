"""`certops run [--http] [--port N]`: the bot, in Socket Mode, HTTP mode or console mode.

- Socket Mode when SLACK_BOT_TOKEN and SLACK_APP_TOKEN are set (no public URL needed).
- HTTP with `--http`: waitress serves Bolt's WSGI adapter on /slack/events (commands,
  events, interactivity), every request's signature checked with SLACK_SIGNING_SECRET.
- No Slack tokens: say so in one line and start console mode.

The database is upgraded first. Every failure is one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

from bot.cli import startup
from bot.cli.startup import EXIT_USAGE, StartupError, UsageError

if TYPE_CHECKING:
    from slack_bolt import App

    from bot.settings import Settings

DEFAULT_PORT = 3000
HTTP_THREADS = 16

log = logging.getLogger("certops")


def parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Run the certops Slack bot.")
    p.add_argument(
        "--http", action="store_true", help="serve HTTP on /slack/events instead of Socket Mode"
    )
    p.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"HTTP port (default {DEFAULT_PORT})"
    )
    p.add_argument("--host", default="0.0.0.0", help="HTTP address to listen on (default 0.0.0.0)")
    return p


def fail(message: str) -> int:
    return startup.fail("certops run", message)


def mode_problem(settings: Settings, http: bool) -> str | None:
    """Why the chosen mode cannot start with these settings, in one sentence."""
    if http:
        if not settings.slack_signing_secret:
            return "HTTP mode needs SLACK_SIGNING_SECRET (the app's Signing Secret)"
        if not settings.slack_bot_token:
            return "HTTP mode needs SLACK_BOT_TOKEN (the xoxb- Bot User OAuth Token)"
        return None
    if not settings.slack_bot_token:
        return "Socket Mode needs SLACK_BOT_TOKEN (the xoxb- Bot User OAuth Token)"
    if not settings.slack_app_token:
        return "Socket Mode needs SLACK_APP_TOKEN (an xapp- token); or use --http with SLACK_SIGNING_SECRET"
    return None


def main(argv: list[str], prog: str = "certops run", command: str = "run") -> int:
    """Run the bot; whatever stops it is one line on stderr, never a traceback."""
    try:
        return start(argv, prog)
    except Exception as error:
        from bot.logging_setup import redact_text

        first = (str(error).strip().splitlines() or [""])[0]
        return fail(redact_text(f"stopped: {type(error).__name__}: {first}"))


def start(argv: list[str], prog: str) -> int:
    args = parser(prog).parse_args(argv)
    try:
        settings = startup.load_settings()
    except UsageError as error:
        return startup.fail(prog, str(error), EXIT_USAGE)
    if not (1 <= args.port <= 65535):
        print(f"{prog}: --port must be 1-65535", file=sys.stderr)
        return EXIT_USAGE
    from bot.logging_setup import configure

    if not args.http and not settings.slack_bot_token and not settings.slack_app_token:
        print(
            "No Slack tokens (SLACK_BOT_TOKEN, SLACK_APP_TOKEN): starting console mode on "
            f"{describe_database(settings)}, as an admin; type /cert help.",
            file=sys.stderr,
        )
        from bot.cli.console import run_console

        configure(settings, level=logging.WARNING)
        # The person at the terminal runs the bot, so they are its operator: an admin,
        # as on every other terminal command.
        return run_console(settings, admin=True)
    problem = mode_problem(settings, args.http)
    if problem:
        return fail(problem)
    configure(settings)
    from bot.memory import limit_arenas

    limit_arenas()  # before any thread: freed memory goes back (bot/memory.py)
    try:
        database = startup.open_database(settings)
    except StartupError as error:
        return fail(str(error))
    from bot.app import create_app

    app = create_app(settings, database=database)
    from bot.shutdown import shutdown_for

    shutdown = shutdown_for(app)
    # SIGTERM stops the ticks and cuts a rate-limit wait short at once; the callback then
    # gives back the claims not yet posting and waits for the tick within the grace left.
    scheduler = startup.start_scheduler(settings, database, app.client, shutdown.requested)
    shutdown.on_shutdown(lambda: scheduler.stop(shutdown.remaining()), name="scheduler")
    try:
        if args.http:
            return serve_http(app, args.host, args.port)
        return serve_socket_mode(app, settings, args.host)
    finally:
        scheduler.stop(shutdown.remaining())  # at once when the callback has stopped it


def describe_database(settings: Settings) -> str:
    from storage.db import describe, normalize_url

    try:
        return describe(normalize_url(settings.effective_database_url))
    except Exception:
        return "the configured database"


def serve_http(app: App, host: str, port: int) -> int:
    """Slack and /healthz, /readyz, /metrics on one port; a clean stop on SIGTERM."""
    from bot.serving import ServeError
    from bot.serving import serve_http as serve

    try:
        return serve(app, host, port, threads=HTTP_THREADS)
    except ServeError as error:
        return fail(str(error))


def serve_socket_mode(app: App, settings: Settings, host: str = "0.0.0.0") -> int:
    """Socket Mode (and CERTOPS_METRICS_PORT when set); a clean stop on SIGTERM."""
    from bot.serving import ServeError
    from bot.serving import serve_socket_mode as serve

    try:
        return serve(app, settings, metrics_host=host)
    except ServeError as error:
        return fail(str(error))
