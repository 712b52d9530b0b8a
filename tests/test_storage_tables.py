"""The Core tables of storage.tables are the tables of storage.models, column by column,
and a certificate written through them (storage.writing, a submission's path) is the row
and the audit event the ORM writes for the same certificate."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import select

from storage import queries, reading, tables, writing
from storage.db import Database
from storage.errors import NameTaken
from storage.models import AuditEvent, Certificate
from tests.support.rows import NOT_AFTER, make_certificate

PAIRS = [(tables.CERTIFICATE, Certificate), (tables.AUDIT_EVENT, AuditEvent)]


def _unwrapped(kind: sa.types.TypeEngine[Any]) -> sa.types.TypeEngine[Any]:
    """The type that reads and writes the column: SQLModel's AutoString is a String."""
    if type(kind).__module__.startswith("sqlmodel") and isinstance(kind, sa.TypeDecorator):
        return kind.impl_instance
    return kind


def _stored_as(kind: sa.types.TypeEngine[Any]) -> type:
    return type(_unwrapped(kind))


def _type_facts(kind: sa.types.TypeEngine[Any]) -> tuple[Any, ...]:
    """What decides how a value is stored and read back, beyond the type's class."""
    kind = _unwrapped(kind)
    if isinstance(kind, sa.Enum):
        return (kind.enum_class, tuple(kind.enums), kind.length, kind.native_enum)
    if isinstance(kind, sa.JSON):
        return (kind.none_as_null,)
    if isinstance(kind, sa.TypeDecorator):
        return (type(kind.impl_instance), getattr(kind.impl_instance, "timezone", None))
    return (getattr(kind, "length", None),)


def _default(column: sa.Column[Any]) -> Any:
    """A column's default as comparable: none, a constant, or what a callable returns."""
    default = column.default
    if default is None:
        return None
    if default.is_callable:  # type: ignore[attr-defined]
        made = default.arg(None)  # type: ignore[attr-defined]
        return ("callable", type(made), made if isinstance(made, list | dict) else None)
    return ("scalar", default.arg)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("core", "model"), PAIRS, ids=lambda p: getattr(p, "name", ""))
def test_the_core_table_has_the_models_columns_in_order(core: sa.Table, model: Any) -> None:
    table = model.__table__
    assert core.name == table.name
    assert [c.name for c in core.c] == [c.name for c in table.c]


@pytest.mark.parametrize(
    ("core", "column"),
    [(core, column.name) for core, model in PAIRS for column in model.__table__.c],
    ids=lambda p: p if isinstance(p, str) else p.name,
)
def test_each_core_column_is_the_models_column(core: sa.Table, column: str) -> None:
    model = dict(PAIRS)[core].__table__.c[column]
    mine = core.c[column]
    assert _stored_as(mine.type) is _stored_as(model.type), (mine.type, model.type)
    assert _type_facts(mine.type) == _type_facts(model.type)
    assert (mine.nullable, mine.primary_key) == (model.nullable, model.primary_key)
    assert {fk.target_fullname for fk in mine.foreign_keys} == {
        fk.target_fullname for fk in model.foreign_keys
    }
    assert _default(mine) == _default(model)


def test_the_checks_can_fail() -> None:
    """A retyped, renamed or re-defaulted column is told apart."""
    assert _type_facts(sa.JSON(none_as_null=True)) != _type_facts(sa.JSON())
    assert _default(sa.Column("x", sa.JSON, default=list)) != _default(
        sa.Column("x", sa.JSON, default=dict)
    )
    assert _default(sa.Column("x", sa.Text, default="")) != _default(sa.Column("x", sa.Text))
    assert _stored_as(sa.Text()) is not _stored_as(sa.String())


def _given() -> dict[str, Any]:
    """A certificate's constructor arguments, as a submission gives them."""
    values = make_certificate(submitted_at=NOT_AFTER - timedelta(days=1)).model_dump(
        exclude_unset=True
    )
    values.pop("certificate_pem")  # set afterwards, like the facts of the chosen leaf
    return values


