"""A service's refusal as an answer: its message, and the DNS report when it has one."""

from __future__ import annotations

import logging

from bot.services.errors import ServiceError
from handlers.common.blocks.dns import dns_blocks
from handlers.common.blocks.help import not_admin_blocks, problem_blocks
from handlers.common.deps import Deps
from handlers.common.replies import Reply

log = logging.getLogger("certops.slack")


def refusal(
    error: ServiceError, deps: Deps, subcommand: str, *, action: str | None = None
) -> Reply:
    """`action`: what a button asked for, when the refusal is not a `/cert` subcommand's."""
    log.info("/cert %s refused: %s", subcommand, error.code)
    if error.code == "not_admin":
        return Reply(not_admin_blocks(subcommand, deps.admin_mentions(), action=action))
    blocks = problem_blocks(error.message)
    report = error.details.get("dns_report")
    if isinstance(report, dict):
        blocks = blocks + dns_blocks(report)
    return Reply(blocks).checked()
