"""Who is asking: a person's id and whether the settings make them an admin.

Admins come from one setting (`CERTOPS_ADMINS`, Slack user ids); the terminal user is an
admin because whoever runs `certops` on the host already owns its database.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.services.errors import NotAdmin
from bot.settings import Settings

TERMINAL_USER = "terminal"
SYSTEM_USER = "system"


@dataclass(frozen=True)
class Actor:
    user_id: str
    is_admin: bool = False

    def require_admin(self, action: str) -> None:
        """Refuse with `not_admin` unless this actor is an admin."""
        if not self.is_admin:
            raise NotAdmin(action)


def actor_for(user_id: str, settings: Settings) -> Actor:
    """The actor for a Slack user id, admin when the settings list them."""
    return Actor(user_id, user_id in settings.admins)


def terminal_actor() -> Actor:
    return Actor(TERMINAL_USER, True)


SYSTEM = Actor(SYSTEM_USER, True)
