"""Claims this process made and has not begun to post, so a stop can give them back.

A warning is claimed (committed) before it is posted, so that replicas post it once. A
process that stops between the claim and the post would otherwise keep the claim for
ever, and that warning would never be posted: on SIGTERM the bot gives back every claim
it has not started to post, and claims no more. A claim whose post has begun is kept:
the post may already have reached Slack, and posting twice is worse than once late.
"""

from __future__ import annotations

import logging
import threading

from bot.services.context import ServiceContext
from storage import queries

log = logging.getLogger(__name__)


class HeldClaims:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: set[int] = set()
        # Claims whose post failed but which could not be given back (the database was
        # down): given back at the start of the next scan, else that step is never posted.
        self._unreleased: set[int] = set()
        self._closing = False

    def give_back(self, ctx: ServiceContext, claim_id: int) -> None:
        """Delete a claim whose post failed; if the database refuses, try on the next scan."""
        try:
            with ctx.session() as session:
                queries.release_notification(session, claim_id)
        except Exception as error:
            log.warning(
                "claim %s not given back (%s): trying again on the next scan",
                claim_id,
                type(error).__name__,
            )
            with self._lock:
                self._unreleased.add(claim_id)

    def retry_give_backs(self, ctx: ServiceContext) -> int:
        """Give back the claims an earlier scan could not; returns how many went back."""
        with self._lock:
            ids = sorted(self._unreleased)
        done = 0
        for claim_id in ids:
            with ctx.session() as session:  # still down: raises, and the scan fails as before
                queries.release_notification(session, claim_id)
            with self._lock:
                self._unreleased.discard(claim_id)
            done += 1
        return done

    @property
    def closing(self) -> bool:
        return self._closing

    def hold(self, claim_id: int) -> None:
        with self._lock:
            self._held.add(claim_id)

    def begin_post(self, ctx: ServiceContext, claim_id: int) -> bool:
        """True: post now. False: the process is stopping and the claim was given back
        (by `release_all`, or here when it was made while the stop began)."""
        with self._lock:
            held = claim_id in self._held
            self._held.discard(claim_id)
            closing = self._closing
        if not held:
            return False
        if closing:
            with ctx.session() as session:
                queries.release_notification(session, claim_id)
            return False
        return True

    def release_all(self, ctx: ServiceContext) -> int:
        """Stop claiming, and delete the claims not yet being posted. Returns how many."""
        with self._lock:
            self._closing = True
            ids = sorted(self._held | self._unreleased)
            self._held.clear()
            self._unreleased.clear()
        if ids:
            with ctx.session() as session:
                for claim_id in ids:
                    queries.release_notification(session, claim_id)
        return len(ids)
