"""Two submissions of one name at the same moment on PostgreSQL: one wins, one is told."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import select

from bot.pipeline.material import Passwords
from bot.services import certificates
from bot.services.context import ServiceContext
from bot.services.errors import ServiceError
from storage import queries, reading, writing
from storage.db import Database
from storage.models import Certificate
from tests.support.services import ADMIN, KEY_PASSWORD, Pki, pem_upload


def _race(url: str, pki: Pki, names: list[str]) -> list[Any]:
    """Submit concurrently from threads, each with its own Database; return the outcomes."""
    outcomes: list[Any] = [None] * len(names)
    issued = [pki.app, pki.wildcard]

    def run(index: int) -> None:
        database = Database(url)
        try:
            ctx = ServiceContext(database, extra_roots=[pki.root.cert])
            outcomes[index] = certificates.submit_certificate(
                ctx,
                ADMIN,
                pem_upload(issued[index % 2], pki.inter),
                Passwords(key=KEY_PASSWORD),
                name=names[index],
            )
        except ServiceError as error:
            outcomes[index] = error
        finally:
            database.dispose()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(names))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


def _count(url: str, name: str) -> int:
    database = Database(url)
    try:
        with database.session() as session:
            return len(session.exec(select(Certificate).where(Certificate.name == name)).all())
    finally:
        database.dispose()


def test_simultaneous_inserts_of_one_name_one_wins(
    pg_url: str, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both pass the early check (patched away), then meet at the insert itself."""
    monkeypatch.setattr(reading, "certificate_name_taken", _taken_after_the_early_check())
    barrier = threading.Barrier(2, timeout=20)
    original: Callable[..., int] = writing.insert_certificate
    inserts: list[str] = []

    def insert_together(connection: Any, row: dict[str, Any]) -> int:
        inserts.append(row["name"])
        barrier.wait()  # both transactions are open and about to insert
        return original(connection, row)

    monkeypatch.setattr(writing, "insert_certificate", insert_together)
    outcomes = _race(pg_url, pki, ["same-name", "same-name"])
    winners = [o for o in outcomes if isinstance(o, certificates.SubmitResult)]
    losers = [o for o in outcomes if isinstance(o, ServiceError)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert losers[0].code == "name_taken"
    assert "same-name" in losers[0].message and "taken" in losers[0].message
    assert _count(pg_url, "same-name") == 1
    assert inserts == ["same-name", "same-name"], "both reached the insert: the database decided"


def _taken_after_the_early_check() -> Callable[[Any, str], bool]:
    """`certificate_name_taken` that answers "free" to the submissions' early checks (one
    each) and truly afterwards, when the insert that lost asks why it was refused."""
    real = reading.certificate_name_taken
    early: list[str] = []

    def taken(connection: Any, name: str) -> bool:
        if len(early) < 2:
            early.append(name)
            return False
        return real(connection, name)

    return taken


def test_simultaneous_submissions_unpatched(pg_url: str, pki: Pki) -> None:
    """The whole service, started together: whichever path catches it, the code is the same."""
    outcomes = _race(pg_url, pki, ["twin", "twin"])
    codes = sorted(o.code if isinstance(o, ServiceError) else "ok" for o in outcomes)
    assert codes == ["name_taken", "ok"]
    assert _count(pg_url, "twin") == 1


def test_simultaneous_assignments_to_one_environment(pg_url: str, pki: Pki) -> None:
    """Two admins assign to one environment at once: one wins, one hears of the race."""
    from bot.services.assignments import assign_certificate
    from bot.services.environments import add_environment
    from tests.support.dns_server import DnsServer
    from tests.support.services import DEV_HOST, dns_records

    setup_db = Database(pg_url)
    ctx = ServiceContext(setup_db, extra_roots=[pki.root.cert])
    add_environment(ctx, ADMIN, "dev", default_host=DEV_HOST)
    for name, issued in (("a", pki.app), ("b", pki.wildcard)):
        certificates.submit_certificate(
            ctx, ADMIN, pem_upload(issued, pki.inter), Passwords(key=KEY_PASSWORD), name=name
        )
    setup_db.dispose()
    barrier = threading.Barrier(2, timeout=20)
    original = queries.mark_replaced

    def replace_together(session: Any, environment_id: int, at: Any = None) -> Any:
        barrier.wait()  # both read "no current assignment" and are about to write
        return original(session, environment_id, at)

    outcomes: list[Any] = [None, None]
    with DnsServer(dns_records()) as server, pytest.MonkeyPatch.context() as patch:
        patch.setattr(queries, "mark_replaced", replace_together)

        def run(index: int, cert: str) -> None:
            database = Database(pg_url)
            try:
                outcomes[index] = assign_certificate(
                    ServiceContext(database),
                    ADMIN,
                    cert,
                    "dev",
                    "app.example.com",
                    cname_confirmed=True,
                    nameservers=[server.address],
                    timeout=2,
                )
            except ServiceError as error:
                outcomes[index] = error
            finally:
                database.dispose()

        threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate("ab")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    codes = sorted(o.code if isinstance(o, ServiceError) else "ok" for o in outcomes)
    assert codes == ["concurrent_change", "ok"], outcomes
    check = Database(pg_url)
    try:
        with check.session() as session:
            from storage.models import Assignment

            assert len(session.exec(select(Assignment)).all()) == 1
    finally:
        check.dispose()
