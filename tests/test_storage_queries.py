"""The queries the bot makes, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from storage import queries
from storage.db import Database
from storage.errors import RecordMissing
from storage.models import (
    Assignment,
    AssignmentState,
    AuditEvent,
    CertificateStatus,
    SupportTicket,
    TicketState,
)
from tests.support.rows import make_certificate, make_environment

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def test_certificate_by_name_and_status(database: Database) -> None:
    with database.session() as session:
        for index, (name, status) in enumerate(
            [
                ("a", CertificateStatus.VALIDATED),
                ("b", CertificateStatus.PENDING_MANUAL),
                ("c", CertificateStatus.PENDING_MANUAL),
                ("d", CertificateStatus.REJECTED),
            ]
        ):
            queries.add_certificate(
                session,
                make_certificate(name, status=status, submitted_at=NOW + timedelta(minutes=index)),
            )
    with database.session() as session:
        found = queries.certificate_by_name(session, "b")
        assert found is not None and found.status is CertificateStatus.PENDING_MANUAL
        assert queries.certificate_by_name(session, "B") is None
        assert queries.certificate_by_name(session, "zz") is None
        pending = queries.certificates_by_name(session, CertificateStatus.PENDING_MANUAL)
        assert [c.name for c in pending] == ["b", "c"], "by name"
        assert [c.name for c in queries.certificates_by_name(session)] == ["a", "b", "c", "d"]
        assert queries.certificate(session, " b ").name == "b"
        assert queries.certificate_name_taken(session, "d")
        assert not queries.certificate_name_taken(session, "e")
        with pytest.raises(RecordMissing, match="no certificate named 'zz'"):
            queries.certificate(session, "zz")
        with pytest.raises(RecordMissing, match="no certificate with id 999"):
            queries.certificate_by_id(session, 999)


def test_expiring_before_orders_by_not_after_and_filters_status(database: Database) -> None:
    rows = [
        ("late", NOW + timedelta(days=60), CertificateStatus.VALIDATED),
        ("soon", NOW + timedelta(days=3), CertificateStatus.APPROVED),
        ("sooner", NOW + timedelta(days=1), CertificateStatus.VALIDATED),
        ("expired", NOW - timedelta(days=2), CertificateStatus.VALIDATED),
        ("old", NOW + timedelta(days=2), CertificateStatus.SUPERSEDED),
        ("unknown", None, CertificateStatus.PENDING_MANUAL),
    ]
    with database.session() as session:
        for name, not_after, status in rows:
            queries.add_certificate(
                session, make_certificate(name, not_after=not_after, status=status)
            )
    with database.session() as session:
        usable = queries.certificates_expiring_before(session, NOW + timedelta(days=30))
        everything = queries.certificates_expiring_before(
            session, NOW + timedelta(days=30), statuses=None
        )
    assert [c.name for c in usable] == ["expired", "sooner", "soon"]
    assert [c.name for c in everything] == ["expired", "sooner", "old", "soon"]
    assert all(c.not_after is not None and c.not_after.tzinfo is not None for c in everything)


def test_renewals(database: Database) -> None:
    with database.session() as session:
        old = queries.add_certificate(session, make_certificate("old"))
        queries.add_certificate(
            session,
            make_certificate("new", renews_id=old.id, status=CertificateStatus.REJECTED),
        )
        assert old.id is not None
        old_id = old.id
    with database.session() as session:
        assert [c.name for c in queries.renewals_of(session, old_id)] == ["new"]
        assert queries.has_valid_renewal(session, old_id, [CertificateStatus.REJECTED])
        assert not queries.has_valid_renewal(session, old_id, [CertificateStatus.VALIDATED])


def test_environments_listed_by_name(database: Database) -> None:
    with database.session() as session:
        for name in ("acme-prd", "acme-dev", "acme-lt"):
            queries.add_environment(session, make_environment(name, is_lifetime=name == "acme-lt"))
    with database.session() as session:
        assert [e.name for e in queries.environments(session)] == [
            "acme-dev",
            "acme-lt",
            "acme-prd",
        ]
        lifetime = queries.lifetime_environment(session)
        assert lifetime is not None and lifetime.name == "acme-lt"
        assert queries.environment_name_taken(session, "acme-dev")
        with pytest.raises(RecordMissing, match="no environment named 'nope'"):
            queries.environment(session, "nope")
        found = queries.environment_by_name(session, "acme-prd")
        assert found is not None and found.default_host == "acme-prd.outsystemsenterprise.com"
        assert queries.environment_by_name(session, "nope") is None


def _assign(env_id: int, cert_id: int, state: AssignmentState, minutes: int) -> Assignment:
    at = NOW + timedelta(minutes=minutes)
    return Assignment(
        certificate_id=cert_id,
        environment_id=env_id,
        hostname="apps.acme.example",
        cname_confirmed=True,
        state=state,
        assigned_by="U1",
        assigned_at=at,
        active_at=at + timedelta(minutes=5),
    )


def test_assignment_queries(database: Database) -> None:
    with database.session() as session:
        dev = queries.add_environment(session, make_environment("acme-dev"))
        tst = queries.add_environment(session, make_environment("acme-tst"))
        first = queries.add_certificate(session, make_certificate("first"))
        second = queries.add_certificate(session, make_certificate("second"))
        assert dev.id and tst.id and first.id and second.id
        ids = (dev.id, tst.id, first.id, second.id)
        queries.add_assignment(session, _assign(dev.id, first.id, AssignmentState.ACTIVE, 0))
        queries.add_assignment(session, _assign(tst.id, first.id, AssignmentState.ACTIVE, 1))
    dev_id, tst_id, first_id, second_id = ids
    with database.session() as session:
        assert queries.active_assignment(session, dev_id) is not None
        replaced = queries.mark_replaced(session, dev_id, at=NOW + timedelta(hours=1))
        assert replaced is not None and replaced.replaced_at == NOW + timedelta(hours=1)
        queries.add_assignment(session, _assign(dev_id, second_id, AssignmentState.UPDATING, 60))
    with database.session() as session:
        current = queries.active_assignment(session, dev_id)
        assert current is not None and current.certificate_id == second_id
        assert current.state is AssignmentState.UPDATING
        of_first = queries.assignments_of_certificate(session, first_id)
        assert [(a.environment_id, a.state) for a in of_first] == [
            (dev_id, AssignmentState.REPLACED),
            (tst_id, AssignmentState.ACTIVE),
        ]
        still = queries.assignments_of_certificate(session, first_id, current_only=True)
        assert [a.environment_id for a in still] == [tst_id]
        assert queries.mark_replaced(session, 12345) is None


def test_due_promotions(database: Database) -> None:
    with database.session() as session:
        env = queries.add_environment(session, make_environment("acme-dev"))
        other = queries.add_environment(session, make_environment("acme-tst"))
        cert = queries.add_certificate(session, make_certificate("c"))
        assert env.id and other.id and cert.id
        queries.add_assignment(session, _assign(env.id, cert.id, AssignmentState.UPDATING, 0))
        queries.add_assignment(session, _assign(other.id, cert.id, AssignmentState.UPDATING, 10))
    with database.session() as session:
        assert queries.due_promotions(session, NOW + timedelta(minutes=4)) == []
        due = queries.due_promotions(session, NOW + timedelta(minutes=5))
        assert [(a.environment_id, a.state) for a in due] == [(env.id, AssignmentState.UPDATING)]


def test_open_tickets(database: Database) -> None:
    with database.session() as session:
        env = queries.add_environment(session, make_environment("acme-lt", is_lifetime=True))
        cert = queries.add_certificate(session, make_certificate("c"))
        assert env.id and cert.id
        for index, state in enumerate(TicketState):
            session.add(
                SupportTicket(
                    certificate_id=cert.id,
                    environment_id=env.id,
                    hostname=f"lt{index}.acme.example",
                    state=state,
                    created_by="U1",
                    created_at=NOW + timedelta(minutes=index),
                )
            )
        cert_id, env_id = cert.id, env.id
    with database.session() as session:
        open_states = [t.state.value for t in queries.tickets_in_order(session, open_only=True)]
        assert open_states == ["draft", "submitted", "confirmed", "dns_configured"]
        assert len(queries.tickets_in_order(session)) == len(TicketState)
        assert len(queries.open_tickets_of_certificate(session, cert_id)) == 4
        in_order = queries.tickets_in_order(session)
        assert [t.id for t in in_order] == sorted(t.id for t in in_order)
        assert len(queries.tickets_in_order(session, open_only=True)) == 4
        assert len(queries.open_tickets_of_environment(session, env_id)) == 4
        with pytest.raises(RecordMissing, match="no ticket with id 999"):
            queries.ticket(session, 999)


def test_record_audit_and_latest(database: Database) -> None:
    with database.session() as session:
        env = make_environment("acme-dev")
        event = queries.record_audit(session, "U1", "env.add", env, before=None, after=env, at=NOW)
        assert env.id is not None and event.entity_id == env.id
        env_id = env.id
        before = queries.snapshot(env)
        env.channel = "C9"
        queries.record_audit(
            session,
            "U2",
            "env.update",
            env,
            before=before,
            after=env,
            at=NOW + timedelta(seconds=1),
        )
        for index in range(3):
            queries.record_audit(
                session,
                "cli",
                "cert.submit",
                ("certificate", index + 100),
                after={"name": f"c{index}", "password": "hunter2", "key_pem": "secret"},
                at=NOW + timedelta(minutes=index + 1),
            )
    with database.session() as session:
        latest = queries.latest_audit(session, limit=2)
        assert [(e.action, e.entity_id) for e in latest] == [
            ("cert.submit", 102),
            ("cert.submit", 101),
        ]
        assert latest[0].after == {"name": "c2"}, "secret-looking fields never reach the audit"
        of_env = queries.latest_audit(session, entity=("environment", env_id))
        assert [e.action for e in of_env] == ["env.update", "env.add"]
        update = of_env[0]
        assert update.actor == "U2" and update.entity_type == "environment"
        assert update.before is not None and update.before["channel"] is None
        assert update.after is not None and update.after["channel"] == "C9"
        assert isinstance(update.after["created_at"], str), "datetimes are ISO strings in JSON"
        assert update.at == NOW + timedelta(seconds=1)
        assert len(queries.latest_audit(session, limit=100)) == 5
        assert queries.latest_audit(session, limit=0) == []


def test_audit_snapshot_leaves_out_large_public_blobs(database: Database) -> None:
    with database.session() as session:
        cert = queries.add_certificate(session, make_certificate("c", chain_pem="chain"))
        queries.record_audit(session, "U1", "cert.submit", cert, after=cert)
    with database.session() as session:
        (event,) = session.exec(select(AuditEvent)).all()
    assert event.after is not None
    assert event.after["name"] == "c" and event.after["status"] == "validated"
    assert event.after["sans"] == ["*.acme.example", "acme.example"]
    assert (event.after["key_type"], event.after["key_bits"]) == ("RSA", 2048)
    assert not {"certificate_pem", "chain_pem", "report"} & set(event.after)
