"""Shared fixtures: real databases for every test that touches the record.

- `database`: a migrated `storage.db.Database`, parametrised over `sqlite` (a real file
  under tmp_path) and `postgres` (its own database on 127.0.0.1:5432). Both start empty
  and migrated, from a template migrated once per session: on SQLite each test gets its
  own file (a copy); on PostgreSQL each test module gets its own database (`CREATE DATABASE
  ... TEMPLATE`, ~0.35 s), emptied with TRUNCATE after every test (~0.06 s).
- `database_url`: the same, as a URL string (for CLI tests and subprocesses).
- `pg_url`: a migrated PostgreSQL database's URL (two connections, two processes, ...).
- `fresh_pg_url`: the same, but a database of the test's own (for tests that alter it).
- `empty_pg_url` / `empty_database_url`: databases with no schema, for migration tests.

Fixtures shared by several test modules live in tests/support/ and are registered below
(`pytest_plugins`); a module that defines a fixture of the same name uses its own. Test
modules never import one another (tests/test_test_layout.py).

PostgreSQL is looked for once per session at `CERTOPS_TEST_POSTGRES_URL` (default
`postgresql://postgres@127.0.0.1:5432/postgres`). When it does not answer, its tests skip
with the reason; with `CERTOPS_REQUIRE_POSTGRES=1` they fail instead. Every database a test
creates is dropped afterwards (connections to it are terminated first).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import settings
from psycopg import sql
from sqlalchemy.engine import make_url

from storage import migrate
from storage.db import Database

# The helpers' asserts say what they compared, as the asserts in test modules do (several
# helpers, `check_contract` among them, were parts of test modules).
pytest.register_assert_rewrite("tests.support")

# `openssl_pki` (the openssl command line's PKI, made once per session); the services and
# record-CLI tests' PKI, clock, context and DNS servers; the notifier's Web API stand-in.
pytest_plugins = [
    "tests.support.openssl_pki",
    "tests.support.services",
    "tests.support.notify",
    "tests.support.record_cli",
]

# In CI the property-based tests replay a fixed sequence of examples, so a run is
# repeatable; on a developer's machine they explore new examples every run.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

DEFAULT_PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BACKENDS = ["sqlite", "postgres"]


def _admin_conninfo() -> str:
    """The admin URL in libpq form (psycopg does not know SQLAlchemy's +driver suffix)."""
    url = os.environ.get("CERTOPS_TEST_POSTGRES_URL") or DEFAULT_PG_ADMIN_URL
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _require_postgres() -> bool:
    return os.environ.get("CERTOPS_REQUIRE_POSTGRES", "") not in {"", "0", "false", "no"}


def _url_for(database: str) -> str:
    admin = make_url(_admin_conninfo())
    return admin.set(drivername="postgresql+psycopg", database=database).render_as_string(
        hide_password=False
    )


def _admin() -> psycopg.Connection:
    return psycopg.connect(_admin_conninfo(), autocommit=True, connect_timeout=3)


def create_pg_database(prefix: str = "certops_test", template: str | None = None) -> str:
    """Create a uniquely named database (optionally a copy of `template`); return its name."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template:
        statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(template)
        )
    with _admin() as connection:
        connection.execute(statement)
    return name


def drop_pg_database(name: str) -> None:
    """Terminate the database's connections, then drop it."""
    with _admin() as connection:
        connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The admin conninfo of a PostgreSQL server that answers (checked once per session)."""
    conninfo = _admin_conninfo()
    try:
        with _admin() as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as error:
        where = make_url(conninfo).render_as_string(hide_password=True)
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        message = f"no PostgreSQL server answers at {where}: {first}"
        if _require_postgres():
            pytest.fail(f"{message} (CERTOPS_REQUIRE_POSTGRES=1)", pytrace=False)
        pytest.skip(message)
    return conninfo


@pytest.fixture(scope="session")
def _pg_template(postgres_server: str) -> Iterator[str]:
    """A database migrated to head once per session, copied by each test's database."""
    name = create_pg_database("certops_template")
    try:
        migrate.upgrade(_url_for(name))
        yield name
    finally:
        drop_pg_database(name)


def reset_pg_database(name: str) -> None:
    """Empty every table of a migrated database (keeping its schema and revision).

    Connections a test left behind are terminated first, so TRUNCATE cannot wait on them.
    """
    with _admin() as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
    conninfo = make_url(_url_for(name)).set(drivername="postgresql")
    with psycopg.connect(conninfo.render_as_string(hide_password=False), autocommit=True) as db:
        tables = [
            row[0]
            for row in db.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"
            )
        ]
        if tables:
            db.execute("SET lock_timeout = '10s'")
            db.execute(
                sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
                    sql.SQL(", ").join(sql.Identifier(table) for table in tables)
                )
            )


@pytest.fixture(scope="module")
def _pg_module_database(_pg_template: str) -> Iterator[str]:
    """One migrated PostgreSQL database per test module (creating one costs ~0.35 s)."""
    name = create_pg_database(template=_pg_template)
    try:
        yield name
    finally:
        drop_pg_database(name)


@pytest.fixture
def pg_url(_pg_module_database: str) -> Iterator[str]:
    """A migrated PostgreSQL database, empty at the start of the test.

    The database is shared by the tests of one module and emptied (TRUNCATE) after each
    test; its schema must not be changed by a test (use `fresh_pg_url` for that).
    """
    try:
        yield _url_for(_pg_module_database)
    finally:
        reset_pg_database(_pg_module_database)


@pytest.fixture
def fresh_pg_url(_pg_template: str) -> Iterator[str]:
    """A migrated PostgreSQL database of this test's own, dropped after it."""
    name = create_pg_database(template=_pg_template)
    try:
        yield _url_for(name)
    finally:
        drop_pg_database(name)


@pytest.fixture
def empty_pg_url(postgres_server: str) -> Iterator[str]:
    """A fresh PostgreSQL database with no schema at all, dropped after the test."""
    name = create_pg_database("certops_empty")
    try:
        yield _url_for(name)
    finally:
        drop_pg_database(name)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "certops.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, _sqlite_template: Path) -> str:
    """A SQLite file at the head revision, under this test's tmp_path."""
    path = tmp_path / "data" / "certops.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def empty_sqlite_url(tmp_path: Path) -> str:
    """A SQLite URL whose file (and folder) does not exist yet."""
    return f"sqlite:///{tmp_path / 'empty' / 'certops.db'}"


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> str:
    """A migrated database's URL, on SQLite and on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest) -> str:
    """A database with no schema, on SQLite and on PostgreSQL."""
    fixture = "empty_sqlite_url" if request.param == "sqlite" else "empty_pg_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A migrated `Database` on SQLite and on PostgreSQL, one per test."""
    db = Database(database_url)
    try:
        yield db
    finally:
        db.dispose()
