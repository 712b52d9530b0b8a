"""The record's service calls, timed: submit (PEM with an encrypted key, and a PFX),
assign (with a DNS check against a loopback nameserver), a list, and the promotion pass.

On a SQLite file, and on PostgreSQL when one answers at CERTOPS_TEST_POSTGRES_URL
(default postgresql://postgres@127.0.0.1:5432/postgres; a scratch database is created and
dropped). Prints the median and the worst of N rounds per call.

    .venv/bin/python bench/bench_record.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scratch_databases import DEFAULT_ADMIN_URL, scratch_postgres, scratch_sqlite

from bot.pipeline.material import Passwords
from bot.services import assignments, certificates, environments
from bot.services.actors import terminal_actor
from bot.services.context import ServiceContext
from bot.services.promotion import promote_due
from storage import migrate
from storage.db import Database
from tests.support.dns_server import DnsServer
from tests.support.pki import CA, rsa_key
from tests.support.services import (
    DEV_HOST,
    KEY_PASSWORD,
    PFX_PASSWORD,
    dns_records,
    pem_upload,
    pfx_upload,
)


def _timed(fn: Callable[[], object], rounds: int) -> tuple[float, float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times)


def bench(url: str, label: str, rounds: int, server: DnsServer) -> None:
    migrate.upgrade(url)
    database = Database(url)
    root = CA.root("Bench Root")
    inter = root.intermediate("Bench Intermediate")
    leaf = inter.leaf(sans=["app.example.com"], key=rsa_key(2048, 0))
    ctx = ServiceContext(database, extra_roots=[root.cert])
    admin = terminal_actor()
    environments.add_environment(ctx, admin, "dev", default_host=DEV_HOST)
    counter = iter(range(10**6))
    pem = pem_upload(leaf, inter)
    pfx = pfx_upload(leaf, inter)

    def submit_pem() -> object:
        return certificates.submit_certificate(
            ctx, admin, pem, Passwords(key=KEY_PASSWORD), name=f"pem-{next(counter)}"
        )

    def submit_pfx() -> object:
        return certificates.submit_certificate(
            ctx, admin, pfx, Passwords(key=PFX_PASSWORD), name=f"pfx-{next(counter)}"
        )

    def assign() -> object:
        return assignments.assign_certificate(
            ctx,
            admin,
            "pem-0",
            "dev",
            "app.example.com",
            cname_confirmed=True,
            nameservers=[server.address],
            timeout=2,
        )

    rows = [
        ("submit PEM (encrypted key)", submit_pem),
        ("submit PFX", submit_pfx),
        ("assign (DNS on loopback)", assign),
        ("list certificates", lambda: certificates.list_certificates(ctx)),
        ("promote due assignments", lambda: promote_due(ctx)),
    ]
    for name, fn in rows:
        median, worst = _timed(fn, rounds)
        print(f"{label:<10} {name:<28} median {median:7.1f} ms   worst {worst:7.1f} ms")
    database.dispose()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    admin_url = os.environ.get("CERTOPS_TEST_POSTGRES_URL", DEFAULT_ADMIN_URL)
    with DnsServer(dns_records()) as server:
        with scratch_sqlite() as url:
            bench(url, "sqlite", args.rounds, server)
        with scratch_postgres(admin_url) as pg_url:
            if pg_url is not None:
                bench(pg_url, "postgres", args.rounds, server)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