def test_new_values_are_a_new_models_row_and_snapshot_alike() -> None:
    """Same columns, defaults and order: the audit line shows the same first changes."""
    given = dict(reversed(_given().items()))  # the order given does not matter, as for the ORM
    core = writing.certificate_values(**given)
    model = Certificate(**given)
    core["certificate_pem"] = model.certificate_pem = "PEM"
    core["id"] = model.id = 7
    assert list(core) == list(model.model_dump())
    assert core == model.model_dump()
    assert writing.snapshot(core) == queries.snapshot(model)
    assert list(writing.snapshot(core) or {}) == list(queries.snapshot(model) or {})
    with pytest.raises(TypeError, match="password"):
        writing.certificate_values(password="x")


def _columns(row: Any) -> dict[str, Any]:
    return {c.name: getattr(row, c.name) for c in tables.CERTIFICATE.c if c.name != "id"}


def test_a_certificate_written_through_core_is_the_orms(database: Database) -> None:
    given = {**_given(), "notes": "for the record"}
    with database.session() as session:
        orm = Certificate(**given)
        queries.add_certificate(session, orm)
        orm_event = queries.record_audit(session, "U1", "certificate.submit", orm, after=orm)
        orm_id = orm.id
    core = writing.certificate_values(**{**given, "name": "core"})
    with database.writing() as connection:
        core["id"] = writing.insert_certificate(connection, core)
        values = writing.audit_values(
            "U1", "certificate.submit", ("certificate", core["id"]), after=core, at=orm_event.at
        )
        event_id = writing.insert_audit(connection, values)
    with database.session() as session:
        read_orm = queries.certificate_by_id(session, orm_id or 0)
        read_core = queries.certificate_by_id(session, core["id"])
        event = session.get(AuditEvent, event_id)
        first = session.get(AuditEvent, orm_event.id)
    assert _columns(read_core) == {**_columns(read_orm), "name": "core"}
    assert read_core.not_after == NOT_AFTER and read_core.submitted_at == given["submitted_at"]
    assert event is not None and first is not None
    assert (event.entity_type, event.entity_id, event.before) == ("certificate", core["id"], None)
    assert event.after == {**(first.after or {}), "name": "core", "id": core["id"]}
    assert list(event.after or {}) == list(first.after or {})


def test_a_taken_name_is_refused_and_the_transaction_goes_on(database: Database) -> None:
    with database.writing() as connection:
        writing.insert_certificate(connection, writing.certificate_values(**_given()))
        with pytest.raises(NameTaken, match="acme-2027"):
            writing.insert_certificate(connection, writing.certificate_values(**_given()))
        other = writing.certificate_values(**{**_given(), "name": "acme-2028"})
        writing.insert_certificate(connection, other)  # the SAVEPOINT kept the rest usable
    with database.session() as session:
        names = sorted(c.name for c in session.exec(select(Certificate)).all())
    assert names == ["acme-2027", "acme-2028"]


def test_a_failed_write_leaves_nothing(database: Database) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), database.writing() as connection:
        writing.insert_certificate(connection, writing.certificate_values(**_given()))
        raise Boom
    with database.reading() as connection:
        assert not queries.certificate_name_taken(connection, "acme-2027")


def test_an_orm_session_joins_the_core_transaction(database: Database) -> None:
    """`session_in`: what the ORM writes there commits, or rolls back, with the connection."""
    with database.writing() as connection:
        core_id = writing.insert_certificate(connection, writing.certificate_values(**_given()))
        with database.session_in(connection) as session:
            row = queries.certificate_by_id(session, core_id)  # sees the uncommitted row
            row.notes = "seen by the ORM"
            session.add(row)
    with pytest.raises(RuntimeError), database.writing() as connection:
        with database.session_in(connection) as session:
            queries.add_certificate(session, make_certificate("rolled-back"))
        raise RuntimeError
    with database.session() as session:
        rows = session.exec(select(Certificate)).all()
    assert [(r.name, r.notes) for r in rows] == [("acme-2027", "seen by the ORM")]
    assert rows[0].not_before == NOT_AFTER - timedelta(days=90)


def test_the_listing_reads_the_checked_core_table() -> None:
    """`certops cert list` reads this module's certificate table (checked above), its
    columns without the large blobs."""
    assert reading.CERTIFICATE is tables.CERTIFICATE
    listed = {column.name for column in reading.LISTED}
    assert listed < set(tables.CERTIFICATE.c.keys())
    assert not listed & {"certificate_pem", "chain_pem", "report", "notes"}
    assert queries.certificate_name_taken is reading.certificate_name_taken  # one function
