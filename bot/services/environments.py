"""Environments: the OutSystems Cloud environments certificates are put on.

Managing them is for admins. Reading them also promotes assignments whose five minutes
of `updating` are over, so what people see is never stale.
"""

from __future__ import annotations

import logging
import re

from bot.pipeline.hostnames import InvalidHostname, normalize
from bot.services import audit
from bot.services.actors import Actor
from bot.services.context import ServiceContext
from bot.services.errors import ServiceError
from bot.services.promotion import promote_due
from bot.services.views import EnvironmentView, environment_view
from storage import queries
from storage.models import Environment

log = logging.getLogger(__name__)

ENV_NAME_MAX = 64
_ENV_NAME = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9 ._-]{{0,{ENV_NAME_MAX - 1}}}$")
_CHANNEL = re.compile(r"^[#@]?[A-Za-z0-9._-]{1,80}$")


def check_name(name: str, kind: str = "environment") -> str:
    """A record name people can type: letters, digits, space, dot, dash, underscore."""
    text = name.strip()
    if not _ENV_NAME.match(text):
        raise ServiceError(
            "invalid_input",
            f"{kind} name {name!r} must be 1-{ENV_NAME_MAX} letters, digits, spaces, dots, dashes or "
            "underscores, starting with a letter or digit",
        )
    return text


def add_environment(
    ctx: ServiceContext,
    actor: Actor,
    name: str,
    *,
    default_host: str,
    is_lifetime: bool = False,
    channel: str | None = None,
) -> EnvironmentView:
    """Register an environment by its default `*.outsystemsenterprise.com` host."""
    actor.require_admin("add environments")
    clean = check_name(name)
    try:
        host = normalize(default_host)
    except InvalidHostname as error:
        raise ServiceError("invalid_input", f"default host: {error}") from None
    if channel is not None and not _CHANNEL.match(channel.strip()):
        raise ServiceError("invalid_input", f"channel {channel!r} is not a channel name or id")
    with ctx.session() as session:
        if queries.environment_name_taken(session, clean):
            raise ServiceError("environment_exists", f"an environment named {clean!r} exists")
        if is_lifetime:
            other = queries.lifetime_environment(session)
            if other is not None:
                raise ServiceError(
                    "environment_exists",
                    f"the LifeTime environment is already registered as {other.name!r}",
                )
        row = Environment(
            name=clean,
            default_host=host,
            is_lifetime=is_lifetime,
            channel=channel.strip() if channel else None,
            created_at=ctx.now(),
        )
        queries.add_environment(session, row)  # NameTaken if added at the same moment
        audit.record(session, ctx, actor, "environment.add", row)
        log.info("environment %s added by %s", clean, actor.user_id)
        return environment_view(session, row)


def list_environments(ctx: ServiceContext) -> list[EnvironmentView]:
    promote_due(ctx)
    with ctx.session() as session:
        return [environment_view(session, row) for row in queries.environments(session)]


def show_environment(ctx: ServiceContext, name: str) -> EnvironmentView:
    promote_due(ctx)
    with ctx.session() as session:
        return environment_view(session, queries.environment(session, name))


def environment_for(ctx: ServiceContext, hostname: str, name: str | None) -> EnvironmentView:
    """The environment named, or the one this hostname serves, or the only one there is
    (`/cert dns HOSTNAME [ENV]`: the DNS check needs the environment's default host)."""
    if name:
        return show_environment(ctx, name)
    envs = list_environments(ctx)
    serving = [e for e in envs if (e.hostname or "").lower() == hostname.lower()]
    if len(serving) == 1:
        return serving[0]
    if len(envs) == 1:
        return envs[0]
    if not envs:
        raise ServiceError(
            "not_found", "no environment is recorded yet: an admin adds one with /cert env add"
        )
    names = ", ".join(e.name for e in envs)
    raise ServiceError(
        "invalid_input",
        f"say which environment {hostname} is for: /cert dns {hostname} ENV (one of {names})",
    )
