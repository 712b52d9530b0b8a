"""`certops console [--user U] [--admin]`: talk to the bot from a terminal.

The real Bolt app and handlers run over a local stand-in for Slack on loopback (see
bot/console), on the configured database (the embedded SQLite file by default).
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from bot.cli import startup
from bot.console.session import DEFAULT_USER, loop, open_session
from bot.settings import Settings


def parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog, description="Type /cert commands and read the bot's answers."
    )
    p.add_argument(
        "--user", default=DEFAULT_USER, help=f"Slack user id to act as (default {DEFAULT_USER})"
    )
    p.add_argument("--admin", action="store_true", help="act as an admin")
    return p


def run_console(
    settings: Settings,
    *,
    user_id: str = DEFAULT_USER,
    admin: bool = False,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    """Upgrade the database, then run the console loop until EOF or /quit."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    try:
        database = startup.open_database(settings)  # the same start-up as `certops run`
    except startup.StartupError as error:
        return startup.fail("certops run", str(error))
    try:
        with open_session(settings, user_id=user_id, admin=admin, database=database) as session:
            from bot.app import create_client
            from bot.scheduler import start_scheduler

            client = create_client(session.settings)
            # Warnings show in the console too; on the session's services, so /time's
            # clock is the scheduler's.
            scheduler = start_scheduler(
                session.settings, session.deps.services, client, tls_config=session.jobs.tls_config
            )
            try:
                return loop(session, stdin, stdout, prompt=stdin.isatty())
            finally:
                scheduler.stop()
    finally:
        database.dispose()


def main(argv: list[str], prog: str = "certops console", command: str = "console") -> int:
    args = parser(prog).parse_args(argv)
    try:
        settings = startup.load_settings()
    except startup.UsageError as error:
        return startup.fail(prog, str(error), startup.EXIT_USAGE)
    from bot.logging_setup import configure

    configure(settings, level=30)  # warnings only: the terminal is for the conversation
    return run_console(settings, user_id=args.user.strip().upper(), admin=args.admin)
