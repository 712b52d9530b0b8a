"""Renew in one step: put a renewal on every environment the old certificate serves.

Each environment is its own unit of work: one that is refused (DNS moved, LifeTime
ticket already open) does not undo the others, and the result lists each outcome. A
LifeTime environment gets a new ticket instead of an assignment. The old certificate is
superseded by the assignments themselves once nothing uses it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.services.actors import Actor
from bot.services.assignments import assign_certificate
from bot.services.context import ServiceContext
from bot.services.errors import ServiceError
from bot.services.supersession import VALID_STATES, RenewalTarget, renewal_targets
from bot.services.tickets import open_ticket
from storage import queries

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RenewalOutcome:
    target: RenewalTarget
    result: dict[str, Any]  # an AssignResult/TicketResult dict, or a ServiceError dict

    @property
    def ok(self) -> bool:
        return bool(self.result.get("ok"))

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target.to_dict(), "ok": self.ok, "result": self.result}


@dataclass(frozen=True)
class RenewalResult:
    certificate: str
    renews: str
    outcomes: list[RenewalOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "certificate": self.certificate,
            "renews": self.renews,
            "outcomes": [o.to_dict() for o in self.outcomes],
        }


def renewal_offer(ctx: ServiceContext, name: str) -> list[RenewalTarget]:
    """Where the certificate `name` renews would go: the old one's current places."""
    with ctx.session() as session:
        return renewal_targets(session, queries.certificate(session, name))


def renewal_plan(ctx: ServiceContext, name: str) -> list[RenewalTarget]:
    """The renewal offer before a confirmation: refused when it would change nothing."""
    targets = renewal_offer(ctx, name)
    if not targets:
        raise ServiceError(
            "nothing_to_renew",
            f"{name!r} renews no certificate that serves an environment: use /cert assign",
        )
    return targets


def apply_renewal(
    ctx: ServiceContext,
    actor: Actor,
    name: str,
    *,
    cname_confirmed: bool,
    nameservers: Sequence[tuple[str, int]] | None = None,
    timeout: float | None = None,
) -> RenewalResult:
    """Assign the renewal everywhere the old certificate is; LifeTime gets a ticket."""
    actor.require_admin("assign certificates")
    with ctx.session() as session:
        new = queries.certificate(session, name)
        if new.renews_id is None:
            raise ServiceError("nothing_to_renew", f"{new.name!r} does not renew a certificate")
        if new.status not in VALID_STATES:
            raise ServiceError(
                "certificate_not_assignable",
                f"{new.name!r} is {new.status.value}: a renewal must be validated or approved",
            )
        old_name = queries.certificate_by_id(session, new.renews_id).name
        targets = renewal_targets(session, new)
    if not targets:
        raise ServiceError(
            "nothing_to_renew", f"{old_name!r} serves no environment: assign {name!r} directly"
        )
    outcomes = []
    for target in targets:
        try:
            if target.is_lifetime:
                result = open_ticket(
                    ctx, actor, name, target.hostname, environment=target.environment
                ).to_dict()
            else:
                result = assign_certificate(
                    ctx,
                    actor,
                    name,
                    target.environment,
                    target.hostname,
                    cname_confirmed=cname_confirmed,
                    nameservers=nameservers,
                    timeout=timeout,
                ).to_dict()
        except ServiceError as error:
            if error.code == "database_unavailable":
                raise
            result = error.to_dict()
        outcomes.append(RenewalOutcome(target, result))
        log.info(
            "renewal %s -> %s: %s",
            name,
            target.environment,
            "ok" if result.get("ok") else result.get("code"),
        )
    return RenewalResult(name, old_name, outcomes)
