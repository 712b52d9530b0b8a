"""The database handle: one engine per URL, sessions that commit or roll back.

The embedded default is a SQLite file; teams that run several replicas point
`DATABASE_URL` at PostgreSQL, driven by psycopg 3. Whatever goes wrong with reaching the
database surfaces as `DatabaseUnavailable` with one line a person can act on: the raw
driver error (which may be long, and whose URL may hold a password) never reaches a user.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, InterfaceError, OperationalError, ProgrammingError
from sqlalchemy.pool import ConnectionPoolEntry

from storage.errors import DatabaseUnavailable

if TYPE_CHECKING:  # SQLModel (and pydantic, the ORM) load with the first session only
    from sqlmodel import Session

SQLITE_BUSY_TIMEOUT_MS = 10_000
POSTGRES_CONNECT_TIMEOUT_S = 5


def normalize_url(url: str | URL) -> URL:
    """Parse a database URL; plain `postgresql://` (or `postgres://`) means psycopg 3."""
    raw = url if isinstance(url, URL) else _parse(url)
    if raw.drivername in {"postgresql", "postgres"}:
        raw = raw.set(drivername="postgresql+psycopg")
    return raw


def _parse(url: str) -> URL:
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    try:
        return make_url(url)
    except ArgumentError:
        raise DatabaseUnavailable("DATABASE_URL is not a database URL") from None


def describe(url: URL) -> str:
    """The URL as it may be shown to a person: never the password."""
    return url.render_as_string(hide_password=True)


def reason(error: BaseException) -> str:
    """The first line of a driver error, with anything password-like blanked out."""
    original = getattr(error, "orig", None) or error
    first = (str(original).strip().splitlines() or [type(original).__name__])[0]
    first = re.sub(r"(password\s*[=:]\s*)\S+", r"\1***", first, flags=re.IGNORECASE)
    first = re.sub(r"://([^:/@\s]+):[^@\s]+@", r"://\1:***@", first)
    return first.strip().rstrip(".")


def schema_missing(error: BaseException) -> bool:
    """Whether a driver error says a table or column does not exist (not migrated yet)."""
    original = getattr(error, "orig", None)
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate in {"42P01", "42703"}:  # undefined_table, undefined_column
        return True
    text_ = str(original or error)
    return text_.startswith(("no such table", "no such column")) or "has no column named" in text_


# SQLite reports bad SQL as OperationalError too: only these messages mean the file
# cannot be used (as opposed to a bug in a query, which must stay loud).
SQLITE_UNAVAILABLE = (
    "unable to open database file",
    "database is locked",
    "disk i/o error",
    "attempt to write a readonly database",
    "database or disk is full",
    "file is not a database",
    "database disk image is malformed",
)


def is_unavailable(error: BaseException) -> bool:
    """Whether a driver error means the database cannot be reached or used at all."""
    if isinstance(error, InterfaceError):
        return True
    if not isinstance(error, OperationalError):
        return False
    original = getattr(error, "orig", None)
    if type(original).__module__.startswith("sqlite3"):
        message = str(original).lower()
        return any(marker in message for marker in SQLITE_UNAVAILABLE)
    return True


def unavailable(url: URL, error: BaseException) -> DatabaseUnavailable:
    """The one-line error for a database that cannot be used."""
    return DatabaseUnavailable(f"database unavailable ({describe(url)}): {reason(error)}")


def sqlite_path(url: URL) -> Path | None:
    """The file behind a SQLite URL, or None for memory databases and other backends."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in {"", ":memory:"} or database.startswith("file:"):
        return None
    return Path(database)


def ensure_sqlite_folder(url: URL) -> None:
    """Create the SQLite file's folder, so a fresh data folder just works."""
    path = sqlite_path(url)
    if path is None:
        return
    try:
        path.expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DatabaseUnavailable(
            f"database unavailable ({describe(url)}): cannot create the folder "
            f"{path.parent}: {error.strerror or error}"
        ) from None


def _sqlite_pragmas(foreign_keys: bool) -> Any:
    """Per-connection SQLite settings: enforced foreign keys, WAL, and waiting on locks."""

    def on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin: the
        # module's own implicit BEGIN breaks SAVEPOINTs (used to catch a taken name).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    return on_connect


