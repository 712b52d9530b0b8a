"""What does the cross-replica dedupe cost per Slack event? Prints figures for SQLite and
PostgreSQL.

    .venv/bin/python bench/bench_deliveries.py [--claims 2000] [--rows 100000] [--postgres URL]

Per backend: fill `slack_delivery` with --rows old deliveries (older than a day), then time
`handlers.common.dedupe.first_delivery` for --claims new event ids (the claim the middleware
makes before Slack's ack, pruning off: p50/p99), the same ids again from a second process's
memory (a retry reaching another replica: the database says no), and one prune of the
old rows. The claim runs before the ack, inside Slack's 3 seconds: aim for a few ms.
Databases are made and removed by the script (a temporary SQLite file; a PostgreSQL
database named certops_bench_<random>, skipped with a note when none answers).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch_databases import scratch_postgres, scratch_sqlite  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from bot.services import deliveries  # noqa: E402
from bot.services.clock import ManualClock  # noqa: E402
from bot.services.context import ServiceContext  # noqa: E402
from handlers.common.dedupe import RecentIds, first_delivery  # noqa: E402
from storage import migrate  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import SlackDelivery  # noqa: E402

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def _fill(database: Database, rows: int) -> None:
    old = NOW - timedelta(days=2)
    with database.session() as session:
        for start in range(0, rows, 10_000):
            session.execute(
                insert(SlackDelivery),
                [
                    {"delivery_id": f"event:EvOLD{n:09d}", "kind": "event", "first_seen_at": old}
                    for n in range(start, min(rows, start + 10_000))
                ],
            )


def _timed(call: Callable[[str], bool], keys: list[str]) -> tuple[list[float], int]:
    times, yes = [], 0
    for key in keys:
        start = time.perf_counter()
        yes += call(key)
        times.append(time.perf_counter() - start)
    return times, yes


def _ms(times: list[float], q: int) -> float:
    return statistics.quantiles(times, n=100)[q - 1] * 1000


def bench(url: str, label: str, claims: int, rows: int) -> None:
    migrate.upgrade(url)
    database = Database(url)
    try:
        _fill(database, rows)
        ctx = ServiceContext(database=database, clock=ManualClock(NOW))
        start = time.perf_counter()
        pruned = deliveries.prune_deliveries(ctx)
        prune_s = time.perf_counter() - start
        # The claims as the middleware makes them (about 1 in PRUNE_EVERY also prunes).
        ids = [f"Ev{uuid.uuid4().hex[:10].upper()}" for _ in range(claims)]
        one, two = RecentIds(), RecentIds()
        first, yes = _timed(lambda i: first_delivery(one, ctx, "event", i), ids)
        retry, again = _timed(lambda i: first_delivery(two, ctx, "event", i), ids)
    finally:
        database.dispose()
    print(
        f"{label:<10} {claims} new events: claim p50 {_ms(first, 50):.2f} ms, "
        f"p99 {_ms(first, 99):.2f} ms ({yes} first); the same on another replica: "
        f"p50 {_ms(retry, 50):.2f} ms, p99 {_ms(retry, 99):.2f} ms ({again} first); "
        f"pruning {pruned} old rows {prune_s * 1000:.0f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    with scratch_sqlite() as url:
        bench(url, "SQLite", args.claims, args.rows)
    with scratch_postgres(args.postgres) as pg_url:
        if pg_url is not None:
            bench(pg_url, "PostgreSQL", args.claims, args.rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
