"""Benchmark of the served-certificate probe: many hostnames, some of them silent.

    .venv/bin/python bench/bench_probe.py [--hosts 1000] [--silent-share 0.05]
                                          [--concurrency 16] [--timeout 5]

One environment per hostname (its default host), resolved by the test DNS server to a
TLS server on 127.0.0.2, or, for `--silent-share` of them, to a server on 127.0.0.4 that
accepts and never speaks (each such probe lasts its whole deadline). `certops probe
--once`'s run (`served.run_probe(every=True)`) on a SQLite file: wall time, hostnames per
second, outcomes, and peak memory (Python allocations by tracemalloc, and the process's
maximum resident set). Target: under 60 s for 1,000 hostnames with the default
concurrency. Prints numbers only; asserts nothing.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch_databases import scratch_sqlite  # noqa: E402

from bot.pipeline.report import fingerprint_sha256  # noqa: E402
from bot.services import served  # noqa: E402
from bot.services.context import ServiceContext  # noqa: E402
from storage import migrate, queries  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import (  # noqa: E402
    Certificate,
    CertificateStatus,
    Environment,
    SubmittedFormat,
)
from tests.support.dns_server import DnsServer  # noqa: E402
from tests.support.pki import CA, Issued, rsa_key  # noqa: E402
from tests.support.served_lab import SERVES_A, SILENT, lab_servers  # noqa: E402


def seed(ctx: ServiceContext, hosts: list[str], served_cert: Issued) -> None:
    """One environment per hostname, and the served certificate in the record (so the
    hostnames that answer come out `ok`)."""
    with ctx.session() as session:
        queries.add_certificate(
            session,
            Certificate(
                name="bench-served",
                domain="*.bench.test",
                submitted_format=SubmittedFormat.PEM,
                status=CertificateStatus.VALIDATED,
                sans=["*.bench.test"],
                not_after=served_cert.cert.not_valid_after_utc,
                fingerprint_sha256=fingerprint_sha256(served_cert.cert),
                submitted_by="UBENCH",
            ),
        )
        for index, host in enumerate(hosts):
            queries.add_environment(
                session, Environment(name=f"bench-{index:05d}", default_host=host, channel=None)
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--silent-share", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=served.ProbeConfig().concurrency)
    parser.add_argument("--timeout", type=float, default=served.ProbeConfig().timeout)
    args = parser.parse_args()

    root = CA.root("Bench Probe Root")
    cert = root.leaf(sans=["*.bench.test"], key=rsa_key(2048, 5))
    silent_every = round(1 / args.silent_share) if args.silent_share > 0 else 0
    hosts = [f"h{index:05d}.bench.test" for index in range(args.hosts)]
    silent = {h for i, h in enumerate(hosts) if silent_every and i % silent_every == 0}
    records = {h: [("A", SILENT if h in silent else SERVES_A)] for h in hosts}

    with (
        tempfile.TemporaryDirectory() as tmp,
        scratch_sqlite() as url,
        DnsServer(records, zones=("bench.test",)) as dns,
        lab_servers(Path(tmp), cert, cert) as (port, _a, _b),
    ):
        migrate.upgrade(url)
        database = Database(url)
        try:
            ctx = ServiceContext(database=database)
            seed(ctx, hosts, cert)
            config = served.ProbeConfig(
                port=port,
                allow_loopback=True,
                nameservers=(dns.address,),
                concurrency=args.concurrency,
                timeout=args.timeout,
            )
            tracemalloc.start()
            started = time.perf_counter()
            report = served.run_probe(ctx, config, every=True)
            wall = time.perf_counter() - started
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        finally:
            database.dispose()
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{args.hosts} hostnames ({len(silent)} silent, deadline {args.timeout:g} s), "
        f"concurrency {args.concurrency} (target: under 60 s for 1,000)"
    )
    print(f"  wall time {wall:.1f} s  ({report.probed / wall:.0f} hostnames/s)")
    print(f"  outcomes: {', '.join(f'{k} {v}' for k, v in sorted(report.outcomes.items()))}")
    print(f"  peak Python allocations {peak / 2**20:.1f} MiB; max resident set {rss_mib:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
