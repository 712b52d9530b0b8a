"""The audit trail: every change leaves who, what, when, and the record before and after.

Snapshots hold the public fields of a row only: never the certificate's PEM nor its
report (large, and already stored), and a row never holds a secret in the first place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.services.actors import Actor
from bot.services.clock import iso
from bot.services.context import ServiceContext
from storage import writing

if TYPE_CHECKING:  # the ORM loads with the rules that use it: a submission writes through Core
    from sqlalchemy.engine import Connection
    from sqlmodel import Session

    from storage.models import AuditEvent


def snapshot(row: Any) -> dict[str, Any]:
    """The row's public columns as JSON-ready values (storage's rule of what to keep)."""
    return writing.snapshot(row) or {}


def record(
    session: Session,
    ctx: ServiceContext,
    actor: Actor,
    action: str,
    entity: Any,
    *,
    before: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event in the caller's transaction; `after` is the entity as it is now."""
    from storage import queries

    session.flush()  # the entity's id exists from here on
    return queries.record_audit(
        session, actor.user_id, action, entity, before=before, after=entity, at=ctx.now()
    )


def record_written(
    connection: Connection,
    ctx: ServiceContext,
    actor: Actor,
    action: str,
    entity: tuple[str, int],
    after: Mapping[str, Any],
) -> int:
    """The same event for a row written through Core (`ctx.writing()`): `after` holds its
    columns, `entity` its table and id. A submission's, without the ORM."""
    values = writing.audit_values(actor.user_id, action, entity, after=after, at=ctx.now())
    return writing.insert_audit(connection, values)


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: str | None
    actor: str
    action: str
    entity_type: str
    entity_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "entity_type": self.entity_type,
            "entity_id": self.entity_id,
            "before": self.before,
            "after": self.after,
        }

    def changes(self) -> dict[str, tuple[Any, Any]]:
        """The fields that differ between before and after."""
        before, after = self.before or {}, self.after or {}
        keys = [k for k in after if before.get(k) != after.get(k)]
        keys += [k for k in before if k not in after]
        return {k: (before.get(k), after.get(k)) for k in keys}


def recent(ctx: ServiceContext, limit: int = 50) -> list[AuditEntry]:
    """The latest audit events, newest first."""
    from storage import queries

    with ctx.session() as session:
        rows = queries.latest_audit(session, max(1, limit))
        return [
            AuditEntry(
                id=row.id or 0,
                at=iso(row.at),
                actor=row.actor,
                action=row.action,
                entity_type=row.entity_type,
                entity_id=row.entity_id,
                before=row.before,
                after=row.after,
            )
            for row in rows
        ]
