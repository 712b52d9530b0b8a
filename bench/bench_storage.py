"""How fast is the record? Prints figures for SQLite (a file) and PostgreSQL (127.0.0.1).

    .venv/bin/python bench/bench_storage.py [--rows N] [--postgres URL]

Per backend: (a) `migrate.upgrade` from empty to head; (b) one certificate submission, as
the bot makes it (a Core transaction, `writing.insert_certificate` + `insert_audit`,
commit), median over N;
(c) the expiry query over N certificates (median of 50); (d) `claim_notification`, new and
already-claimed (median of 100 each); (e) 8 threads submitting one name at once: time until
all have their answer (one winner, seven NameTaken).
PostgreSQL is skipped with a note when no server answers. Databases are made and removed
by the script (a temporary file; a database named certops_bench_<random>).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch_databases import scratch_postgres, scratch_sqlite  # noqa: E402

from storage import migrate, queries, writing  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.enums import CertificateStatus, SubmittedFormat  # noqa: E402
from storage.errors import NameTaken  # noqa: E402

NOW = datetime(2026, 11, 27, tzinfo=UTC)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def _median(action: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _certificate(name: str, index: int) -> dict[str, Any]:
    return writing.certificate_values(
        name=name,
        domain="*.acme.example",
        submitted_format=SubmittedFormat.PEM,
        status=CertificateStatus.VALIDATED,
        subject="CN=*.acme.example",
        sans=["*.acme.example"],
        not_after=NOW + timedelta(hours=index),
        fingerprint_sha256=f"{index:064x}",
        certificate_pem="-----BEGIN CERTIFICATE-----\n"
        + "A" * 1200
        + "\n-----END CERTIFICATE-----\n",
        report={"verdict": "valid", "findings": []},
        submitted_by="bench",
    )


def bench(url: str, label: str, rows: int) -> None:
    print(f"== {label}")
    start = time.perf_counter()
    migrate.upgrade(url)
    print(f"(a) upgrade empty -> head: {_ms(time.perf_counter() - start)}")
    database = Database(url)
    counter = iter(range(10**9))

    def submit() -> None:
        index = next(counter)
        with database.writing() as connection:
            row = _certificate(f"cert-{index}", index)
            row["id"] = writing.insert_certificate(connection, row)
            event = ("certificate", row["id"])
            writing.insert_audit(
                connection, writing.audit_values("bench", "cert.submit", event, after=row)
            )

    print(
        f"(b) submission (insert + audit + commit): median {_ms(_median(submit, rows))} over {rows}"
    )

    def expiring() -> None:
        with database.session() as session:
            queries.certificates_expiring_before(session, NOW + timedelta(days=30))

    print(f"(c) expiring-before query over {rows} rows: median {_ms(_median(expiring, 50))}")
    with database.session() as session:
        first = queries.certificate_by_name(session, "cert-0")
        assert first is not None and first.id is not None
        cert_id = first.id
    thresholds = iter(range(10**9))

    def claim_new() -> None:
        with database.session() as session:
            queries.claim_notification(session, cert_id, f"{next(thresholds)}d", "C1", "bench")

    def claim_taken() -> None:
        with database.session() as session:
            assert queries.claim_notification(session, cert_id, "0d", "C1", "other") is None

    print(
        f"(d) claim_notification new: median {_ms(_median(claim_new, 100))}; "
        f"already claimed: median {_ms(_median(claim_taken, 100))}"
    )

    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def race(index: int) -> None:
        barrier.wait()
        try:
            with database.writing() as connection:
                writing.insert_certificate(connection, _certificate("raced", 10**6 + index))
            outcomes.append("won")
        except NameTaken:
            outcomes.append("name_taken")

    threads = [threading.Thread(target=race, args=(i,)) for i in range(8)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(
        f"(e) 8 concurrent submissions of one name: {_ms(time.perf_counter() - start)}, "
        f"{outcomes.count('won')} won, {outcomes.count('name_taken')} NameTaken"
    )
    database.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    with scratch_sqlite() as url:
        bench(url, "SQLite file", args.rows)
    with scratch_postgres(args.postgres) as pg_url:
        if pg_url is not None:
            bench(pg_url, "PostgreSQL (127.0.0.1)", args.rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
