"""Submit, review, list and show certificates, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.pipeline.material import InputFile, Passwords
from bot.services import certificates, environments
from bot.services.audit import recent
from bot.services.context import ServiceContext
from bot.services.errors import ServiceError
from storage.models import AuditEvent, Certificate
from tests.support.pki import self_signed_leaf
from tests.support.services import (
    ADMIN,
    DEV_HOST,
    KEY_PASSWORD,
    PERSON,
    PFX_PASSWORD,
    Pki,
    pem_upload,
    pfx_upload,
    submit,
)


def _stored(ctx: ServiceContext, name: str) -> Certificate:
    with ctx.database.session() as session:
        row = session.exec(select(Certificate).where(Certificate.name == name)).one()
        return row


def test_valid_submission_is_validated_with_public_material_only(
    ctx: ServiceContext, pki: Pki
) -> None:
    result = certificates.submit_certificate(
        ctx, PERSON, pem_upload(pki.app, pki.inter), Passwords(key=KEY_PASSWORD), name="app-2026"
    )
    assert result.certificate.status == "validated"
    assert result.report["verdict"] == "valid"
    row = _stored(ctx, "app-2026")
    assert row.status.value == "validated"
    assert row.submitted_by == "U_PERSON"
    assert row.sans == ["app.example.com", "www.example.com"]
    assert row.submitted_format.value == "pem"
    assert row.key_type == "RSA" and row.key_bits == 2048
    assert row.certificate_pem and "BEGIN CERTIFICATE" in row.certificate_pem
    assert "BEGIN CERTIFICATE" in row.chain_pem  # the intermediate
    assert row.report["verdict"] == "valid"
    assert row.domain == "app.example.com"
    assert "PRIVATE KEY-----" not in (row.certificate_pem + row.chain_pem + str(row.report))
    events = [e for e in recent(ctx) if e.action == "certificate.submit"]
    assert events and events[0].actor == "U_PERSON" and events[0].after
    assert events[0].after["status"] == "validated"


def test_pfx_submission_records_the_format(ctx: ServiceContext, pki: Pki) -> None:
    result = certificates.submit_certificate(
        ctx, ADMIN, pfx_upload(pki.app, pki.inter), Passwords(key=PFX_PASSWORD), name="pfx"
    )
    assert result.certificate.status == "validated"
    assert result.certificate.submitted_format == "pfx"


def test_invalid_submission_is_refused_with_the_report_and_not_stored(
    ctx: ServiceContext, pki: Pki
) -> None:
    files = [InputFile("cert.pem", pki.app.pem + pki.inter.issued.pem)]  # no key
    with pytest.raises(ServiceError) as caught:
        certificates.submit_certificate(ctx, PERSON, files, Passwords(), name="nokey")
    assert caught.value.code == "certificate_invalid"
    assert "no_private_key" in caught.value.message
    codes = [f["code"] for f in caught.value.details["report"]["findings"]]
    assert "no_private_key" in codes
    assert certificates.list_certificates(ctx) == []


def test_wrong_password_is_refused(ctx: ServiceContext, pki: Pki) -> None:
    with pytest.raises(ServiceError) as caught:
        certificates.submit_certificate(
            ctx, PERSON, pem_upload(pki.app, pki.inter), Passwords(key=b"nope-nope"), name="x"
        )
    assert caught.value.code == "certificate_invalid"
    assert "wrong_password" in caught.value.message


def test_manual_submission_waits_then_an_admin_approves(ctx: ServiceContext, pki: Pki) -> None:
    leaf = self_signed_leaf(["self.example.com"])
    files = [InputFile("c.pem", leaf.pem), InputFile("k.pem", leaf.key_pem())]
    result = certificates.submit_certificate(
        ctx, PERSON, files, Passwords(), name="selfie", manual=True
    )
    assert result.manual and result.certificate.status == "pending_manual"
    assert result.report["verdict"] == "invalid"
    with pytest.raises(ServiceError) as caught:
        certificates.approve_certificate(ctx, PERSON, "selfie")
    assert caught.value.code == "not_admin"
    decision = certificates.approve_certificate(ctx, ADMIN, "selfie", "internal CA, checked")
    assert decision.certificate.status == "approved"
    assert decision.submitter == "U_PERSON" and decision.reason == "internal CA, checked"
    assert decision.to_dict()["notify"] == {"user": "U_PERSON", "reason": "internal CA, checked"}
    with pytest.raises(ServiceError) as again:
        certificates.approve_certificate(ctx, ADMIN, "selfie")
    assert again.value.code == "invalid_transition"
    actions = [e.action for e in recent(ctx)]
    assert "certificate.approve" in actions


def test_reject_needs_a_reason_that_the_submitter_is_told(ctx: ServiceContext, pki: Pki) -> None:
    leaf = self_signed_leaf(["self.example.com"])
    files = [InputFile("c.pem", leaf.pem), InputFile("k.pem", leaf.key_pem())]
    certificates.submit_certificate(ctx, PERSON, files, Passwords(), name="selfie", manual=True)
    with pytest.raises(ServiceError) as caught:
        certificates.reject_certificate(ctx, ADMIN, "selfie", "  ")
    assert caught.value.code == "invalid_input"
    decision = certificates.reject_certificate(ctx, ADMIN, "selfie", "self-signed: use the CA")
    assert decision.decision == "rejected"
    assert decision.submitter == "U_PERSON" and decision.reason == "self-signed: use the CA"
    row = _stored(ctx, "selfie")
    assert row.status.value == "rejected" and row.reviewed_by == ADMIN.user_id
    assert row.review_reason == "self-signed: use the CA"
    with ctx.database.session() as session:
        event = session.exec(
            select(AuditEvent).where(AuditEvent.action == "certificate.reject")
        ).one()
        assert event.before and event.before["status"] == "pending_manual"
        assert event.after and event.after["status"] == "rejected"


def test_approve_refuses_a_validated_certificate(ctx: ServiceContext, pki: Pki) -> None:
    submit(ctx, pki.app, pki, "good")
    with pytest.raises(ServiceError) as caught:
        certificates.approve_certificate(ctx, ADMIN, "good")
    assert caught.value.code == "invalid_transition"


def test_a_taken_name_is_refused_clearly(ctx: ServiceContext, pki: Pki) -> None:
    submit(ctx, pki.app, pki, "shared-name")
    with pytest.raises(ServiceError) as caught:
        submit(ctx, pki.wildcard, pki, "shared-name")
    assert caught.value.code == "name_taken"
    assert "shared-name" in caught.value.message and "taken" in caught.value.message


def test_renews_must_name_an_existing_certificate(ctx: ServiceContext, pki: Pki) -> None:
    with pytest.raises(ServiceError) as caught:
        submit(ctx, pki.app, pki, "new", renews="missing")
    assert caught.value.code == "not_found"


def test_bad_names_are_refused(ctx: ServiceContext, pki: Pki) -> None:
    with pytest.raises(ServiceError) as caught:
        submit(ctx, pki.app, pki, "   ")
    assert caught.value.code == "invalid_input"


def test_list_filters_by_status_and_show_has_the_report(ctx: ServiceContext, pki: Pki) -> None:
    submit(ctx, pki.app, pki, "b-app")
    leaf = self_signed_leaf(["self.example.com"])
    files = [InputFile("c.pem", leaf.pem), InputFile("k.pem", leaf.key_pem())]
    certificates.submit_certificate(ctx, PERSON, files, Passwords(), name="a-self", manual=True)
    assert [c.name for c in certificates.list_certificates(ctx)] == ["a-self", "b-app"]
    pending = certificates.list_certificates(ctx, "pending_manual")
    assert [c.name for c in pending] == ["a-self"]
    with pytest.raises(ServiceError) as caught:
        certificates.list_certificates(ctx, "nonsense")
    assert caught.value.code == "invalid_input"
    shown = certificates.show_certificate(ctx, "b-app")
    assert shown.report and shown.report["verdict"] == "valid"
    assert shown.days_left is not None and 80 <= shown.days_left <= 90
    with pytest.raises(ServiceError) as missing:
        certificates.show_certificate(ctx, "nope")
    assert missing.value.code == "not_found"


def test_environments_are_admin_only_and_unique(ctx: ServiceContext) -> None:
    with pytest.raises(ServiceError) as caught:
        environments.add_environment(ctx, PERSON, "dev", default_host=DEV_HOST)
    assert caught.value.code == "not_admin"
    view = environments.add_environment(ctx, ADMIN, "dev", default_host=DEV_HOST.upper())
    assert view.default_host == DEV_HOST  # normalized
    with pytest.raises(ServiceError) as taken:
        environments.add_environment(ctx, ADMIN, "dev", default_host=DEV_HOST)
    assert taken.value.code == "environment_exists"
    with pytest.raises(ServiceError) as bad:
        environments.add_environment(ctx, ADMIN, "x", default_host="not a host")
    assert bad.value.code == "invalid_input"
    environments.add_environment(ctx, ADMIN, "lt", default_host="lt.example.net", is_lifetime=True)
    with pytest.raises(ServiceError) as second:
        environments.add_environment(
            ctx, ADMIN, "lt2", default_host="lt2.example.net", is_lifetime=True
        )
    assert second.value.code == "environment_exists"
    assert [e.name for e in environments.list_environments(ctx)] == ["dev", "lt"]


def test_manual_submission_without_a_readable_certificate(ctx: ServiceContext) -> None:
    files = [InputFile("notes.txt", b"the CA portal was down; files follow")]
    result = certificates.submit_certificate(
        ctx, PERSON, files, Passwords(), name="unreadable", domain="app.example.com", manual=True
    )
    assert result.certificate.status == "pending_manual"
    assert result.certificate.sans == [] and result.certificate.fingerprint_sha256 is None
    with pytest.raises(ServiceError) as caught:
        certificates.approve_certificate(ctx, ADMIN, "unreadable")
    assert caught.value.code == "certificate_unreadable"
    assert certificates.reject_certificate(ctx, ADMIN, "unreadable", "send the files").decision


def test_an_approved_renewal_supersedes_an_unused_old_one(ctx: ServiceContext, pki: Pki) -> None:
    submit(ctx, pki.app, pki, "old")
    files = [InputFile("c.pem", pki.renewal.pem), InputFile("k.pem", pki.renewal.key_pem())]
    pending = certificates.submit_certificate(
        ctx, PERSON, files, Passwords(), name="new", renews="old", manual=True
    )  # no chain: invalid, waits for an admin
    assert pending.certificate.status == "pending_manual"
    assert certificates.show_certificate(ctx, "old").status == "validated"
    certificates.approve_certificate(ctx, ADMIN, "new", "chain checked by hand")
    assert certificates.show_certificate(ctx, "old").status == "superseded"
