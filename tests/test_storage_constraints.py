"""What the database itself refuses: a second current assignment per environment, a
notification claimed twice, a taken certificate name, also under concurrency."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from storage import queries
from storage.db import Database
from storage.errors import EnvironmentBusy, NameTaken
from storage.models import Assignment, AssignmentState, Certificate, Environment, Notification
from tests.support.rows import make_certificate, make_environment

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def _ids(database: Database) -> tuple[int, int]:
    with database.session() as session:
        env, cert = make_environment(), make_certificate()
        session.add_all([env, cert])
        session.flush()
        assert env.id is not None and cert.id is not None
        return env.id, cert.id


def _assignment(env_id: int, cert_id: int, state: AssignmentState) -> Assignment:
    return Assignment(
        certificate_id=cert_id,
        environment_id=env_id,
        hostname="apps.acme.example",
        state=state,
        assigned_by="U1",
        assigned_at=NOW,
        active_at=NOW + timedelta(minutes=5),
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (AssignmentState.ACTIVE, AssignmentState.UPDATING),
        (AssignmentState.UPDATING, AssignmentState.UPDATING),
        (AssignmentState.ACTIVE, AssignmentState.ACTIVE),
    ],
)
def test_second_current_assignment_is_refused_by_the_index(
    database: Database, first: AssignmentState, second: AssignmentState
) -> None:
    env_id, cert_id = _ids(database)
    with database.session() as session:
        session.add(_assignment(env_id, cert_id, first))
    with pytest.raises(IntegrityError), database.session() as session:
        session.add(_assignment(env_id, cert_id, second))
    with database.session() as session:
        assert len(session.exec(select(Assignment)).all()) == 1


def test_replaced_assignments_do_not_count(database: Database) -> None:
    env_id, cert_id = _ids(database)
    with database.session() as session:
        session.add(_assignment(env_id, cert_id, AssignmentState.REPLACED))
        session.add(_assignment(env_id, cert_id, AssignmentState.REPLACED))
        session.add(_assignment(env_id, cert_id, AssignmentState.ACTIVE))
    with database.session() as session:
        states = sorted(a.state.value for a in session.exec(select(Assignment)).all())
    assert states == ["active", "replaced", "replaced"]


def test_another_environment_may_have_its_own_current_assignment(database: Database) -> None:
    env_id, cert_id = _ids(database)
    with database.session() as session:
        other = make_environment("acme-test")
        session.add(other)
        session.flush()
        assert other.id is not None
        session.add(_assignment(env_id, cert_id, AssignmentState.ACTIVE))
        session.add(_assignment(other.id, cert_id, AssignmentState.ACTIVE))
    with database.session() as session:
        assert len(session.exec(select(Assignment)).all()) == 2


def test_add_assignment_raises_environment_busy_and_keeps_the_session(database: Database) -> None:
    env_id, cert_id = _ids(database)
    with database.session() as session:
        queries.add_assignment(session, _assignment(env_id, cert_id, AssignmentState.ACTIVE))
    with database.session() as session:
        with pytest.raises(EnvironmentBusy):
            queries.add_assignment(session, _assignment(env_id, cert_id, AssignmentState.UPDATING))
        # The savepoint rolled back only the refused insert: the session still works.
        replaced = queries.mark_replaced(session, env_id, at=NOW)
        assert replaced is not None and replaced.state is AssignmentState.REPLACED
        queries.add_assignment(session, _assignment(env_id, cert_id, AssignmentState.UPDATING))
    with database.session() as session:
        current = queries.active_assignment(session, env_id)
        assert current is not None and current.state is AssignmentState.UPDATING
        assert len(session.exec(select(Assignment)).all()) == 2


def test_notification_is_unique_per_certificate_threshold_channel(database: Database) -> None:
    _, cert_id = _ids(database)
    with database.session() as session:
        session.add(
            Notification(certificate_id=cert_id, threshold="30d", channel="C1", claimed_by="a")
        )
        # Same certificate, another threshold or channel: allowed.
        session.add(
            Notification(certificate_id=cert_id, threshold="14d", channel="C1", claimed_by="a")
        )
        session.add(
            Notification(certificate_id=cert_id, threshold="30d", channel="C2", claimed_by="a")
        )
    with pytest.raises(IntegrityError), database.session() as session:
        session.add(
            Notification(certificate_id=cert_id, threshold="30d", channel="C1", claimed_by="b")
        )
    with database.session() as session:
        assert len(session.exec(select(Notification)).all()) == 3


def test_claim_notification_gives_one_winner(database: Database) -> None:
    _, cert_id = _ids(database)
    with database.session() as session:
        first = queries.claim_notification(session, cert_id, "7d", "C1", "replica-a", at=NOW)
        second = queries.claim_notification(session, cert_id, "7d", "C1", "replica-b", at=NOW)
        other = queries.claim_notification(session, cert_id, "expired", "C1", "replica-b", at=NOW)
    assert first is not None and first.claimed_by == "replica-a"
    assert second is None
    assert other is not None
    with database.session() as session:
        stored = queries.notification_for(session, cert_id, "7d", "C1")
        assert stored is not None and stored.claimed_by == "replica-a"
        assert len(queries.notifications_of_certificate(session, cert_id)) == 2


def test_duplicate_certificate_name_raises_name_taken(database: Database) -> None:
    with database.session() as session:
        queries.add_certificate(session, make_certificate("acme-2027"))
    with database.session() as session:
        with pytest.raises(NameTaken) as caught:
            queries.add_certificate(session, make_certificate("acme-2027", serial="ff"))
        assert "acme-2027" in str(caught.value) and "already taken" in str(caught.value)
        # The caller's transaction survives the refusal.
        queries.add_certificate(session, make_certificate("acme-2027-b"))
    with database.session() as session:
        names = sorted(c.name for c in session.exec(select(Certificate)).all())
    assert names == ["acme-2027", "acme-2027-b"]


def test_duplicate_environment_name_raises_name_taken(database: Database) -> None:
    with database.session() as session:
        queries.add_environment(session, make_environment("acme-dev"))
    with (
        pytest.raises(NameTaken, match="environment name 'acme-dev'"),
        database.session() as session,
    ):
        queries.add_environment(session, make_environment("acme-dev"))
    with database.session() as session:
        assert len(session.exec(select(Environment)).all()) == 1


def _race(url: str, name: str, count: int = 2, *, read_first: bool = True) -> list[str]:
    """`count` threads, each on its own connection, insert one name at the same moment.

    With `read_first`, each thread first reads (the name is free for all of them), then
    waits at a barrier, then inserts and commits: the database alone decides who wins.
    (SQLite takes its write lock at BEGIN, so there the threads meet at the barrier
    before their sessions start and queue on the lock instead.)
    """
    barrier = threading.Barrier(count, timeout=20)
    outcomes: list[str] = []
    lock = threading.Lock()
    database = Database(url)

    def submit(index: int) -> None:
        try:
            if not read_first:
                barrier.wait()
            with database.session() as session:
                if read_first:
                    assert queries.certificate_by_name(session, name) is None
                    barrier.wait()
                queries.add_certificate(session, make_certificate(name, submitted_by=f"U{index}"))
            result = "won"
        except NameTaken:
            result = "name_taken"
        except Exception as error:  # pragma: no cover - reported by the assertion below
            result = f"{type(error).__name__}: {error}"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    database.dispose()
    return sorted(outcomes)


def test_concurrent_inserts_of_one_name_on_postgres(pg_url: str) -> None:
    assert _race(pg_url, "acme-race", count=2) == ["name_taken", "won"]
    database = Database(pg_url)
    with database.session() as session:
        assert len(session.exec(select(Certificate)).all()) == 1
    database.dispose()


def test_many_concurrent_inserts_of_one_name_on_postgres(pg_url: str) -> None:
    assert _race(pg_url, "acme-crowd", count=6) == ["name_taken"] * 5 + ["won"]


def test_concurrent_inserts_of_one_name_on_sqlite(sqlite_url: str) -> None:
    assert _race(sqlite_url, "acme-race", count=4, read_first=False) == ["name_taken"] * 3 + ["won"]
