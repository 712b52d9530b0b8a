"""No private key and no password in the database or the logs, after a whole process run.

Submit (encrypted PEM key, and a PFX), assign, a LifeTime ticket to done, a renewal in
one step; logging captured to a file at DEBUG (SQLAlchemy's statements and parameters
included). Then the bytes are searched: the SQLite file (and its WAL), or a `pg_dump` of
the PostgreSQL database, and the log.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.pipeline.material import InputFile, Passwords
from bot.services import certificates, redaction, renewals, tickets
from bot.services.assignments import assign_certificate
from bot.services.context import ServiceContext
from tests.support.dns_server import DnsServer
from tests.support.services import (
    ADMIN,
    KEY_PASSWORD,
    PFX_PASSWORD,
    Pki,
    add_envs,
    key_secrets,
    pem_upload,
    pfx_upload,
)


@pytest.fixture
def debug_log(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "certops-debug.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield path
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()


def _run_the_whole_process(ctx: ServiceContext, pki: Pki, server: DnsServer) -> None:
    dns = {"nameservers": [server.address], "timeout": 2}
    add_envs(ctx)
    # an encrypted PEM key, with a file name that (carelessly) holds the password
    files = pem_upload(pki.app, pki.inter)
    files.append(InputFile(f"note-{KEY_PASSWORD.decode()}.txt", b"not a certificate"))
    submitted = certificates.submit_certificate(
        ctx, ADMIN, files, Passwords(key=KEY_PASSWORD), name="app", manual=True
    )
    assert submitted.certificate.status in {"validated", "pending_manual"}
    if submitted.certificate.status == "pending_manual":
        certificates.approve_certificate(ctx, ADMIN, "app", "checked")
    assign_certificate(ctx, ADMIN, "app", "dev", "app.example.com", cname_confirmed=True, **dns)  # type: ignore[arg-type]
    # a PFX for the wildcard, through a LifeTime ticket
    certificates.submit_certificate(
        ctx, ADMIN, pfx_upload(pki.wildcard, pki.inter), Passwords(key=PFX_PASSWORD), name="wild"
    )
    tid = tickets.open_ticket(ctx, ADMIN, "wild", "lt.example.com").ticket.id
    tickets.update_ticket(ctx, ADMIN, tid, "submitted", case_number="55", **dns)  # type: ignore[arg-type]
    tickets.update_ticket(ctx, ADMIN, tid, "confirmed", **dns)  # type: ignore[arg-type]
    tickets.update_ticket(ctx, ADMIN, tid, "dns_configured", **dns)  # type: ignore[arg-type]
    # a renewal as a PFX, put everywhere in one step
    certificates.submit_certificate(
        ctx,
        ADMIN,
        pfx_upload(pki.renewal, pki.inter),
        Passwords(key=PFX_PASSWORD),
        name="app-renewed",
        renews="app",
    )
    result = renewals.apply_renewal(ctx, ADMIN, "app-renewed", cname_confirmed=True, **dns)  # type: ignore[arg-type]
    assert result.ok
    assert certificates.show_certificate(ctx, "app").status == "superseded"


def _database_bytes(ctx: ServiceContext, tmp_path: Path) -> bytes:
    url = ctx.database.url
    ctx.database.dispose()
    if url.get_backend_name() == "sqlite":
        db_file = Path(url.database or "")
        files = sorted(db_file.parent.glob(db_file.name + "*"))  # the file, -wal, -shm
        assert db_file in files
        return b"".join(f.read_bytes() for f in files)
    pg_dump = shutil.which("pg_dump")
    assert pg_dump, "pg_dump is needed to read the PostgreSQL database back"
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    dump = subprocess.run(
        [pg_dump, "--data-only", "--no-owner", make_url(conninfo).render_as_string(False)],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return dump.stdout


def _secrets(pki: Pki) -> list[bytes]:
    found = [KEY_PASSWORD, PFX_PASSWORD, b"PRIVATE KEY-----"]
    for issued in (pki.app, pki.wildcard, pki.renewal):
        found += key_secrets(issued)
    encrypted = pki.app.key_pem(KEY_PASSWORD).splitlines()[1:-1]  # the uploaded body
    found += [line for line in encrypted if len(line) > 20][:3]
    return found


def test_no_key_material_or_password_in_database_or_log(
    ctx: ServiceContext, pki: Pki, dns_server: DnsServer, debug_log: Path, tmp_path: Path
) -> None:
    _run_the_whole_process(ctx, pki, dns_server)
    stored = _database_bytes(ctx, tmp_path)
    logged = debug_log.read_bytes()
    assert b"BEGIN CERTIFICATE" in stored  # the search reads real content
    assert redaction.REDACTED.encode() in stored  # the careless file name was caught
    assert b"app-renewed" in logged or b"app-renewed" in stored
    assert len(logged) > 1000, "DEBUG logging was captured"
    for secret in _secrets(pki):
        assert secret not in stored, f"{secret[:12]!r}... found in the database"
        assert secret not in logged, f"{secret[:12]!r}... found in the log"


def test_redaction_replaces_strings_that_hold_a_secret(pki: Pki) -> None:
    files = pem_upload(pki.app, pki.inter)
    secrets = redaction.secrets_of(files, Passwords(key=KEY_PASSWORD))
    assert KEY_PASSWORD.decode() in secrets
    body_line = files[1].data.splitlines()[1].decode()
    assert body_line in secrets  # a base64 line of the uploaded key block
    report = {
        "inputs": [{"name": f"x-{KEY_PASSWORD.decode()}.pem", "kind": "private_key"}],
        "findings": [{"message": f"saw {body_line}"}, {"message": "-----BEGIN PRIVATE KEY-----"}],
        "certificate": {"subject": "CN=app.example.com"},
    }
    cleaned = redaction.redact(report, secrets)
    assert cleaned["inputs"][0] == {"name": "x-[redacted].pem", "kind": "private_key"}
    assert [f["message"] for f in cleaned["findings"]] == ["saw [redacted]", "[redacted]"]
    assert cleaned["certificate"]["subject"] == "CN=app.example.com"
    assert not redaction.contains_secret(str(cleaned), secrets)


def test_a_password_that_is_a_common_word_leaves_the_verdict_alone() -> None:
    """A weak password must not blank the report's own words (verdict, codes, keys)."""
    report = {
        "verdict": "invalid",
        "findings": [
            {
                "code": "wrong_password",
                "severity": "error",
                "message": "key.pem: wrong password",
                "secret": "key",
            }
        ],
        "inputs": [{"name": "key.pem", "kind": "private_key"}],
    }
    for password in ("invalid", "error", "wrong_password", "code", "private_key"):
        cleaned = redaction.redact(
            report, redaction.secrets_of([], Passwords(key=password.encode()))
        )
        assert cleaned["verdict"] == "invalid"
        assert cleaned["findings"][0]["code"] == "wrong_password"
        assert cleaned["findings"][0]["severity"] == "error"
        assert cleaned["findings"][0]["secret"] == "key"  # which password field to show
        assert cleaned["inputs"][0]["kind"] == "private_key"
        assert password not in str([f["message"] for f in cleaned["findings"]])
