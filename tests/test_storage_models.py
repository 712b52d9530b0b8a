"""Each table round-trips on both databases, with aware UTC datetimes and JSON intact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlmodel import select

from storage.db import Database
from storage.models import (
    Assignment,
    AssignmentState,
    AuditEvent,
    Certificate,
    CertificateStatus,
    Environment,
    Notification,
    SubmittedFormat,
    SupportTicket,
    TicketState,
)
from tests.support.rows import NOT_AFTER, make_certificate, make_environment


def test_environment_round_trip(database: Database) -> None:
    with database.session() as session:
        session.add(make_environment(channel="C42", is_lifetime=True, hostname="apps.acme.example"))
    with database.session() as session:
        env = session.exec(select(Environment)).one()
    assert env.id is not None
    assert (env.name, env.default_host) == ("acme-dev", "acme-dev.outsystemsenterprise.com")
    assert env.is_lifetime is True
    assert (env.channel, env.hostname) == ("C42", "apps.acme.example")
    assert env.created_at.tzinfo is not None


def test_certificate_round_trip_keeps_json_enums_and_text(database: Database) -> None:
    with database.session() as session:
        session.add(make_certificate(chain_pem="chain", notes="zip notes"))
    with database.session() as session:
        cert = session.exec(select(Certificate)).one()
        raw_status = (
            session.connection()
            .execute(text("SELECT status, submitted_format FROM certificate"))
            .one()
        )
    assert cert.status is CertificateStatus.VALIDATED
    assert cert.submitted_format is SubmittedFormat.PFX
    assert tuple(raw_status) == ("validated", "pfx"), "enums are stored as their values"
    assert cert.sans == ["*.acme.example", "acme.example"]
    assert cert.report == {"verdict": "valid", "findings": [{"code": "expiring_soon"}]}
    assert cert.not_after == NOT_AFTER
    assert cert.key_bits == 2048
    assert cert.chain_pem == "chain"
    assert cert.notes == "zip notes"
    assert cert.renews_id is None and cert.reviewed_at is None


def test_certificate_renews_another(database: Database) -> None:
    with database.session() as session:
        old = make_certificate("old")
        session.add(old)
        session.flush()
        session.add(make_certificate("new", renews_id=old.id))
    with database.session() as session:
        new = session.exec(select(Certificate).where(Certificate.name == "new")).one()
        old_id = session.exec(select(Certificate.id).where(Certificate.name == "old")).one()
    assert new.renews_id == old_id


def test_assignment_ticket_notification_audit_round_trip(database: Database) -> None:
    at = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    with database.session() as session:
        env, cert = make_environment(), make_certificate()
        session.add_all([env, cert])
        session.flush()
        assert env.id is not None and cert.id is not None
        session.add(
            Assignment(
                certificate_id=cert.id,
                environment_id=env.id,
                hostname="apps.acme.example",
                cname_confirmed=True,
                dns_report={"verdict": "ok", "findings": []},
                state=AssignmentState.UPDATING,
                assigned_by="U1",
                assigned_at=at,
                active_at=at + timedelta(minutes=5),
            )
        )
        session.add(
            SupportTicket(
                certificate_id=cert.id,
                environment_id=env.id,
                hostname="lifetime.acme.example",
                state=TicketState.SUBMITTED,
                case_number="CS-1234",
                created_by="U1",
            )
        )
        session.add(
            Notification(
                certificate_id=cert.id, threshold="30d", channel="C42", claimed_by="replica-a"
            )
        )
        session.add(
            AuditEvent(
                actor="U1",
                action="assign",
                entity_type="assignment",
                entity_id=1,
                before=None,
                after={"state": "updating"},
            )
        )
    with database.session() as session:
        assignment = session.exec(select(Assignment)).one()
        ticket = session.exec(select(SupportTicket)).one()
        note = session.exec(select(Notification)).one()
        event = session.exec(select(AuditEvent)).one()
        null_before = session.exec(
            text("SELECT COUNT(*) FROM audit_event WHERE before IS NULL")
        ).one()  # type: ignore[call-overload]
    assert assignment.state is AssignmentState.UPDATING
    assert assignment.cname_confirmed is True
    assert assignment.dns_report == {"verdict": "ok", "findings": []}
    assert assignment.active_at - assignment.assigned_at == timedelta(minutes=5)
    assert assignment.replaced_at is None
    assert (ticket.state, ticket.case_number) == (TicketState.SUBMITTED, "CS-1234")
    assert ticket.updated_at.tzinfo is not None
    assert (note.threshold, note.channel, note.message_ts, note.posted_at) == (
        "30d",
        "C42",
        None,
        None,
    )
    assert (event.actor, event.action, event.after) == ("U1", "assign", {"state": "updating"})
    assert event.before is None
    assert tuple(null_before) == (1,), "a None JSON value is stored as SQL NULL"


@pytest.mark.parametrize(
    "given",
    [
        datetime(2027, 1, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2027, 2, 1, 1, 59, 59, 999999, tzinfo=timezone(timedelta(hours=2))),
        datetime(2027, 1, 31, 18, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5))),
    ],
    ids=["utc", "plus-2h", "minus-5h"],
)
def test_datetimes_come_back_aware_utc(database: Database, given: datetime) -> None:
    with database.session() as session:
        session.add(make_certificate(not_after=given))
    with database.session() as session:
        cert = session.exec(select(Certificate)).one()
    assert cert.not_after is not None
    assert cert.not_after.utcoffset() == timedelta(0)
    assert cert.not_after == datetime(2027, 1, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert cert.submitted_at.utcoffset() == timedelta(0)


def test_naive_datetime_is_refused(database: Database) -> None:
    with pytest.raises(Exception, match="naive datetime refused"), database.session() as session:
        session.add(make_certificate(not_after=datetime(2027, 1, 1)))
    with database.session() as session:
        assert session.exec(select(Certificate)).all() == []


def test_unknown_enum_value_is_refused(database: Database) -> None:
    with pytest.raises(Exception, match=r"approved-ish|not among"), database.session() as session:
        session.add(make_certificate(status="approved-ish"))
    with database.session() as session:
        assert session.exec(select(Certificate)).all() == []


def test_foreign_keys_are_enforced(database: Database) -> None:
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), database.session() as session:
        session.add(
            Assignment(
                certificate_id=999,
                environment_id=999,
                hostname="x.example",
                state=AssignmentState.ACTIVE,
                assigned_by="U1",
                active_at=datetime.now(UTC),
            )
        )
