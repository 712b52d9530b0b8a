"""Which replica processes a Slack delivery: the first to claim its key in the database.

Slack retries an event it thinks was not acknowledged (immediately, after 1 minute, after
5 minutes) with the same event id, and a retry may reach any replica behind the load
balancer or any of the Socket Mode connections. A per-process memory cannot see the other
replicas, so the decision is a unique row in the shared database.

The table only has to remember a delivery for as long as Slack may retry it; a day is
ample. Pruning runs on about one call in `PRUNE_EVERY` (chosen by the key's hash, so it
needs no shared counter and is the same on every replica), in its own transaction after
the claim, so it never delays or fails the answer.
"""

from __future__ import annotations

import datetime as dt
import logging
import zlib

from bot.services.context import ServiceContext
from bot.services.errors import ServiceError
from storage import queries

log = logging.getLogger(__name__)

KEEP_FOR = dt.timedelta(days=1)
PRUNE_EVERY = 200


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
    with ctx.session() as session:
        first = queries.claim_delivery(session, key, kind, at=ctx.now())
    if first and prune_every > 0 and zlib.crc32(key.encode()) % prune_every == 0:
        _prune_quietly(ctx)
    return first


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
