"""Checks against Slack's Web API: the token is accepted, its scopes match the manifest,
and the bot can post in every channel it is meant to post in.

Slack sends the token's scopes in the `x-oauth-scopes` header of every Web API answer,
so one `auth.test` call tells both whether the token works and what it may do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.doctor.result import CheckResult, fail, ok, skip, warn
from bot.settings import Settings

SLACK_TIMEOUT = 5
REINSTALL_FIX = (
    "add the missing scopes to the app (paste manifest.yml into the app's manifest), then "
    "reinstall the app to the workspace and copy the new bot token"
)


@dataclass
class SlackAnswer:
    """What `auth.test` said: None for `scopes` when Slack did not send the header."""

    ok: bool
    error: str = ""
    scopes: set[str] | None = None
    bot_user: str = ""


def header(headers: Mapping[str, Any], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return str(value[0] if isinstance(value, list) and value else value)
    return None


def client_for(settings: Settings) -> WebClient:
    # No retries: a doctor reports what it sees, quickly.
    return WebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=SLACK_TIMEOUT,
        retry_handlers=[],
    )


def auth(settings: Settings, client: WebClient) -> tuple[CheckResult, SlackAnswer]:
    """`auth.test` with the bot token."""
    name = "slack auth"
    try:
        response = client.auth_test()
    except SlackApiError as error:
        code = str(error.response.get("error", "refused")) if error.response else "refused"
        sent = header(error.response.headers, "x-oauth-scopes") if error.response else None
        answer = SlackAnswer(False, code, _scope_set(sent))
        return (
            fail(
                name,
                f"Slack refused the bot token ({code})",
                "copy the Bot User OAuth Token again from OAuth & Permissions (reinstall the "
                "app if it was revoked) into SLACK_BOT_TOKEN",
            ),
            answer,
        )
    except Exception as error:  # no route, DNS, TLS: one line
        first = (str(error).splitlines() or [""])[0]
        return (
            fail(
                name,
                f"cannot reach Slack at {settings.slack_api_url}: {type(error).__name__}: {first}",
                "check outbound HTTPS from this host (proxy, firewall) and SLACK_API_URL",
            ),
            SlackAnswer(False, "unreachable"),
        )
    scopes = _scope_set(header(response.headers, "x-oauth-scopes"))
    team = response.get("team") or response.get("team_id") or "?"
    bot = str(response.get("user_id") or "")
    answer = SlackAnswer(True, scopes=scopes, bot_user=bot)
    return ok(name, f"the bot token works: bot {response.get('user')} ({bot}) in {team}"), answer


def _scope_set(value: str | None) -> set[str] | None:
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def scopes(answer: SlackAnswer, declared: Iterable[str] | None) -> CheckResult:
    """The token's scopes against the manifest's bot scopes."""
    name = "slack scopes"
    if declared is None:  # a failure: a missing scope must never pass unnoticed
        return fail(
            name,
            "manifest.yml could not be read: the scopes were not compared",
            "give --manifest PATH (the app's manifest.yml), or reinstall certops "
            "(it ships bot/doctor/manifest.yml)",
        )
    if not answer.ok:
        return skip(name, "not checked: Slack did not accept the token")
    if answer.scopes is None:
        return warn(
            name,
            "Slack did not send the token's scopes (no x-oauth-scopes header)",
            "compare the app's OAuth scopes with manifest.yml by hand",
        )
    wanted = set(declared)
    missing = sorted(wanted - answer.scopes)
    extra = sorted(answer.scopes - wanted)
    if missing:
        return fail(
            name,
            f"the bot token lacks scopes manifest.yml declares: {', '.join(missing)}",
            REINSTALL_FIX,
        )
    what = f"the token has every scope manifest.yml declares ({len(wanted)})"
    if extra:
        return warn(
            name,
            f"{what}, and more: {', '.join(extra)}",
            "remove the scopes certops does not need from the app, then reinstall it",
        )
    return ok(name, what)


def channels(
    client: WebClient, answer: SlackAnswer, wanted: list[str], declared: Iterable[str] | None
) -> list[CheckResult]:
    """Each channel certops posts to: the bot is a member, or may post without joining."""
    name = "channels"
    if not wanted:
        return [
            warn(
                name,
                "no channel to post expiry warnings in: no CERTOPS_DEFAULT_CHANNEL and no "
                "environment with a channel",
                "set CERTOPS_DEFAULT_CHANNEL (a channel id like C0123ABC) or give environments "
                "a channel",
            )
        ]
    if not answer.ok:
        return [skip(name, "not checked: Slack did not accept the token")]
    has_public_write = "chat:write.public" in (answer.scopes or set(declared or ()))
    return [_channel(client, channel, has_public_write) for channel in wanted]


def _channel(client: WebClient, channel: str, public_write: bool) -> CheckResult:
    name = f"channel {channel}"
    try:
        info = client.conversations_info(channel=channel)["channel"]
    except SlackApiError as error:
        code = str(error.response.get("error", "refused")) if error.response else "refused"
        if code == "missing_scope":
            return warn(
                name,
                "cannot look at the channel: the token lacks channels:read / groups:read",
                "add channels:read and groups:read (they are in manifest.yml) and reinstall",
            )
        if code == "channel_not_found":
            return fail(
                name,
                "the bot cannot see this channel (no such channel, or a private one it is not in)",
                "check the id; for a private channel, /invite @certops in it",
            )
        return fail(name, f"Slack refused conversations.info ({code})", "check the channel id")
    except Exception as error:
        return fail(name, f"cannot ask Slack: {type(error).__name__}", "check the network")
    label = f"#{info.get('name')}" if info.get("name") else channel
    if info.get("is_archived"):
        return fail(
            name,
            f"{label} is archived: nothing can be posted",
            "unarchive it or pick another channel",
        )
    if info.get("is_member"):
        return ok(name, f"{label}: the bot is a member")
    if not info.get("is_private") and public_write:
        return ok(name, f"{label}: public, the bot posts without joining (chat:write.public)")
    return fail(
        name,
        f"{label}: the bot is not a member and cannot post there",
        f"/invite @certops in {label}",
    )


def app_token(settings: Settings) -> CheckResult:
    """Socket Mode: Slack accepts the app-level token (`apps.connections.open` hands out a
    WebSocket URL; nothing connects to it)."""
    name = "slack app token"
    client = WebClient(base_url=settings.slack_api_url, timeout=SLACK_TIMEOUT, retry_handlers=[])
    try:
        client.apps_connections_open(app_token=settings.slack_app_token or "")
    except SlackApiError as error:
        code = str(error.response.get("error", "refused")) if error.response else "refused"
        return fail(
            name,
            f"Slack refused SLACK_APP_TOKEN ({code})",
            "generate an app-level token with connections:write (Basic Information, App-Level "
            "Tokens) and check that Socket Mode is enabled for the app",
        )
    except Exception as error:
        return fail(name, f"cannot reach Slack: {type(error).__name__}", "check the network")
    return ok(name, "Slack accepts SLACK_APP_TOKEN for Socket Mode")
