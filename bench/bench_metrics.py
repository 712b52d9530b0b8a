"""How long does a Prometheus scrape of /metrics take, and what does the server hold, as
the record grows?

    .venv/bin/python bench/bench_metrics.py [--rows 1000,10000,100000] [--scrapes 10]
        [--series auto,both,per_certificate,aggregated] [--postgres URL]

The record's gauges are read from the database on a timer and served from memory
(issue 16's target at 100,000 certificates: a scrape <= 0.5 s, the server <= 200 MiB at
its peak). Per backend, size and series mode (CERTOPS_METRICS_SERIES), a server process
of its own serves /metrics; this process scrapes it over HTTP and prints the median and
worst scrape, the size of the answer, how long the timer's refresh took (off the scrape
path) and the server's peak resident memory (VmHWM). The peer, in the same run: a plain
`prometheus_client` registry with as many series as the per-certificate mode serves,
scraped through the same server. Half of the certificates, up to `--environments`, serve
an environment each (the aggregated series grow with environments, not certificates).
PostgreSQL is skipped with a note when no server answers.

For the largest record it also prints `figure:` lines (what | figures | the peer's | the
target), which `make bench` gathers into the table of docs/performance.md and, for SQLite,
into the README's table of what each mode costs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch_databases import scratch_postgres  # noqa: E402

NOW = datetime.now(UTC)
# The per-certificate mode serves 3 series per certificate and environment.
SERIES_PER_ROW = 3


def fill(url: str, rows: int, environments: int) -> None:
    """`rows` validated certificates, the first `environments` of them (at most half)
    serving an environment each (one current certificate per environment): bulk inserts,
    so that 100,000 rows take seconds."""
    from sqlalchemy import insert

    from storage import migrate
    from storage.db import Database
    from storage.models import Assignment, Certificate, Environment

    migrate.upgrade(url)
    database = Database(url)
    served = min(rows // 2, environments)
    with database.session() as session:
        session.execute(
            insert(Environment),
            [
                {"name": f"env-{i}", "default_host": f"acme-{i}.outsystemsenterprise.com"}
                for i in range(served)
            ],
        )
        session.execute(
            insert(Certificate),
            [
                {
                    "name": f"cert-{i}",
                    "domain": f"host{i}.example.com",
                    "submitted_format": "pem",
                    "status": "validated",
                    "subject": f"CN=host{i}.example.com,O=Bench",
                    "issuer": "CN=Bench CA,O=Bench",
                    "serial": f"{i:040x}",
                    "not_after": NOW + timedelta(days=i % 400 - 20),
                    "submitted_by": "UBENCH",
                    "sans": [],
                    "report": {},
                    "chain_pem": "",
                    "submitted_at": NOW,
                }
                for i in range(rows)
            ],
        )
    with database.session() as session:
        from sqlmodel import col, select

        certificate_ids = dict(session.exec(select(Certificate.name, col(Certificate.id))).all())
        environment_ids = dict(session.exec(select(Environment.name, col(Environment.id))).all())
        session.execute(
            insert(Assignment),
            [
                {
                    "certificate_id": certificate_ids[f"cert-{i}"],
                    "environment_id": environment_ids[f"env-{i}"],
                    "hostname": f"host{i}.example.com",
                    "state": "active",
                    "assigned_by": "UBENCH",
                    "active_at": NOW,
                    "assigned_at": NOW,
                }
                for i in range(served)
            ],
        )
    database.dispose()


def serve(url: str, series: str) -> None:
    """The server process: /metrics of a Metrics on `url` (or, for `peer:N`, of a plain
    registry with N series); prints its address and the refresh time, serves until
    stdin closes."""
    from bot.health import HealthApp
    from bot.http_server import HttpServer
    from bot.metrics import Metrics

    refresh = 0.0
    if url.startswith("peer:"):
        from prometheus_client import Gauge

        metrics = Metrics(None)
        gauge = Gauge(
            "peer_series",
            "A plain gauge.",
            ["certificate", "environment", "kind"],
            registry=metrics.registry,
        )
        for i in range(int(url.removeprefix("peer:"))):
            gauge.labels(f"cert-{i // 3}", f"env-{i // 3}", str(i % 3)).set(i)
        database = None
    else:
        from storage.db import Database

        database = Database(url)
        metrics = Metrics(database, series=series)
        assert metrics.record is not None
        started = time.perf_counter()
        metrics.record.refresh()
        refresh = time.perf_counter() - started
        metrics.record.start()  # the timer, as in the bot (next refresh in 60 s)
    with HttpServer(HealthApp(metrics, database), host="127.0.0.1", port=0) as server:
        print(json.dumps({"url": server.url, "refresh": refresh}), flush=True)
        sys.stdin.read()


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(url: str, series: str, scrapes: int) -> dict[str, float]:
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", url, "--series", series],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and server.stdin is not None
        ready = json.loads(server.stdout.readline())
        times, size = [], 0
        for _ in range(scrapes):
            started = time.perf_counter()
            with urllib.request.urlopen(ready["url"] + "/metrics", timeout=120) as response:
                size = len(response.read())
            times.append(time.perf_counter() - started)
        peak = peak_rss_mib(server.pid)
        server.stdin.close()
        server.wait(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    return {
        "median": statistics.median(times),
        "worst": max(times),
        "size": size,
        "refresh": ready["refresh"],
        "peak": peak,
    }


def report(label: str, rows: int, mode: str, figures: dict[str, float]) -> None:
    refresh = f"refresh {figures['refresh']:6.2f} s" if figures["refresh"] else " " * 16
    print(
        f"{label:<10} {rows:>7} {mode:<15} scrape median {figures['median'] * 1000:7.1f} ms,"
        f" worst {figures['worst'] * 1000:7.1f} ms, answer {figures['size'] / 1024:8.1f} KiB,"
        f" {refresh}, server peak {figures['peak']:5.0f} MiB",
        flush=True,
    )


def run(label: str, url: str, rows: int, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    fill(url, rows, args.environments)
    found = {}
    for mode in args.series.split(","):
        found[mode] = measure(url, mode, args.scrapes)
        report(label, rows, mode, found[mode])
    return found


def figures(
    label: str, rows: int, found: dict[str, dict[str, float]], peer: dict[str, float]
) -> None:
    """One `figure:` line per mode: what a record of `rows` certificates costs."""
    versus = (
        f"plain registry of {rows * SERIES_PER_ROW:,} series: scrape"
        f" {peer['median'] * 1000:.0f} ms, peak {peer['peak']:.0f} MiB"
    )
    target = "<= 500 ms, <= 200 MiB" if rows >= 100_000 else "-"
    for mode, f in found.items():
        what = f"/metrics, {rows:,} certificates, {label}, `{mode}`"
        size = f["size"] / 1024
        answer = f"{size / 1024:.1f} MiB" if size >= 1024 else f"{size:.0f} KiB"
        print(
            f"figure: {what} | scrape {f['median'] * 1000:.0f} ms, answer {answer},"
            f" refresh {f['refresh']:.1f} s, peak {f['peak']:.0f} MiB | {versus} | {target}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1000,10000,100000")
    parser.add_argument("--scrapes", type=int, default=10)
    parser.add_argument("--series", default="auto,both,per_certificate,aggregated")
    parser.add_argument("--environments", type=int, default=1000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.series)
        return
    print(f"backend       rows mode  ({args.environments} environments at most)")
    sizes = [int(x) for x in args.rows.split(",")]
    for rows in sizes:
        found = {}
        with tempfile.TemporaryDirectory() as folder:
            found["sqlite"] = run("sqlite", f"sqlite:///{Path(folder) / 'bench.db'}", rows, args)
        with scratch_postgres(args.postgres) as pg_url:
            if pg_url is not None:
                found["postgresql"] = run("postgresql", pg_url, rows, args)
        peer = measure(f"peer:{rows * SERIES_PER_ROW}", "auto", args.scrapes)
        report("peer", rows, "plain registry", peer)
        if rows == max(sizes):
            for label, modes in found.items():
                figures(label, rows, modes, peer)


if __name__ == "__main__":
    main()
