"""`updating` becomes `active` once the platform's five minutes are over.

Called on every read and by the scheduler, so no background process is needed for the
record to be right; several replicas may call it at once (the update is idempotent).
"""

from __future__ import annotations

import logging

from bot.services import audit
from bot.services.actors import SYSTEM
from bot.services.context import ServiceContext
from bot.services.views import AssignmentView, assignment_view
from storage import queries
from storage.models import AssignmentState

log = logging.getLogger(__name__)


def promote_due(ctx: ServiceContext) -> list[AssignmentView]:
    """Mark every `updating` assignment whose time has come `active`; return them."""
    now = ctx.now()
    with ctx.session() as session:
        promoted = []
        for row in queries.due_promotions(session, now):
            before = audit.snapshot(row)
            row.state = AssignmentState.ACTIVE
            session.add(row)
            audit.record(session, ctx, SYSTEM, "assignment.active", row, before=before)
            promoted.append(assignment_view(session, row))
            log.info("assignment %s is now active", row.id)
        return promoted
