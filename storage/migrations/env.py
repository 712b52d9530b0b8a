"""Alembic's entry point, run by `storage.migrate` with a connection already open.

There is no alembic.ini: `storage.migrate` builds the configuration in code and hands the
connection over in `config.attributes["connection"]`, so the same code path serves the CLI,
the bot's start-up and the tests. SQLite gets batch mode, which rebuilds a table to alter it.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables on the metadata)

target_metadata = SQLModel.metadata


def run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    if context.is_offline_mode():
        raise RuntimeError("certops migrations run online only (storage.migrate.upgrade)")
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through storage.migrate, which opens the connection")
    run_with(connection)


run()
