"""Alembic migrations: from empty, from every revision, down and up, and in step with the
models, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (the tables on SQLModel.metadata)
from storage import migrate
from storage.db import build_engine
from storage.errors import MigrationError

ROOT = Path(__file__).resolve().parent.parent
TABLES = {
    "environment",
    "certificate",
    "assignment",
    "support_ticket",
    "notification",
    "audit_event",
    "warning_silence",
    "tls_check",
    "slack_delivery",
    "channel_pace",
    "served_probe",
}


def _tables(url: str) -> set[str]:
    engine = build_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _diffs(url: str, metadata: sa.MetaData) -> list[object]:
    engine = build_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": True}
            )
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def test_revisions_form_one_line_ending_at_head() -> None:
    revisions = migrate.revisions()
    assert revisions, "at least the initial revision"
    assert revisions[0] == "0001_initial"
    assert revisions[-1] == migrate.head_revision()
    assert len(set(revisions)) == len(revisions)


def test_upgrade_from_empty_to_head(empty_database_url: str) -> None:
    assert migrate.current_revision(empty_database_url) is None
    before, after = migrate.upgrade(empty_database_url)
    assert (before, after) == (None, migrate.head_revision())
    assert migrate.current_revision(empty_database_url) == migrate.head_revision()
    assert _tables(empty_database_url) == TABLES
    # Upgrading again is a no-op that says so.
    assert migrate.upgrade(empty_database_url) == (after, after)


def test_downgrade_to_base_and_up_again(empty_database_url: str) -> None:
    head = migrate.head_revision()
    migrate.upgrade(empty_database_url)
    assert migrate.downgrade(empty_database_url, "base") == (head, None)
    assert _tables(empty_database_url) == set()
    assert migrate.current_revision(empty_database_url) is None
    assert migrate.upgrade(empty_database_url) == (None, head)
    assert _tables(empty_database_url) == TABLES
    assert _diffs(empty_database_url, SQLModel.metadata) == []


def test_upgrade_from_every_earlier_revision(empty_database_url: str) -> None:
    head = migrate.head_revision()
    for revision in migrate.revisions():
        migrate.downgrade(empty_database_url, "base")
        assert migrate.upgrade(empty_database_url, revision) == (None, revision)
        assert migrate.upgrade(empty_database_url) == (revision, head)
        assert _diffs(empty_database_url, SQLModel.metadata) == [], f"from {revision}"


def test_models_and_migrated_schema_agree(database_url: str) -> None:
    assert _diffs(database_url, SQLModel.metadata) == []


def test_the_comparison_would_notice_a_difference(database_url: str) -> None:
    changed = sa.MetaData(naming_convention=SQLModel.metadata.naming_convention)
    for table in SQLModel.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["environment"].append_column(sa.Column("region", sa.String(), nullable=True))
    diffs = _diffs(database_url, changed)
    assert len(diffs) == 1 and diffs[0][0] == "add_column"  # type: ignore[index]


def test_partial_index_is_in_the_migrated_schema(database_url: str) -> None:
    engine = build_engine(database_url)
    try:
        indexes = {i["name"]: i for i in sa.inspect(engine).get_indexes("assignment")}
        if engine.dialect.name == "sqlite":
            with engine.connect() as connection:
                ddl = connection.execute(
                    sa.text("SELECT sql FROM sqlite_master WHERE name = :n"),
                    {"n": "uq_assignment_current_per_environment"},
                ).scalar_one()
        else:
            with engine.connect() as connection:
                ddl = connection.execute(
                    sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"),
                    {"n": "uq_assignment_current_per_environment"},
                ).scalar_one()
    finally:
        engine.dispose()
    index = indexes["uq_assignment_current_per_environment"]
    assert index["unique"] and index["column_names"] == ["environment_id"]
    assert "WHERE" in ddl.upper() and "updating" in ddl and "active" in ddl


def test_concurrent_upgrades_on_postgres_migrate_once(empty_pg_url: str) -> None:
    results: list[tuple[str | None, str | None]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(3, timeout=20)

    def run() -> None:
        try:
            barrier.wait()
            results.append(migrate.upgrade(empty_pg_url))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    head = migrate.head_revision()
    assert errors == []
    assert sorted(results, key=str) == sorted([(None, head), (head, head), (head, head)], key=str)


@pytest.fixture
def unknown_revision_url(empty_database_url: str) -> Iterator[str]:
    migrate.upgrade(empty_database_url)
    engine = build_engine(empty_database_url)
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE alembic_version SET version_num = 'ffff_from_the_future'")
        )
    engine.dispose()
    yield empty_database_url


def test_a_database_from_a_newer_certops_is_a_clear_error(unknown_revision_url: str) -> None:
    with pytest.raises(MigrationError, match="ffff_from_the_future") as caught:
        migrate.upgrade(unknown_revision_url)
    assert "\n" not in str(caught.value)


def test_migrations_ship_inside_the_package() -> None:
    from setuptools import find_packages

    packages = find_packages(str(ROOT), include=["bot*", "handlers*", "storage*"])
    assert {"storage", "storage.migrations", "storage.migrations.versions"} <= set(packages)
    location = Path(migrate.SCRIPT_LOCATION)
    assert location == ROOT / "storage" / "migrations"
    assert (location / "env.py").is_file() and (location / "script.py.mako").is_file()
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"*.mako"' in pyproject, "package-data must carry script.py.mako"


# Column names that would mean a secret is stored. key_type and key_bits are public facts.
SECRET_NAME = re.compile(
    r"password|passphrase|passwd|secret|private|pkcs12|pfx|p12|pkcs8|token|(^|_)key($|_(?!type$|bits$))",
    re.IGNORECASE,
)


def test_the_secret_pattern_catches_what_it_should() -> None:
    for bad in ("private_key", "key_pem", "key", "pfx_blob", "zip_password", "key_passphrase"):
        assert SECRET_NAME.search(bad), bad
    for fine in ("key_type", "key_bits", "fingerprint_sha256", "certificate_pem", "chain_pem"):
        assert not SECRET_NAME.search(fine), fine


def test_no_column_suggests_key_or_password_storage(database_url: str) -> None:
    engine = build_engine(database_url)
    try:
        inspector = sa.inspect(engine)
        columns = [
            f"{table}.{column['name']}"
            for table in inspector.get_table_names()
            for column in inspector.get_columns(table)
        ]
    finally:
        engine.dispose()
    model_columns = [
        f"{t.name}.{c.name}" for t in SQLModel.metadata.sorted_tables for c in t.columns
    ]
    assert len(columns) >= len(model_columns) > 50
    offending = [name for name in columns + model_columns if SECRET_NAME.search(name.split(".")[1])]
    assert offending == []
