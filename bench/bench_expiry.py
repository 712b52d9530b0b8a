"""How fast is finding the due expiry warnings? Prints figures for SQLite and PostgreSQL.

    .venv/bin/python bench/bench_expiry.py [--rows 100000] [--postgres URL] [--runs 5]

Per backend: bulk-insert N certificates (expiries spread from 30 days ago to two years
ahead, five issuers, 200 environments with a channel each and one current assignment,
a renewal for 1% of them, and claims for half of the certificates already warned about),
then time `expiry.find_due` (the whole scan without posting: candidates by the index on
not_after, placements, claims, silences, renewals), median of --runs. Target: under 1 s
each. Databases are made and removed by the script (a temporary SQLite file; a
PostgreSQL database named certops_bench_<random>, skipped with a note when none answers).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch_databases import scratch_postgres, scratch_sqlite  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from bot.services import expiry  # noqa: E402
from bot.services.clock import ManualClock  # noqa: E402
from bot.services.context import ServiceContext  # noqa: E402
from bot.services.expiry_thresholds import from_settings  # noqa: E402
from storage import migrate  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import (  # noqa: E402
    Assignment,
    Certificate,
    Environment,
    Notification,
)

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
ENVIRONMENTS = 200
ISSUERS = [f"CN=Issuer {i}, O=Bench CA" for i in range(5)]
BATCH = 10_000


def _rows(count: int) -> list[dict[str, object]]:
    span = timedelta(days=760).total_seconds()
    rows = []
    for index in range(count):
        # spread evenly over [-30 days, +730 days], in a scrambled order
        position = (index * 7919) % count
        not_after = NOW - timedelta(days=30) + timedelta(seconds=span * position / count)
        host = f"host{index}.bench.example"
        rows.append(
            {
                "name": f"cert-{index:06d}",
                "domain": host,
                "submitted_format": "pem",
                "status": "validated" if index % 50 else "superseded",
                "subject": f"CN={host}",
                "sans": [host, f"www.{host}"],
                "issuer": ISSUERS[index % len(ISSUERS)],
                "serial": f"{index:x}",
                "not_before": not_after - timedelta(days=90),
                "not_after": not_after,
                "fingerprint_sha256": f"{index:064X}",
                "chain_pem": "",
                "report": {},
                "submitted_by": "UBENCH",
                "submitted_at": NOW - timedelta(days=100),
            }
        )
    return rows


def populate(database: Database, count: int) -> float:
    """Bulk-insert the record; returns the seconds it took."""
    start = time.perf_counter()
    rows = _rows(count)
    with database.session() as session:
        for offset in range(0, count, BATCH):
            session.execute(insert(Certificate), rows[offset : offset + BATCH])
        session.execute(
            insert(Environment),
            [
                {
                    "name": f"env{e}",
                    "default_host": f"acme-{e}.outsystemsenterprise.com",
                    "is_lifetime": False,
                    "channel": f"C0ENV{e:04d}",
                    "created_at": NOW,
                }
                for e in range(ENVIRONMENTS)
            ],
        )
        session.flush()
        session.execute(
            insert(Assignment),
            [
                {
                    "certificate_id": 1 + (e * 37) % count,
                    "environment_id": 1 + e,
                    "hostname": f"app{e}.bench.example",
                    "cname_confirmed": True,
                    "state": "active",
                    "assigned_by": "UBENCH",
                    "assigned_at": NOW - timedelta(days=60),
                    "active_at": NOW - timedelta(days=60),
                }
                for e in range(ENVIRONMENTS)
            ],
        )
        renewals = [
            {
                **row,
                "name": f"{row['name']}-r",
                "renews_id": index + 1,
                "not_after": NOW + timedelta(days=300),
                "fingerprint_sha256": f"R{index:063X}",
            }
            for index, row in enumerate(rows)
            if index % 100 == 1
        ]
        session.execute(insert(Certificate), renewals)
        claimed = [
            {
                "certificate_id": index + 1,
                "threshold": "30d",
                "channel": "C0DEFAULT",
                "message_ts": f"1700000000.{index:06d}",
                "claimed_by": "bench",
                "claimed_at": NOW - timedelta(days=1),
                "posted_at": NOW - timedelta(days=1),
            }
            for index, row in enumerate(rows)
            if index % 2 == 0 and row["not_after"] < NOW + timedelta(days=30)  # type: ignore[operator]
        ]
        session.execute(insert(Notification), claimed)
    return time.perf_counter() - start


def bench(url: str, label: str, count: int, runs: int) -> None:
    migrate.upgrade(url)
    database = Database(url)
    try:
        inserted = populate(database, count)
        if url.startswith("postgresql"):
            with database.engine.connect() as connection:
                connection.exec_driver_sql("ANALYZE")
                connection.commit()
        ctx = ServiceContext(database=database, clock=ManualClock(NOW))
        config = expiry.ExpiryConfig(from_settings((30, 14, 7, 3, 1, 0), ()), "C0DEFAULT", "bench")
        times, due, left = [], [], []
        for _ in range(runs):
            start = time.perf_counter()
            due = expiry.find_due(ctx, config)
            times.append(time.perf_counter() - start)
        # The steady state: every due warning claimed (posted by the previous run).
        with database.session() as session:
            session.execute(
                insert(Notification),
                [
                    {
                        "certificate_id": w.certificate_id,
                        "threshold": w.threshold,
                        "channel": w.channel,
                        "message_ts": f"1700000001.{i:06d}",
                        "claimed_by": "bench",
                        "claimed_at": NOW,
                        "posted_at": NOW,
                    }
                    for i, w in enumerate(due)
                ],
            )
        steady = []
        for _ in range(runs):
            start = time.perf_counter()
            left = expiry.find_due(ctx, config)
            steady.append(time.perf_counter() - start)
        share = expiry.ExpiryConfig(from_settings((30, 7, 0), (33.0,)), "C0DEFAULT", "bench")
        share_times = []
        for _ in range(runs):
            start = time.perf_counter()
            expiry.find_due(ctx, share)
            share_times.append(time.perf_counter() - start)
    finally:
        database.dispose()
    median = statistics.median(times)
    verdict = "OK" if median < 1.0 else "SLOW (target < 1 s)"
    print(
        f"{label:<10} {count:>7} certificates (bulk insert {inserted:.1f} s): "
        f"find_due median {median * 1000:.0f} ms over {runs} runs, {len(due)} due "
        f"[{verdict}]; the next run (all claimed, {len(left)} due) "
        f"{statistics.median(steady) * 1000:.0f} ms; with a 33% share threshold (scans 272 "
        f"days ahead) {statistics.median(share_times) * 1000:.0f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    with scratch_sqlite() as url:
        bench(url, "SQLite", args.rows, args.runs)
    with scratch_postgres(args.postgres) as pg_url:
        if pg_url is not None:
            bench(pg_url, "PostgreSQL", args.rows, args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
