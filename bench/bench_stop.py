"""How long SIGTERM takes while the scheduler waits out Slack's 429 on a warning post,
against CERTOPS_SHUTDOWN_SECONDS (issue 13, point 4).

    .venv/bin/python bench/bench_stop.py [--retry-after 12] [--graces 1,3,10] [--sqlite]

Each run: a real `certops run --http` on a scratch PostgreSQL (SQLite with --sqlite) with
one due warning; the Slack stand-in answers its post with 429 + Retry-After; SIGTERM once
that answer has been sent. Prints the time from SIGTERM to exit, the exit code, and
whether the claim was given back and posted by the next `certops notify --once`.
Before the fix: 20.6 s with Retry-After 12 and a 3 s grace, and the warning was lost.

Then (PostgreSQL only) a `/metrics` scrape under way on a frozen database (its record read
waits up to 2 s) when SIGTERM comes: the time to exit against the grace period, and what
the scrape got (cut at the grace: the connection closes without an answer).
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from scratch_databases import scratch_postgres, scratch_sqlite  # noqa: E402

from bot.console.slack_api import FakeSlackApi  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Notification  # noqa: E402
from tests.support.certops_run import free_port, start_http  # noqa: E402
from tests.support.notify import TOKEN, environment, seed  # noqa: E402
from tests.support.pg_proxy import FreezableProxy  # noqa: E402


def _claims(url: str) -> list[Notification]:
    from sqlmodel import select

    database = Database(url)
    try:
        with database.session() as session:
            return list(session.exec(select(Notification)).all())
    finally:
        database.dispose()


def _reset(url: str) -> None:
    from sqlmodel import SQLModel

    database = Database(url)
    try:
        with database.session() as session:
            for table in reversed(SQLModel.metadata.sorted_tables):
                if table.name != "alembic_version":
                    session.execute(table.delete())
    finally:
        database.dispose()


def one_stop(url: str, grace: float, retry_after: int, folder: Path) -> str:
    _reset(url)
    seed(url, 1)
    with FakeSlackApi(bot_token=TOKEN) as api:
        api.fail_next("chat.postMessage", 1, status=429, retry_after=retry_after)
        env = environment(url, api)
        env.update(
            {
                "SLACK_SIGNING_SECRET": "bench-stop-secret",
                "CERTOPS_SHUTDOWN_SECONDS": str(grace),
                "CERTOPS_NOTIFY_INTERVAL": "1",
            }
        )
        port = free_port()
        process = start_http(port, folder, env, quiet=True)
        try:
            while not api.failed_calls("chat.postMessage"):
                time.sleep(0.02)
            time.sleep(0.3)
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=retry_after * 4)
            elapsed = time.monotonic() - started
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        given_back = _claims(url) == []
        subprocess.run(
            [sys.executable, "-m", "bot", "notify", "--once", "--no-tls"],
            cwd=folder,
            env=environment(url, api),
            capture_output=True,
            timeout=120,
        )
        posted = len(api.calls("chat.postMessage"))
    return (
        f"grace {grace:>5.1f} s  Retry-After {retry_after:>3d} s  stop {elapsed:6.2f} s  "
        f"exit {code}  claim given back {given_back}  posted by the next run {posted}"
    )


def scrape_on_frozen_database(url: str, grace: float, folder: Path) -> str:
    with FreezableProxy.for_url(url).start() as proxy, FakeSlackApi(bot_token=TOKEN) as api:
        env = environment(proxy.url_through(url), api)
        env.update(
            {
                "SLACK_SIGNING_SECRET": "bench-stop-secret",
                "CERTOPS_SHUTDOWN_SECONDS": str(grace),
                "CERTOPS_NOTIFY_INTERVAL": "3600",
            }
        )
        port = free_port()
        process = start_http(port, folder, env, quiet=True)
        got: list[str] = []

        def scrape() -> None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as r:
                    got.append(f"answer {r.status}")
            except Exception as error:
                got.append(type(error).__name__)

        try:
            proxy.freeze()
            scraper = threading.Thread(target=scrape)
            scraper.start()
            time.sleep(0.3)
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=60)
            elapsed = time.monotonic() - started
            scraper.join(30)
        finally:
            proxy.thaw()
            if process.poll() is None:
                process.kill()
                process.wait()
    return f"grace {grace:>5.1f} s  stop {elapsed:6.2f} s  exit {code}  the scrape got {got}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--retry-after", type=int, default=12)
    p.add_argument("--graces", default="1,3,10")
    p.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    args = p.parse_args()
    graces = [float(g) for g in args.graces.split(",")]
    scratch = scratch_sqlite() if args.sqlite else scratch_postgres()
    with scratch as url, tempfile.TemporaryDirectory() as folder:
        if url is None:
            print("PostgreSQL is not reachable: use --sqlite")
            return 1
        upgrade(url)
        print(f"SIGTERM during a 429 wait ({'SQLite' if args.sqlite else 'PostgreSQL'}):")
        for grace in graces:
            print("  " + one_stop(url, grace, args.retry_after, Path(folder)))
        if not args.sqlite:
            print("SIGTERM during a /metrics scrape on a frozen PostgreSQL (read bound 2 s):")
            for grace in (0.5, 1.0, 5.0):
                print("  " + scrape_on_frozen_database(url, grace, Path(folder)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
