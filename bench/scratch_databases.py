"""Throwaway databases for the benchmarks: a SQLite file and a PostgreSQL database.

Every benchmark that prints a figure for both databases needs the same set-up: a
temporary SQLite file, and a PostgreSQL database created for the run and dropped after
(connections terminated first). One place, so a bench never leaves a database behind.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def scratch_sqlite() -> Iterator[str]:
    """A SQLAlchemy URL of a SQLite file in a folder removed afterwards."""
    with tempfile.TemporaryDirectory() as folder:
        yield f"sqlite:///{Path(folder) / 'bench.db'}"


@contextmanager
def scratch_postgres(admin_url: str = DEFAULT_ADMIN_URL) -> Iterator[str | None]:
    """A SQLAlchemy URL of a new PostgreSQL database, dropped afterwards.

    Yields None (after printing why) when no server answers, so a bench still prints
    its SQLite figures on a machine without PostgreSQL.
    """
    import psycopg
    from psycopg import sql

    conninfo = admin_url.replace("postgresql+psycopg://", "postgresql://", 1)
    name = f"certops_bench_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=3) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error as error:
        print(f"PostgreSQL skipped: no server answers at {conninfo} ({type(error).__name__})")
        yield None
        return
    try:
        base = conninfo.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(conninfo, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
