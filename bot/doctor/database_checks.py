"""Checks of the database: it answers, and its schema is the one this code expects."""

from __future__ import annotations

from bot.doctor.result import CheckResult, fail, ok, skip
from bot.settings import Settings
from storage.db import Database, describe
from storage.errors import StorageError

UPGRADE_FIX = "run 'certops db upgrade' (certops run also upgrades at start)"


def reachable(settings: Settings) -> tuple[CheckResult, Database | None]:
    """The database answers a trivial query; returns the open handle for later checks."""
    try:
        database = Database(settings.effective_database_url)
        database.check()
    except StorageError as error:
        return (
            fail(
                "database",
                str(error),
                "check DATABASE_URL (host, port, name, user, password) and that the server "
                "runs; for the SQLite default, that CERTOPS_DATA_DIR is writable",
            ),
            None,
        )
    return ok("database", f"reachable: {describe(database.url)}"), database


def migrated(settings: Settings, database: Database | None) -> CheckResult:
    """The database is at the newest revision this certops knows."""
    if database is None:
        return skip("migration", "not checked: the database is not reachable")
    from storage import migrate

    try:
        head = migrate.head_revision()
        current = migrate.current_revision(database.url)
        known = set(migrate.revisions())
    except StorageError as error:
        return fail("migration", str(error), UPGRADE_FIX)
    if current == head:
        return ok("migration", f"at the current revision {head}")
    if current is None:
        return fail("migration", "the database has no certops schema yet", UPGRADE_FIX)
    if current not in known:
        return fail(
            "migration",
            f"the database is at revision {current}, which this certops does not know "
            "(a newer certops migrated it)",
            "run the same certops version as the other replicas",
        )
    return fail("migration", f"the database is at revision {current}, not {head}", UPGRADE_FIX)


def notification_channels(settings: Settings, database: Database | None) -> list[str]:
    """The channels the bot posts to: the default one and every environment's."""
    channels: list[str] = []
    if settings.default_channel:
        channels.append(settings.default_channel)
    if database is None:
        return channels
    from sqlmodel import select

    from storage.models import Environment

    try:
        with database.session() as session:
            rows = session.exec(select(Environment.channel).where(Environment.channel.is_not(None)))  # type: ignore[union-attr]
            for channel in rows.all():
                if channel and channel not in channels:
                    channels.append(channel)
    except StorageError:
        pass  # reported by the migration check
    return channels
