"""Acks while what they used to wait on hangs: a frozen PostgreSQL, a slow or refusing
`views.open`; and what the bounds cost when nothing hangs (issue 11, points 3, 4, 8).

    .venv/bin/python bench/bench_hung.py [--rounds 10] [--postgres ADMIN_URL]

Prints, each timed from sending to the HTTP answer (the ack Slack waits 3 s for):
- the delivery claim on a healthy PostgreSQL, unbounded (`first_delivery`) and bounded
  (`claim_within`: a daemon thread and `SET LOCAL statement_timeout`): p50 / p99;
- DM-upload acks (signed events) and `/readyz` while PostgreSQL is frozen behind a
  loopback proxy that stops forwarding (tests/support/pg_proxy.py);
- `/cert validate` acks while the stand-in answers `views.open` with 429 + Retry-After,
  or after 5 s;
- the 400 for a body that is not UTF-8.
A PostgreSQL database named certops_bench_<random> is made and dropped by the script.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from scratch_databases import DEFAULT_ADMIN_URL, scratch_postgres  # noqa: E402

from bot.health import HealthApp, with_health  # noqa: E402
from bot.http_server import HttpServer  # noqa: E402
from bot.metrics import Metrics  # noqa: E402
from bot.services import deliveries  # noqa: E402
from bot.services.context import ServiceContext  # noqa: E402
from storage import migrate  # noqa: E402
from storage.db import Database  # noqa: E402
from tests.support.certops_run import post_bytes  # noqa: E402
from tests.support.pg_proxy import FreezableProxy  # noqa: E402
from tests.support.slack_fixtures import make_pki  # noqa: E402
from tests.support.slack_harness import ADMIN, SIGNING_SECRET, slack_harness  # noqa: E402
from tests.support.slack_upload_fixtures import file_share_event  # noqa: E402


def ms(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * len(ordered) + 0.5) - 1)]
    return (
        f"p50 {statistics.median(ordered) * 1000:7.1f} ms  p99 {p99 * 1000:7.1f} ms  "
        f"max {ordered[-1] * 1000:7.1f} ms  (n={len(ordered)})"
    )


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def healthy_claims(url: str, rounds: int) -> None:
    database = Database(url)
    ctx = ServiceContext(database=database)
    try:
        plain = [
            timed(lambda: deliveries.first_delivery(ctx, f"event:{uuid.uuid4().hex}", "event"))
            for _ in range(rounds)
        ]
        bounded = [
            timed(lambda: deliveries.claim_within(ctx, f"event:{uuid.uuid4().hex}", "event"))
            for _ in range(rounds)
        ]
    finally:
        database.dispose()
    print(f"claim, healthy PostgreSQL, unbounded     {ms(plain)}")
    print(f"claim, healthy PostgreSQL, claim_within  {ms(bounded)}")


def frozen(url: str, rounds: int) -> None:
    pki = make_pki()
    with FreezableProxy.for_url(url) as proxy, slack_harness(proxy.url_through(url)) as h:
        h.dm("warm up")
        acks: list[float] = []
        proxy.freeze()
        try:
            for n in range(rounds):
                file = h.api.add_file(f"cert{n}.pem", pki.shop.pem)
                event = file_share_event([file], user=f"UBENCH{n:04d}")
                acks.append(h.sender.event(event).elapsed)
        finally:
            proxy.thaw()
        h.settle()
        print(f"DM-upload ack, PostgreSQL frozen         {ms(acks)}")
        database = Database(proxy.url_through(url))
        health = HealthApp(Metrics(database), database)
        with HttpServer(with_health(lambda e, s: [], health), host="127.0.0.1", port=0) as server:
            probes: list[float] = []
            proxy.freeze()
            try:
                for _ in range(rounds):
                    probes.append(timed(lambda: get(server.url + "/readyz")))
            finally:
                proxy.thaw()
        database.dispose()
        print(f"/readyz, PostgreSQL frozen               {ms(probes)}")


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def slow_slack(url: str, rounds: int) -> None:
    with slack_harness(url) as h:
        h.command("help")
        refused: list[float] = []
        for _ in range(rounds):
            h.api.fail_next("views.open", status=429, retry_after=30)
            refused.append(h.command("validate", ADMIN).sent.elapsed)
        print(f"/cert validate ack, views.open 429       {ms(refused)}")
        h.api.delays["views.open"] = 5.0
        slow = [
            h.sender.command("validate", user_id=ADMIN, response_url=h.api.response_url()).elapsed
            for _ in range(min(rounds, 5))
        ]
        print(f"/cert validate ack, views.open takes 5 s {ms(slow)}")
        bad = [
            timed(
                lambda: post_bytes(h.server.url, b"\xff" * 2000, "application/json", SIGNING_SECRET)
            )
            for _ in range(rounds * 10)
        ]
        print(f"400 for a 2 KB body that is not UTF-8    {ms(bad)}")
        time.sleep(3)  # the slow openings' threads end


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--postgres", default=DEFAULT_ADMIN_URL)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the fall-backs each say so; the figures are the point
    with scratch_postgres(args.postgres) as url:
        if url is None:
            return 1
        migrate.upgrade(url)
        healthy_claims(url, args.rounds * 20)
        frozen(url, args.rounds)
        slow_slack(url, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
