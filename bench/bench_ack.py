"""Ack latency of `/cert list` in HTTP mode: 20 concurrent signed requests.

The app runs behind waitress on loopback (as `certops run --http` does), on a migrated
SQLite file holding a few certificates, with Slack's Web API played by the stand-in.
Each request is timed from sending to the HTTP answer (the ack Slack waits 3 s for);
the answers through the response URL come after and are not part of the figure.

    .venv/bin/python bench/bench_ack.py [--requests 20] [--rounds 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from bot.app import create_app, listener_runs
from bot.console.loopback import LoopbackServer
from bot.console.sender import SlackSender
from bot.console.slack_api import FakeSlackApi
from bot.settings import Settings
from handlers.common.request_context import ContextExecutor
from storage import migrate

SECRET = "bench-signing-secret"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20, help="concurrent requests per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth" notes
    with tempfile.TemporaryDirectory() as folder, FakeSlackApi(bot_token="xoxb-bench") as api:
        url = f"sqlite:///{folder}/certops.db"
        migrate.upgrade(url)
        settings = dataclasses.replace(
            Settings(database_url=url),
            slack_bot_token="xoxb-bench",
            slack_signing_secret=SECRET,
            slack_api_url=api.api_url,
        )
        executor = ContextExecutor(max_workers=16)
        app = create_app(settings, listener_executor=executor)
        runs = listener_runs(app)
        with LoopbackServer(app, threads=16) as server:
            sender = SlackSender(server.url, SECRET)
            # Warm up: the first request pays auth.test and the database connection.
            sender.command("list", user_id="UWARM", response_url=api.response_url())
            runs.wait_idle(30)
            acks: list[float] = []
            started = time.perf_counter()
            for _ in range(args.rounds):
                with ThreadPoolExecutor(max_workers=args.requests) as pool:
                    results = list(
                        pool.map(
                            lambda i: sender.command(
                                "list", user_id=f"U{i:04d}", response_url=api.response_url()
                            ),
                            range(args.requests),
                        )
                    )
                bad = [r.status for r in results if r.status != 200]
                if bad:
                    print(f"non-200 answers: {bad}", file=sys.stderr)
                    return 1
                acks += [r.elapsed for r in results]
                runs.wait_idle(30)
            total = time.perf_counter() - started
            answered = len(api.calls("response_url"))
        executor.shutdown()
    ms = [a * 1000 for a in acks]
    print(
        f"/cert list, HTTP mode, {args.requests} concurrent signed requests x {args.rounds} rounds"
    )
    print(
        f"ack latency: p50 {statistics.median(ms):.1f} ms, p99 {percentile(ms, 99):.1f} ms, "
        f"max {max(ms):.1f} ms (n={len(ms)})"
    )
    print(f"answers through response URLs: {answered}; wall time {total:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
