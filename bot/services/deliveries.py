"""Which replica processes a Slack delivery: the first to claim its key in the database.

Slack retries an event it thinks was not acknowledged (immediately, after 1 minute, after
5 minutes) with the same event id, and a retry may reach any replica behind the load
balancer or any of the Socket Mode connections. A per-process memory cannot see the other
replicas, so the decision is a unique row in the shared database.

The table only has to remember a delivery for as long as Slack may retry it; a day is
ample. Pruning runs on about one call in `PRUNE_EVERY` (chosen by the key's hash, so it
needs no shared counter and is the same on every replica), in its own transaction after
the claim, so it never delays or fails the answer.

The claim runs before Slack's ack, so `claim_within` bounds it (`CLAIM_SECONDS`): a
database that hangs (frozen, a lock held, a network that drops packets) costs the ack
at most that long, and the caller falls back to its in-process memory as it does for a
database that refuses connections. The claim's statements carry the same bound on
PostgreSQL, so a lock wait ends on the server too; a server that does not answer at all
keeps at most `CLAIMS_IN_FLIGHT` threads waiting (`bot.services.deadlines`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import zlib

from bot.services.context import ServiceContext
from bot.services.deadlines import Bounded, Late
from bot.services.errors import DatabaseDown, ServiceError
from storage import queries

log = logging.getLogger(__name__)

KEEP_FOR = dt.timedelta(days=1)
PRUNE_EVERY = 200
# Slack waits 3 s for the ack; the claim may use a tenth of it.
CLAIM_SECONDS = 0.3
CLAIMS_IN_FLIGHT = 4
# Process-wide on purpose: the threads a hung database may hold are the process's, not one
# app's (every Bolt app built in the process shares the bound).
_CLAIMS = Bounded("certops-claim", CLAIMS_IN_FLIGHT)


def delivery_key(kind: str, ident: str) -> str:
    """The claim's key: a kind prefix keeps an event id and a file id from colliding."""
    return f"{kind}:{ident}"


def first_delivery(
    ctx: ServiceContext, key: str, kind: str = "event", *, prune_every: int = PRUNE_EVERY
) -> bool:
    """True if no replica has claimed `key` before (and this call claims it).

    Raises `DatabaseDown` when the database cannot be used: the caller decides what a
    lost claim means (the Slack handlers fall back to their in-process memory).
    """
    first = _claim(ctx, key, kind, None)
    if first and _prunes(key, prune_every):
        _prune_quietly(ctx)
    return first


def claim_within(
    ctx: ServiceContext,
    key: str,
    kind: str = "event",
    *,
    seconds: float = CLAIM_SECONDS,
    prune_every: int = PRUNE_EVERY,
) -> bool:
    """`first_delivery`, answered within `seconds` or `DatabaseDown` (what is said then).

    The claim goes on in the background when it is late: if the database comes back it
    still records the delivery, so a retry reaching another replica later is dropped.
    """
    timeout_ms = max(int(seconds * 1000), 1)
    try:
        first = _CLAIMS.call(lambda: _claim(ctx, key, kind, timeout_ms), seconds)
    except Late as late:
        raise DatabaseDown(f"the delivery claim got no answer: {late}") from None
    if first and _prunes(key, prune_every):
        with contextlib.suppress(Late):  # after the answer, never waited for (else: later)
            _CLAIMS.submit(lambda: _prune_quietly(ctx))
    return first


def claims_in_flight() -> int:
    """Claims still waiting on the database (those that answered late included)."""
    return _CLAIMS.in_flight()


def _claim(ctx: ServiceContext, key: str, kind: str, timeout_ms: int | None) -> bool:
    with ctx.session() as session:
        return queries.claim_delivery(session, key, kind, at=ctx.now(), timeout_ms=timeout_ms)


def _prunes(key: str, prune_every: int) -> bool:
    return prune_every > 0 and zlib.crc32(key.encode()) % prune_every == 0


def prune_deliveries(ctx: ServiceContext, keep_for: dt.timedelta = KEEP_FOR) -> int:
    """Forget the deliveries first seen more than `keep_for` ago; how many were forgotten."""
    with ctx.session() as session:
        return queries.prune_deliveries(session, ctx.now() - keep_for)


def _prune_quietly(ctx: ServiceContext) -> None:
    # The claim is already committed: a failed prune is retried by a later call.
    try:
        pruned = prune_deliveries(ctx)
    except ServiceError as error:
        log.warning("pruning old Slack deliveries failed: %s", error)
        return
    if pruned:
        log.info("pruned %d Slack deliveries older than %s", pruned, KEEP_FOR)
