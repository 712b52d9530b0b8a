"""What the record commands import to start (issue 16): only what they use.

Timings go to bench/bench_cli.py; here, the structure that makes them fast: no Alembic
when the database is already at the head revision (one query of `alembic_version`
against `storage.schema_version.HEAD_REVISION`), no DNS, Slack or validation pipeline
for `cert list`. Each command runs in a real process, as at the terminal.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli.record_text import RENDERERS
from storage import migrate, reading
from storage.db import Database
from storage.schema_version import HEAD_REVISION

ROOT = Path(__file__).resolve().parent.parent
# Run a certops command, then print the top-level packages it imported (as JSON).
PROBE = (
    "import sys, json, atexit\n"
    "atexit.register(lambda: print('MODULES=' + json.dumps(sorted(sys.modules))))\n"
    "from bot.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)
NEVER = ("alembic", "dns", "slack_sdk", "slack_bolt")


def imported(url: str, cwd: Path, *argv: str) -> tuple[int, set[str], str]:
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("MODULES="))
    return done.returncode, set(json.loads(line.removeprefix("MODULES="))), done.stdout


def test_the_head_revision_constant_is_the_migrations_head() -> None:
    assert migrate.head_revision() == HEAD_REVISION


def test_cert_list_at_head_imports_no_alembic_dns_slack_or_pipeline(
    sqlite_url: str, tmp_path: Path
) -> None:
    code, modules, _ = imported(sqlite_url, tmp_path, "cert", "list")
    assert code == 0
    assert not {m for m in modules if m.split(".")[0] in NEVER}
    assert not {m for m in modules if m.startswith("bot.pipeline")}
    assert "cryptography.x509" not in modules
    assert "bot.services.certificates" not in modules


def test_cert_submit_at_head_imports_no_alembic_dns_slack_or_orm(
    sqlite_url: str, tmp_path: Path
) -> None:
    from tests.support.pki import CA

    root = CA.root("Startup Root")
    leaf = root.leaf(sans=["app.example.com"])
    (tmp_path / "app.pem").write_bytes(leaf.pem + root.issued.pem)
    (tmp_path / "app.key").write_bytes(leaf.key_pem(None))
    (tmp_path / "root.pem").write_bytes(root.issued.pem)
    code, modules, out = imported(
        sqlite_url,
        tmp_path,
        "cert",
        "submit",
        "--trust-store",
        "root.pem",
        "--name",
        "app",
        "app.pem",
        "app.key",
    )
    assert code == 0, out
    assert not {m for m in modules if m.split(".")[0] in NEVER}
    # Stored through SQLAlchemy Core (storage.writing): no SQLModel, pydantic or ORM, and
    # no PostgreSQL dialect for a SQLite record.
    assert not {m for m in modules if m.split(".")[0] in ("sqlmodel", "pydantic")}
    assert "sqlalchemy.orm" not in modules
    assert "sqlalchemy.dialects.postgresql" not in modules
    assert "storage.models" not in modules and "storage.queries" not in modules
    database = Database(sqlite_url)
    with database.reading() as connection:
        assert [row.name for row in reading.certificates_by_name(connection)] == ["app"]
    database.dispose()


# Every record verb that reads, as at the terminal; each runs against a record that holds
# one environment and one certificate (renewing another), so `show` finds what it shows.
RECORD_READS = (
    ("cert", "list"),
    ("cert", "list", "--status", "validated", "--json"),
    ("cert", "show", "acme-2027"),
    ("env", "list"),
    ("env", "show", "acme-dev"),
    ("ticket", "list"),
    ("audit",),
)


@pytest.fixture
def filled_sqlite_url(sqlite_url: str) -> str:
    from tests.support.rows import make_certificate, make_environment

    database = Database(sqlite_url)
    with database.session() as session:
        report = {"verdict": "valid", "findings": []}
        old = make_certificate("acme-2026", fingerprint_sha256="cd" * 32, report=report)
        session.add(old)
        session.flush()
        session.add(make_certificate(renews_id=old.id, report=report))
        session.add(make_environment())
    database.dispose()
    return sqlite_url


@pytest.mark.parametrize("argv", RECORD_READS, ids=" ".join)
def test_record_reads_import_no_alembic_dns_or_slack(
    filled_sqlite_url: str, tmp_path: Path, argv: tuple[str, ...]
) -> None:
    code, modules, out = imported(filled_sqlite_url, tmp_path, *argv)
    assert code == 0, out
    assert not {m for m in modules if m.split(".")[0] in NEVER}, argv
    assert "prometheus_client" not in modules  # nothing is served from a terminal
    if argv[:2] == ("cert", "list"):  # read through SQLAlchemy Core alone
        assert not {m for m in modules if m.split(".")[0] in ("sqlmodel", "pydantic")}
        assert "sqlalchemy.orm" not in modules
        assert "acme-2027" in out and "acme-2026" in out


def test_a_database_behind_the_head_is_still_migrated_first(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    assert Database(url).revision() is None  # an empty file: never migrated
    code, modules, _ = imported(url, tmp_path, "cert", "list")
    assert code == 0
    assert "alembic" in modules  # behind the head: Alembic upgrades, as before
    database = Database(url)
    assert database.revision() == HEAD_REVISION
    database.dispose()


def test_revision_reads_the_migrated_record(database_url: str) -> None:
    database = Database(database_url)
    assert database.revision() == HEAD_REVISION
    database.dispose()


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_every_renderer_names_a_result_type_that_exists(name: str) -> None:
    module, _, cls = name.rpartition(".")
    assert isinstance(getattr(importlib.import_module(module), cls), type)


def test_validate_without_fetching_loads_no_fetcher_or_pkcs7(tmp_path: Path) -> None:
    """The AIA fetcher's urllib/http and the PKCS#7 reader (which pulls in `email`) load
    only when used: a PEM set checked without --fetch-missing needs neither."""
    from tests.support.pki import CA

    root = CA.root("Validate Root")
    leaf = root.leaf(sans=["app.example.com"])
    (tmp_path / "app.pem").write_bytes(leaf.pem + root.issued.pem)
    (tmp_path / "root.pem").write_bytes(root.issued.pem)
    code, modules, out = imported(
        "sqlite://", tmp_path, "validate", "--trust-store", "root.pem", "app.pem"
    )
    assert code in (0, 1) and "Certificate" in out, out  # a verdict (no key given: invalid)
    lazy = {
        "urllib.request",
        "http.client",
        "email.policy",
        "cryptography.hazmat.primitives.serialization.pkcs7",
    }
    assert not lazy & modules
    assert not {m for m in modules if m.split(".")[0] in (*NEVER, "sqlalchemy", "sqlmodel")}
