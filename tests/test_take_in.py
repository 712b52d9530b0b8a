"""Taking in a whole infrastructure (issue 17): `certops env sync` from the LifeTime
stand-in, then `certops probe --once --adopt`, as real processes on SQLite and
PostgreSQL. The environment LifeTime lists serves a certificate on loopback (the test
DNS server resolves its host there); after the two commands it is in the record as an
`observed` certificate, which `certops cert list` shows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.certops_run import run_environ
from tests.support.dns_server import DnsServer
from tests.support.lifetime_server import TOKEN, LifetimeServer, environment
from tests.support.pki import CA
from tests.support.tls_server import TlsServer

EXE = str(Path(sys.executable).with_name("certops"))
PORTAL = "portal.shop.test"


def _certops(environ: dict[str, str], cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [EXE, *argv], env=environ, cwd=cwd, capture_output=True, text=True, timeout=90
    )
    assert "Traceback" not in done.stdout + done.stderr
    assert TOKEN not in done.stdout + done.stderr
    return done


def test_env_sync_then_probe_adopt_takes_in_what_runs(database_url: str, tmp_path: Path) -> None:
    served = CA.root("Portal Root").leaf(sans=[PORTAL], days=60)
    (tmp_path / "portal").mkdir()
    with (
        LifetimeServer(tmp_path) as lifetime,
        TlsServer(tmp_path / "portal", "127.0.0.7") as portal,
        DnsServer({PORTAL: [("A", "127.0.0.7")]}, zones=("shop.test",)) as dns,
    ):
        portal.serve(served)
        lifetime.environments = [environment("7d1c", "Portal", PORTAL, "Production")]
        environ = run_environ(
            DATABASE_URL=database_url,
            LIFETIME_API_TOKEN=TOKEN,
            CERTOPS_TRUST_STORE=str(lifetime.root_file),
            CERTOPS_LIFETIME_ADDRESS="127.0.0.1",
            CERTOPS_NAMESERVERS=dns.nameserver,
            CERTOPS_PROBE_PORT=str(portal.port),
            CERTOPS_PROBE_ALLOW_LOOPBACK="1",
            CERTOPS_PROBE_TIMEOUT="2",
        )
        synced = _certops(environ, tmp_path, "env", "sync", "--lifetime", lifetime.url)
        assert synced.returncode == 0, synced.stderr
        assert "Portal" in synced.stdout
        probed = _certops(environ, tmp_path, "probe", "--once", "--adopt", "--no-post")
        # LifeTime's own host does not resolve in the test DNS: drift, exit 4
        assert probed.returncode == 4, probed.stderr
        assert f"adopted {PORTAL}  Portal as {PORTAL}-observed-" in probed.stdout
        assert portal.sni == [PORTAL]  # one connection: adopting read what the probe read
    listed = _certops(environ, tmp_path, "cert", "list", "--json")
    items = json.loads(listed.stdout)["items"]
    [observed] = [item for item in items if item["status"] == "observed"]
    assert observed["sans"] == [PORTAL]
    assert [s["outcome"] for s in observed["served"]] == ["ok"]
