"""The Database handle: URLs, SQLite settings, sessions, and one-line failures."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import select

from storage import migrate
from storage.db import Database, normalize_url
from storage.errors import DatabaseUnavailable
from storage.models import Environment
from tests.support.rows import make_environment


def _closed_port() -> int:
    """A loopback port where nothing listens (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgres://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
        ("sqlite:///data/certops.db", "sqlite"),
    ],
)
def test_plain_postgresql_urls_mean_psycopg3(given: str, driver: str) -> None:
    assert normalize_url(given).drivername == driver


def test_not_a_url_is_a_clear_error() -> None:
    with pytest.raises(DatabaseUnavailable, match="DATABASE_URL is not a database URL"):
        Database("not a url at all")


def test_unreachable_postgres_is_one_line_without_the_password() -> None:
    port = _closed_port()
    database = Database(f"postgresql://certops:s3cret-pw@127.0.0.1:{port}/certops")
    with pytest.raises(DatabaseUnavailable) as caught:
        database.check()
    message = str(caught.value)
    assert "\n" not in message
    assert "s3cret-pw" not in message
    assert f"127.0.0.1:{port}" in message and "database unavailable" in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    with pytest.raises(DatabaseUnavailable), database.session() as session:
        session.exec(select(Environment)).all()


def test_unreachable_postgres_for_migrations_too() -> None:
    url = f"postgresql://postgres@127.0.0.1:{_closed_port()}/certops"
    with pytest.raises(DatabaseUnavailable, match="database unavailable"):
        migrate.upgrade(url)
    with pytest.raises(DatabaseUnavailable, match="database unavailable"):
        migrate.current_revision(url)


def test_sqlite_in_an_unwritable_place(tmp_path: Path) -> None:
    # Running as root ignores permission bits, so make the folder impossible instead:
    # its would-be parent is a regular file.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(DatabaseUnavailable, match="cannot create the folder") as caught:
        Database(f"sqlite:///{blocker / 'data' / 'certops.db'}")
    assert "\n" not in str(caught.value)


def test_sqlite_file_that_cannot_be_opened(tmp_path: Path) -> None:
    folder = tmp_path / "is-a-folder.db"
    folder.mkdir()
    database = Database(f"sqlite:///{folder}")
    with pytest.raises(DatabaseUnavailable, match="unable to open database file"):
        database.check()
    with pytest.raises(DatabaseUnavailable, match="unable to open database file"):
        migrate.upgrade(f"sqlite:///{folder}")


def test_sqlite_folder_is_created_and_pragmas_are_set(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "nested" / "certops.db"
    database = Database(f"sqlite:///{path}")
    database.check()
    assert path.is_file()
    with database.engine.connect() as connection:
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 10_000
    assert database.backend == "sqlite"
    database.dispose()


def test_session_commits_on_success_and_rolls_back_on_error(database: Database) -> None:
    with database.session() as session:
        session.add(make_environment("kept"))
    with pytest.raises(RuntimeError, match="boom"), database.session() as session:
        session.add(make_environment("dropped"))
        session.flush()
        raise RuntimeError("boom")
    with database.session() as session:
        names = [e.name for e in session.exec(select(Environment)).all()]
    assert names == ["kept"]


def test_objects_stay_readable_after_the_session(database: Database) -> None:
    with database.session() as session:
        env = make_environment("acme-dev")
        session.add(env)
    assert env.id is not None and env.name == "acme-dev"


def test_repr_hides_the_password() -> None:
    database = Database("postgresql://certops:pw-123@127.0.0.1:5432/certops")
    assert "pw-123" not in repr(database)
    assert database.backend == "postgresql"
    database.dispose()


def test_unmigrated_database_says_to_upgrade(empty_database_url: str) -> None:
    database = Database(empty_database_url)
    with pytest.raises(DatabaseUnavailable) as caught, database.session() as session:
        session.exec(select(Environment)).all()
    database.dispose()
    message = str(caught.value)
    assert "run 'certops db upgrade'" in message and "environment" in message
    assert "\n" not in message


def test_other_programming_errors_are_not_disguised(database: Database) -> None:
    from sqlalchemy.exc import DBAPIError

    with pytest.raises(DBAPIError), database.session() as session:
        session.connection().execute(text("SELEC nonsense"))
