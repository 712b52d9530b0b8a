"""What a subcommand answers: blocks, where they go, and whether the record changed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from handlers.common.blocks.base import checked_message, fallback_text


@dataclass(frozen=True)
class Reply:
    blocks: list[dict[str, Any]]
    # In channel when the result is for the team (an assignment done, a ticket moved on);
    # otherwise only the person who asked sees it.
    in_channel: bool = False
    # The record changed: the App Home of the person is republished.
    changed: bool = False
    # Direct messages to send besides the answer: (user id, mrkdwn text), for example the
    # submitter of a certificate an admin just reviewed.
    notices: tuple[tuple[str, str], ...] = ()

    @property
    def response_type(self) -> str:
        return "in_channel" if self.in_channel else "ephemeral"

    @property
    def text(self) -> str:
        return fallback_text(self.blocks)

    def checked(self) -> Reply:
        return Reply(checked_message(self.blocks), self.in_channel, self.changed, self.notices)
