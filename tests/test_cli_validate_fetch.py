"""`certops validate --fetch-missing` as a user runs it, against an HTTP server on loopback.

The fetcher refuses loopback and link-local hosts by default (an uploaded certificate
names the URL: the bot must not probe its own host). On a terminal the person running
the command may lift that fence for their own machine with `--allow-local-fetch`; the
bot never does. These tests run the real process: the fence, the flag, and the fetched
issuer in the report and in `--output-chain`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from tests.support.aia_site import Route, Site, _handler
from tests.support.pki import CA, Issued, ec_key, key_pem

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    holder = Site("", {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(holder))
    server.daemon_threads = True
    holder.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield holder
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def files(site: Site, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A leaf whose intermediate is only at its AIA URL (on loopback), and the root."""
    root = CA.root("CLI Fetch Root", key=ec_key("P-256", 411))
    inter = root.intermediate("CLI Fetch Intermediate", key=ec_key("P-256", 412))
    site.routes["/inter.der"] = Route(body=inter.cert.public_bytes(serialization.Encoding.DER))
    leaf: Issued = inter.leaf(["app.example.com"], aia_url=site.url("/inter.der"))
    folder = tmp_path_factory.mktemp("cli-fetch")
    paths = {
        "leaf": folder / "cert.pem",
        "key": folder / "privkey.pem",
        "root": folder / "root.pem",
    }
    paths["leaf"].write_bytes(leaf.pem)
    paths["key"].write_bytes(key_pem(leaf.key))
    paths["root"].write_bytes(root.cert.public_bytes(serialization.Encoding.PEM))
    return paths


def certops(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "validate", *map(str, args)],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def base(files: dict[str, Path]) -> list[str | Path]:
    return [files["leaf"], files["key"], "--trust-store", files["root"], "--domain",
            "app.example.com", "--json"]  # fmt: skip


def test_loopback_is_refused_without_the_flag(site: Site, files: dict[str, Path]) -> None:
    before = site.hits.get("/inter.der", 0)
    proc = certops(*base(files), "--fetch-missing")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    incomplete = [f for f in report["findings"] if f["code"] == "chain_incomplete"]
    assert len(incomplete) == 1
    assert "local address" in incomplete[0]["message"]
    assert site.hits.get("/inter.der", 0) == before  # the fence held: no request was made


def test_allow_local_fetch_completes_the_chain(
    site: Site, files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "upload.pem"
    before = site.hits.get("/inter.der", 0)
    proc = certops(*base(files), "--fetch-missing", "--allow-local-fetch", "--output-chain", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["verdict"] == "valid"
    assert [entry["source"] for entry in report["chain"]] == ["fetched", "trust_store"]
    assert report["chain"][0]["subject"].endswith("CN=CLI Fetch Intermediate")
    assert site.hits.get("/inter.der", 0) == before + 1
    # The completed chain is handed back: leaf then the fetched intermediate.
    written = out.read_bytes()
    assert written.count(b"-----BEGIN CERTIFICATE-----") == 2
    assert written.startswith(files["leaf"].read_bytes().strip())
    assert b"PRIVATE KEY" not in written


def test_the_human_report_says_the_issuer_was_fetched(files: dict[str, Path]) -> None:
    args = [a for a in base(files) if a != "--json"]
    proc = certops(*args, "--fetch-missing", "--allow-local-fetch")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "fetched (AIA)" in proc.stdout


def test_allow_local_fetch_alone_is_a_usage_error(files: dict[str, Path]) -> None:
    proc = certops(*base(files), "--allow-local-fetch")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.strip() == (
        "certops validate: error: --allow-local-fetch only applies with --fetch-missing"
    )


def test_nothing_is_fetched_without_fetch_missing(site: Site, files: dict[str, Path]) -> None:
    before = site.hits.get("/inter.der", 0)
    proc = certops(*base(files))
    assert proc.returncode == 1
    assert "chain_incomplete" in {f["code"] for f in json.loads(proc.stdout)["findings"]}
    assert site.hits.get("/inter.der", 0) == before
