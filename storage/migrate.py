"""Schema migrations, run in code: `upgrade(url)` brings any database to the head revision.

Alembic is configured programmatically (no alembic.ini), with the scripts shipped inside
the package (`storage/migrations`), so an installed certops can upgrade its own database:
the CLI (`certops db upgrade`) and the bot's start-up call the same function. On PostgreSQL
an advisory lock serialises replicas that start at the same moment; the migration itself
runs in one transaction there, so a failure leaves the previous schema in place.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from storage import migrations as migrations_package
from storage.db import build_engine, describe, is_unavailable, normalize_url, reason, unavailable
from storage.errors import MigrationError

# A filesystem path, not "package:folder": the package-resource form breaks when `storage`
# is seen as a namespace package (editable installs), and the scripts ship as plain files.
SCRIPT_LOCATION = str(Path(migrations_package.__file__).resolve().parent)
# An arbitrary, fixed key for pg_advisory_lock: "certops" as a number.
ADVISORY_LOCK_KEY = 0x636572746F7073


def alembic_config() -> Config:
    """Alembic's configuration for the packaged migration scripts."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return config


def script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest revision this code knows."""
    head = script_directory().get_current_head()
    if head is None:
        raise MigrationError("no migration scripts found in the certops package")
    return head


def revisions() -> list[str]:
    """Every known revision, oldest first."""
    return [script.revision for script in reversed(list(script_directory().walk_revisions()))]


@contextmanager
def _connection(url: str | URL) -> Iterator[Connection]:
    """A connection for migrating; driver failures become `DatabaseUnavailable`."""
    parsed = normalize_url(url)
    engine = build_engine(parsed, foreign_keys=False)
    try:
        with engine.connect() as connection:
            yield connection
    except (OperationalError, InterfaceError) as error:
        if not is_unavailable(error):
            raise MigrationError(
                f"migration failed on {describe(parsed)}: {reason(error)}"
            ) from None
        raise unavailable(parsed, error) from None
    except DBAPIError as error:
        raise MigrationError(f"migration failed on {describe(parsed)}: {reason(error)}") from None
    finally:
        engine.dispose()


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def _migration_lock(connection: Connection) -> Iterator[None]:
    """Serialise concurrent migrations on PostgreSQL (SQLite locks the file itself)."""
    if connection.dialect.name != "postgresql":
        yield
        return
    connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    connection.commit()
    try:
        yield
    finally:
        connection.rollback()
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
        connection.commit()


def _run(url: str | URL, action: str, revision: str) -> tuple[str | None, str | None]:
    config = alembic_config()
    with _connection(url) as connection, _migration_lock(connection):
        before = _current(connection)
        connection.commit()
        config.attributes["connection"] = connection
        try:
            if action == "upgrade":
                command.upgrade(config, revision)
            else:
                command.downgrade(config, revision)
        except CommandError as error:
            connection.rollback()
            raise MigrationError(f"cannot {action} the database: {error}") from None
        connection.commit()
        after = _current(connection)
        connection.commit()
    return before, after


def upgrade(url: str | URL, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the database to `revision` (default: head); returns (from, to) revisions."""
    return _run(url, "upgrade", revision)


def downgrade(url: str | URL, revision: str) -> tuple[str | None, str | None]:
    """Take the database back to `revision` (`base` empties it); returns (from, to)."""
    return _run(url, "downgrade", revision)


def current_revision(url: str | URL) -> str | None:
    """The database's revision, or None when it has never been migrated."""
    with _connection(url) as connection:
        return _current(connection)
