"""`certops db upgrade | current`: bring the record's schema to this version, or show it.

The database is `--url`, else `DATABASE_URL` (environment or `.env`), else the embedded
SQLite file in the data folder, the same choice the bot makes. Failures are one line on
stderr (exit 1); the URL shown never includes a password.
"""

from __future__ import annotations

import argparse
import json
import sys

from bot import settings as settings_module
from storage import migrate
from storage.db import describe, normalize_url
from storage.errors import DatabaseUnavailable, MigrationError, StorageError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Migrate or inspect the certops database schema."
    )
    parser.add_argument(
        "action",
        choices=["upgrade", "current"],
        help="upgrade: bring the database to the newest schema; current: show its revision",
    )
    parser.add_argument(
        "--url",
        help="database URL (default: DATABASE_URL, else the SQLite file in the data folder)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def _database_url(explicit: str | None) -> str:
    if explicit:
        return explicit
    return settings_module.load().effective_database_url


def _print(payload: dict[str, object], as_json: bool, line: str) -> None:
    print(json.dumps(payload) if as_json else line)


def _code(error: StorageError) -> str:
    if isinstance(error, DatabaseUnavailable):
        return "database_unavailable"
    if isinstance(error, MigrationError):
        return "migration_failed"
    return "storage_error"


def main(argv: list[str], prog: str = "certops db", command: str = "db") -> int:
    parser = _parser(prog)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return EXIT_OK if exit_.code == 0 else EXIT_USAGE
    try:
        url = normalize_url(_database_url(args.url))
        shown = describe(url)
        head = migrate.head_revision()
        if args.action == "upgrade":
            before, after = migrate.upgrade(url)
            changed = before != after
            line = (
                f"database {shown}: upgraded from {before or 'empty'} to {after}"
                if changed
                else f"database {shown}: already at {after} (head)"
            )
            _print(
                {"database": shown, "from": before, "to": after, "head": head, "changed": changed},
                args.json,
                line,
            )
            return EXIT_OK
        current = migrate.current_revision(url)
        state = "empty" if current is None else ("head" if current == head else "behind head")
        _print(
            {"database": shown, "current": current, "head": head, "up_to_date": current == head},
            args.json,
            f"database {shown}: {current or 'no schema'} ({state}; head is {head})",
        )
        return EXIT_OK
    except StorageError as error:
        if args.json:
            print(json.dumps({"error": str(error), "code": _code(error)}))
        print(f"{prog}: {error}", file=sys.stderr)
        return EXIT_FAILED
