"""The query layer's Core reads (storage.reading): the same rows through a Core
connection as through a session."""

from __future__ import annotations

from storage import queries, reading, tables
from storage.db import Database
from storage.enums import CertificateStatus
from storage.models import Certificate
from tests.support.rows import NOT_AFTER, make_certificate


def test_the_listing_reads_the_checked_core_table() -> None:
    """storage.tables' certificate, which tests/test_storage_tables.py checks against
    storage.models: the listing's columns are the model's, without the large blobs."""
    assert reading.CERTIFICATE is tables.CERTIFICATE
    listed = {column.name for column in reading.LISTED}
    assert listed < set(Certificate.__table__.c.keys())  # type: ignore[attr-defined]
    assert not listed & {"certificate_pem", "chain_pem", "report"}


def test_the_listing_is_one_function_of_the_query_layer() -> None:
    assert queries.certificates_by_name is reading.certificates_by_name


def test_listing_through_core_and_through_a_session(database: Database) -> None:
    with database.session() as session:
        old = make_certificate("acme-2026", fingerprint_sha256="cd" * 32)
        session.add(old)
        session.flush()
        session.add(make_certificate("acme-2027", renews_id=old.id))
        session.add(make_certificate("pending", status=CertificateStatus.PENDING_MANUAL))
    with database.reading() as connection:
        rows = reading.certificates_by_name(connection)
        pending = reading.certificates_by_name(connection, CertificateStatus.PENDING_MANUAL)
    with database.session() as session:
        same = queries.certificates_by_name(session)
    assert [r.name for r in rows] == ["acme-2026", "acme-2027", "pending"]
    assert [tuple(r) for r in rows] == [tuple(r) for r in same]
    by_name = {r.name: r for r in rows}
    assert by_name["acme-2027"].renews == "acme-2026" and by_name["acme-2026"].renews is None
    assert by_name["acme-2027"].status is CertificateStatus.VALIDATED  # an enum, not a str
    assert by_name["acme-2027"].not_after == NOT_AFTER  # aware UTC, as the ORM reads it
    assert by_name["acme-2027"].sans == ["*.acme.example", "acme.example"]
    assert [r.name for r in pending] == ["pending"]
