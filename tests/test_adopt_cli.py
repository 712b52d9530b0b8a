"""`certops adopt HOSTNAME ENV [--json]` as a real process, on SQLite and PostgreSQL.

The certificate served comes from the openssl CLI (tests/support/openssl_pki.py) on a
real TLS server at 127.0.0.2; `--nameserver` points at the loopback DNS server, and the
port and the loopback allowance are the test-only settings CERTOPS_PROBE_PORT and
CERTOPS_PROBE_ALLOW_LOOPBACK. Refusals: exit 1 and one line on stderr, no traceback.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.certops_run import EXE, run_environ
from tests.support.dns_server import DnsServer
from tests.support.openssl_pki import OpenSSLPKI
from tests.support.services import DEV_HOST
from tests.support.tls_server import TlsServer

SERVER = "127.0.0.2"
RECORDS = {
    "app.example.com": [("CNAME", DEV_HOST + ".", 300)],
    "shop.example.com": [("CNAME", DEV_HOST + ".", 300)],
    DEV_HOST: [("A", SERVER, 60)],
}


@pytest.fixture(scope="module")
def dns() -> Iterator[DnsServer]:
    with DnsServer(RECORDS, zones=["example.com", "outsystemsenterprise.com"]) as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    with TlsServer(tmp_path_factory.mktemp("served-cli"), SERVER) as tls:
        yield tls


def certops(cwd: Path, environ: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXE, *argv], capture_output=True, text=True, env=environ, cwd=cwd, timeout=60
    )


def test_adopt_as_a_process(
    database_url: str,
    tmp_path: Path,
    dns: DnsServer,
    server: TlsServer,
    openssl_pki: OpenSSLPKI,
) -> None:
    server.raw = None
    server.serve_files(openssl_pki.path("leaf.pem"), openssl_pki.path("leaf.key"))
    environ = run_environ(
        DATABASE_URL=database_url,
        CERTOPS_PROBE_PORT=str(server.port),
        CERTOPS_PROBE_ALLOW_LOOPBACK="1",
    )
    ns = ["--nameserver", dns.nameserver, "--timeout", "2"]
    assert certops(tmp_path, environ, "env", "add", "dev", "--host", DEV_HOST).returncode == 0

    done = certops(tmp_path, environ, "adopt", "app.example.com", "dev", *ns, "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    cert = data["certificate"]
    assert data["changed"] is True and cert["status"] == "observed"
    assert cert["sans"] == ["app.example.com", "www.example.com"]
    assert data["assignment"]["state"] == "active" and data["next_warning"]["threshold"] == "30d"
    assert "certificate_pem" not in cert  # the summary, not the PEM

    again = certops(tmp_path, environ, "adopt", "app.example.com", "dev", *ns)
    assert again.returncode == 0 and "unchanged" in again.stdout.splitlines()[0]
    for label in ("subject:", "names:", "valid until:", "SHA-256:", "next warning:"):
        assert label in again.stdout
    assert cert["fingerprint_sha256"] in again.stdout

    shown = certops(tmp_path, environ, "cert", "show", cert["name"], "--json")
    row = json.loads(shown.stdout)
    assert row["status"] == "observed" and row["chain_pem"] == ""
    assert "PRIVATE KEY" not in shown.stdout
    text = certops(tmp_path, environ, "cert", "show", cert["name"]).stdout
    assert "observed" in text and "no key" in text

    # Refusals: one line each, exit 1.
    refused = certops(
        tmp_path,
        {**environ, "CERTOPS_PROBE_ALLOW_LOOPBACK": "0"},
        "adopt",
        "app.example.com",
        "dev",
        *ns,
    )
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.strip() == (
        "certops adopt: refused (address_refused): app.example.com resolves to 127.0.0.2, "
        "a loopback address: not probed"
    )
    other = certops(tmp_path, environ, "adopt", "shop.example.com", "dev", *ns)
    assert other.returncode == 1 and len(other.stderr.strip().splitlines()) == 1
    assert "(hostname_not_covered)" in other.stderr
    server.raw = "silent"
    try:
        silent = certops(tmp_path, environ, "adopt", "app.example.com", "dev", *ns, "--json")
    finally:
        server.raw = None
    assert silent.returncode == 1 and json.loads(silent.stdout)["code"] == "handshake_failed"
    nowhere = certops(tmp_path, environ, "adopt", "app.example.com", "prod", *ns)
    assert nowhere.returncode == 1 and "(not_found)" in nowhere.stderr
    usage = certops(tmp_path, environ, "adopt", "app.example.com")
    assert usage.returncode == 2 and "Traceback" not in usage.stderr