def _sqlite_begin_immediate(connection: Connection) -> None:
    """Take SQLite's write lock when a transaction starts, not at its first write.

    With a deferred BEGIN, two sessions that both read and then write make the second one
    fail at once with "database is locked"; with IMMEDIATE it waits (busy timeout) and then
    sees the first one's rows, so a taken name is reported as such.
    """
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def build_engine(url: str | URL, *, foreign_keys: bool = True, echo: bool = False) -> Engine:
    """An engine for `url` with this project's per-backend settings.

    `foreign_keys=False` is for migrations on SQLite, which rebuild tables in batch mode
    and must not trip over (or cascade through) references while doing so.
    """
    parsed = normalize_url(url)
    backend = parsed.get_backend_name()
    kwargs: dict[str, Any] = {"echo": echo}
    if backend == "sqlite":
        ensure_sqlite_folder(parsed)
        kwargs["connect_args"] = {
            "check_same_thread": False,
            "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
        }
    elif backend == "postgresql":
        kwargs["pool_pre_ping"] = True
        kwargs["connect_args"] = {"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S}
    try:
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, ImportError) as error:
        raise DatabaseUnavailable(
            f"database unavailable ({describe(parsed)}): unsupported URL ({reason(error)})"
        ) from None
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas(foreign_keys))
        event.listen(engine, "begin", _sqlite_begin_immediate)
    return engine


class Database:
    """A database by URL: `with db.session() as s:` commits on success, rolls back on error.

    Sessions keep loaded objects usable after the block (`expire_on_commit=False`), so a
    service can return the rows it wrote to a handler that renders them.
    """

    def __init__(self, url: str | URL, *, echo: bool = False) -> None:
        self.url = normalize_url(url)
        self.engine = build_engine(self.url, echo=echo)

    @property
    def backend(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.url.get_backend_name()

    def __repr__(self) -> str:
        return f"Database({describe(self.url)!r})"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back if it raises."""
        from sqlmodel import Session

        session = Session(self.engine, expire_on_commit=False)
        try:
            with self._errors():
                try:
                    yield session
                    session.commit()
                except BaseException:
                    session.rollback()
                    raise
        finally:
            session.close()

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A SQLAlchemy Core connection for read-only queries, with the errors of `session()`.

        What `certops cert list` reads through: Core alone, without the ORM, SQLModel and
        pydantic, whose import was most of that command's time (issue 16). The transaction
        is rolled back at the end: nothing read this way is written.
        """
        with self._errors(), self.engine.connect() as connection:
            yield connection

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A SQLAlchemy Core connection in a transaction: committed when the block ends,
        rolled back if it raises, with the errors of `session()`.

        What a submission writes through (`storage.writing`), so that `certops cert
        submit` needs no ORM either (issue 16); `session_in()` lets ORM code join it.
        """
        with self._errors(), self.engine.begin() as connection:
            yield connection

    @staticmethod
    @contextmanager
    def session_in(connection: Connection) -> Iterator[Session]:
        """An ORM session in the transaction of a `writing()` connection, for the rules
        written with the ORM: flushed at the end of the block, committed (or rolled back)
        with the connection's transaction, never on its own."""
        from sqlmodel import Session

        session = Session(
            bind=connection, expire_on_commit=False, join_transaction_mode="rollback_only"
        )
        try:
            yield session
            session.flush()
        finally:
            session.close()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Driver errors as `DatabaseUnavailable` (one line); a bug in a query stays loud."""
        try:
            yield
        except (OperationalError, InterfaceError, ProgrammingError) as error:
            if schema_missing(error):
                raise DatabaseUnavailable(
                    f"database {describe(self.url)} has no certops schema, or an older one "
                    f"({reason(error)}): run 'certops db upgrade'"
                ) from None
            if not is_unavailable(error):
                raise
            raise unavailable(self.url, error) from None

    def check(self) -> None:
        """Connect once and run a trivial query; raise `DatabaseUnavailable` if that fails."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except (OperationalError, InterfaceError) as error:
            raise unavailable(self.url, error) from None

    def revision(self) -> str | None:
        """The schema's Alembic revision in one query (None: never migrated).

        Lets a start-up at the head revision skip Alembic, whose import alone cost the
        record commands a quarter of a second (issue 16); `DatabaseUnavailable` if the
        database does not answer, as `check()`.
        """
        try:
            with self.engine.connect() as connection:
                found = connection.execute(text("SELECT version_num FROM alembic_version"))
                versions = [str(row[0]) for row in found]
        except (OperationalError, InterfaceError, ProgrammingError) as error:
            if schema_missing(error):
                return None
            if isinstance(error, ProgrammingError) or not is_unavailable(error):
                raise
            raise unavailable(self.url, error) from None
        return versions[0] if len(versions) == 1 else None

    def dispose(self) -> None:
        """Close every pooled connection (tests dropping a database need this)."""
        self.engine.dispose()
