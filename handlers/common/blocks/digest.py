"""`/cert expiring DAYS` and the Home's "Expiring soon": what expires, by environment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.services.context import ServiceContext
from bot.services.expiry_digest import EnvironmentDigest, expiring_digest
from handlers.common.blocks.base import Blocks, checked_message, escape, section


def expiring_blocks(services: ServiceContext, days: int) -> Blocks:
    """The digest of what expires within `days`, read through the expiry service."""
    return digest_blocks(days, expiring_digest(services, days))


def digest_blocks(days: int, groups: Sequence[EnvironmentDigest]) -> Blocks:
    """`/cert expiring DAYS`: by environment, soonest first."""
    if not groups:
        return checked_message(
            [section(f":white_check_mark: Expiring within {days_text(days)}: none on record.")]
        )
    blocks: Blocks = [section(f"*Expiring within {days_text(days)}*, by environment")]
    for group in groups:
        lines = [_digest_line(item.to_dict()) for item in group.items]
        blocks.append(section(f"*{escape(group.environment)}*\n" + "\n".join(lines)))
    return checked_message(blocks)


def days_text(count: int) -> str:
    return f"{count} day{'s' if count != 1 else ''}"


def _digest_line(item: Mapping[str, Any]) -> str:
    name = f"*{escape(str(item['certificate']))}*"
    host = f" · {escape(str(item['hostname']))}" if item.get("hostname") else ""
    date = str(item["not_after"])[:10]
    if item.get("renewed_by"):
        return f"• {name}{host} — renewed by *{escape(str(item['renewed_by']))}* (ends {date})"
    left = int(item["days_left"])
    when = "expired" if left < 0 else f"{left} day{'s' if left != 1 else ''} left"
    icon = ":rotating_light:" if left < 0 else (":warning:" if left <= 7 else "•")
    return f"{icon} {name}{host} — {when} ({date})".replace("• •", "•")
