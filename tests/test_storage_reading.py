"""The query layer's Core reads (storage.reading): the same columns as the tables of
storage.models, the same rows through a Core connection as through a session."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from storage import queries, reading
from storage.db import Database
from storage.enums import CertificateStatus
from storage.models import Certificate
from tests.support.rows import NOT_AFTER, make_certificate


@pytest.mark.parametrize("column", list(reading.CERTIFICATE.c), ids=lambda c: c.name)
def test_each_core_column_is_the_models_column(column: sa.ColumnClause[object]) -> None:
    table = Certificate.__table__  # type: ignore[attr-defined]
    assert column.name in table.c, f"certificate.{column.name} is not in storage.models"
    model = table.c[column.name].type
    assert type(column.type) is _stored_as(model), (column.name, column.type, model)
    if isinstance(model, sa.Enum):
        assert isinstance(column.type, sa.Enum)
        assert column.type.enum_class is model.enum_class
        assert column.type.enums == model.enums


def _stored_as(kind: sa.types.TypeEngine[object]) -> type:
    """The type that reads and writes the column: SQLModel's AutoString is a String."""
    if type(kind).__module__.startswith("sqlmodel") and isinstance(kind, sa.TypeDecorator):
        return type(kind.impl_instance)
    return type(kind)


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
