"""How long does a Prometheus scrape of /metrics take as the record grows?

    .venv/bin/python bench/bench_metrics.py [--rows 1000,10000] [--postgres URL]

The record collector reads the database at every scrape (certificates by status, one
expiry series per certificate and environment, warnings posted). Per backend and size:
the median and worst of 20 scrapes through a real HTTP request to the health server,
and the size of the answer. Half of the certificates serve an environment. PostgreSQL is
skipped with a note when no server answers.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch_databases import scratch_postgres  # noqa: E402

from bot.health import HealthApp  # noqa: E402
from bot.http_server import HttpServer  # noqa: E402
from bot.metrics import Metrics  # noqa: E402
from storage import migrate  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import (  # noqa: E402
    Assignment,
    AssignmentState,
    Certificate,
    CertificateStatus,
    Environment,
    SubmittedFormat,
)

SCRAPES = 20
NOW = datetime.now(UTC)


def fill(database: Database, rows: int) -> None:
    with database.session() as session:
        environments = [
            Environment(name=f"env-{i}", default_host=f"acme-{i}.outsystemsenterprise.com")
            for i in range(rows // 2)
        ]
        session.add_all(environments)
        certificates = [
            Certificate(
                name=f"cert-{i}",
                domain=f"host{i}.example.com",
                submitted_format=SubmittedFormat.PEM,
                status=CertificateStatus.VALIDATED,
                subject=f"CN=host{i}.example.com,O=Bench",
                issuer="CN=Bench CA,O=Bench",
                serial=f"{i:040x}",
                not_after=NOW + timedelta(days=i % 400),
                submitted_by="UBENCH",
            )
            for i in range(rows)
        ]
        session.add_all(certificates)
        session.flush()
        session.add_all(
            Assignment(
                certificate_id=certificates[i].id or 0,
                environment_id=environments[i].id or 0,
                hostname=f"host{i}.example.com",
                state=AssignmentState.ACTIVE,
                assigned_by="UBENCH",
                active_at=NOW,
            )
            for i in range(len(environments))
        )


def scrape_times(database: Database) -> tuple[list[float], int]:
    times: list[float] = []
    size = 0
    with HttpServer(HealthApp(Metrics(database), database), host="127.0.0.1", port=0) as server:
        for _ in range(SCRAPES):
            started = time.perf_counter()
            with urllib.request.urlopen(server.url + "/metrics", timeout=60) as response:
                size = len(response.read())
            times.append(time.perf_counter() - started)
    return times, size


def run(label: str, url: str, rows: int) -> None:
    migrate.upgrade(url)
    database = Database(url)
    try:
        fill(database, rows)
        times, size = scrape_times(database)
    finally:
        database.dispose()
    print(
        f"{label:<10} {rows:>7} certificates: scrape median {statistics.median(times) * 1000:8.1f} ms,"
        f" worst {max(times) * 1000:8.1f} ms, answer {size / 1024:8.1f} KiB"
    )


def postgres(admin_url: str, rows: int) -> None:
    with scratch_postgres(admin_url) as pg_url:
        if pg_url is not None:
            run("postgresql", pg_url, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1000,10000")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    for rows in (int(x) for x in args.rows.split(",")):
        with tempfile.TemporaryDirectory() as folder:
            run("sqlite", f"sqlite:///{Path(folder) / 'bench.db'}", rows)
        postgres(args.postgres, rows)


if __name__ == "__main__":
    main()
