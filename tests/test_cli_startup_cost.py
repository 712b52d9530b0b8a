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
from storage import migrate
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


def test_cert_submit_at_head_imports_no_alembic_dns_or_slack(
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
