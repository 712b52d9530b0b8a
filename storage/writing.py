"""The query layer's writes in SQLAlchemy Core, and what an audit row keeps of a record.

Part of the query layer beside `storage.queries` (which re-exports the audit rules from
here): a submission stores its certificate and audit event through these on a Core
`Connection` (`Database.writing()`), so that `certops cert submit` does not import
SQLModel, pydantic and the ORM, most of its start-up (issue 16). The Slack upload and the
terminal call the same service, so both write this way.

What an audit row keeps (`snapshot`, `audit_values`) is decided here once, for the ORM's
`queries.record_audit` and the Core `insert_audit` alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from storage import reading
from storage.errors import NameTaken
from storage.tables import AUDIT_EVENT, CERTIFICATE
from storage.types import utcnow

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, CursorResult

# Left out of audit snapshots: large public blobs that say nothing about who changed what.
AUDIT_OMITTED_FIELDS = frozenset({"certificate_pem", "chain_pem", "report", "dns_report"})
# Never copied into an audit row, whatever a caller passes (defence in depth).
SECRET_HINTS = ("password", "passphrase", "private", "secret", "token", "key", "pfx", "p12")
# Public facts about a key that look like secrets by name but are not.
PUBLIC_KEY_FIELDS = frozenset({"key_type", "key_bits"})


def _inserted_id(result: CursorResult[Any]) -> int:
    """The id the database gave the row a single-row insert wrote."""
    key = result.inserted_primary_key
    assert key is not None  # a single-row INSERT of a table with a primary key
    return int(key[0])


# -- audit ------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A JSON-ready copy: datetimes and dates as ISO-8601, enums as their value."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return value


def _is_secret(key: str) -> bool:
    lowered = key.lower()
    if lowered in PUBLIC_KEY_FIELDS:
        return False
    return any(hint in lowered for hint in SECRET_HINTS)


def snapshot(value: Any) -> dict[str, Any] | None:
    """What an audit row keeps of a record: its fields, minus large blobs and secrets.

    `value` is a table row of `storage.models` (its fields, as `model_dump()` gives them)
    or a mapping of column names to values (a row written through Core).
    """
    if value is None:
        return None
    fields = value.model_dump() if hasattr(value, "model_dump") else dict(value)
    return {
        key: _plain(item)
        for key, item in fields.items()
        if key not in AUDIT_OMITTED_FIELDS and not _is_secret(key)
    }


def audit_values(
    actor: str,
    action: str,
    entity: tuple[str, int | None],
    before: Any = None,
    after: Any = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """An audit event's columns: who did what to which record (type, id), when, and the
    snapshots of the record before and after."""
    entity_type, entity_id = entity
    return {
        "at": at or utcnow(),
        "actor": actor,
        "action": action,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "before": snapshot(before),
        "after": snapshot(after),
    }


def insert_audit(connection: Connection, values: Mapping[str, Any]) -> int:
    """Write an audit event (`audit_values`) in the connection's transaction; its id."""
    return _inserted_id(connection.execute(sa.insert(AUDIT_EVENT).values(**values)))


# -- certificates -----------------------------------------------------------------------


def _default(column: sa.Column[Any]) -> Any:
    """The value a new row takes when none is given (the table's default, else None)."""
    default = column.default
    if default is None:
        return None
    if getattr(default, "is_callable", False):
        return default.arg(None)  # type: ignore[attr-defined]
    return default.arg  # type: ignore[attr-defined]


def certificate_values(**given: Any) -> dict[str, Any]:
    """A new certificate's columns as `models.Certificate(**given)` holds them: those given,
    then the others (the id None until inserted) with the table's defaults, each part in
    table order. The order is the one an audit snapshot of the row lists, as the ORM's
    did (`certops audit` shows the first changes)."""
    unknown = set(given) - set(CERTIFICATE.c.keys())
    if unknown:
        raise TypeError(f"not a certificate column: {', '.join(sorted(unknown))}")
    columns = list(CERTIFICATE.c)
    return {
        **{column.name: given[column.name] for column in columns if column.name in given},
        **{column.name: _default(column) for column in columns if column.name not in given},
    }


def insert_certificate(connection: Connection, values: Mapping[str, Any]) -> int:
    """Insert a certificate (`certificate_values`, its id None) in a SAVEPOINT; its id.

    `NameTaken` if the name is taken, also by a submission that committed it a moment
    ago: the database's unique index decides, and the caller's transaction stays usable.
    """
    row = {key: value for key, value in values.items() if key != "id" or value is not None}
    try:
        with connection.begin_nested():
            result = connection.execute(sa.insert(CERTIFICATE).values(**row))
    except IntegrityError:
        if not reading.certificate_name_taken(connection, values["name"]):
            raise
        raise NameTaken("certificate", values["name"]) from None
    return _inserted_id(result)
