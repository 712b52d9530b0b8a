"""Checks of the settings alone: well-formed, tokens of the right kind, admins, the mode."""

from __future__ import annotations

import re

from bot.doctor.result import CheckResult, fail, ok, warn
from bot.settings import Settings

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_SIGNING_SECRET = re.compile(r"^[0-9a-f]{32}$")
ENV_FILE_FIX = "set it in the environment or in the .env file, then run certops doctor again"


def well_formed(settings: Settings) -> list[CheckResult]:
    """Every setting that is present but malformed (the same list `certops run` stops on)."""
    problems = settings.problems()
    if not problems:
        return [ok("settings", "every setting present is well-formed")]
    return [fail("settings", problem, ENV_FILE_FIX) for problem in problems]


def bot_token(settings: Settings) -> CheckResult:
    token = settings.slack_bot_token
    if not token:
        return fail(
            "bot token",
            "SLACK_BOT_TOKEN is not set (without it certops runs only in console mode)",
            "copy the Bot User OAuth Token (xoxb-...) from the app's OAuth & Permissions page "
            "into SLACK_BOT_TOKEN",
        )
    if not token.startswith("xoxb-"):
        return fail(
            "bot token",
            f"SLACK_BOT_TOKEN is not a bot token (it starts with {token[:5]!r}, not 'xoxb-')",
            "use the Bot User OAuth Token (xoxb-...), not a user (xoxp-) or app (xapp-) token",
        )
    return ok("bot token", "SLACK_BOT_TOKEN is a bot token (xoxb-)")


def admins(settings: Settings) -> CheckResult:
    if not settings.admins:
        return fail(
            "admins",
            "CERTOPS_ADMINS is empty: nobody can add environments, approve or assign",
            "set CERTOPS_ADMINS to the Slack user ids of the platform team (U0123ABC,U0456DEF)",
        )
    odd = [user for user in settings.admins if not _USER_ID.match(user)]
    if odd:
        return warn(
            "admins",
            f"CERTOPS_ADMINS has values that are not Slack user ids: {', '.join(odd)}",
            "use member ids (profile, More, Copy member ID: U0123ABC), not names or emails",
        )
    return ok("admins", f"{len(settings.admins)} admin(s): {', '.join(settings.admins)}")


def chosen_mode(settings: Settings, requested: str) -> str:
    """`socket` or `http`: what `certops run` would do (`--http` asks for HTTP)."""
    if requested in {"socket", "http"}:
        return requested
    if settings.slack_app_token:
        return "socket"
    return "http" if settings.slack_signing_secret else "socket"


def mode(
    settings: Settings, requested: str, manifest_socket_mode: bool | None
) -> list[CheckResult]:
    """Socket Mode needs an app token; HTTP needs the signing secret; the manifest agrees."""
    which = chosen_mode(settings, requested)
    found: list[CheckResult] = []
    if which == "socket":
        if not settings.slack_app_token:
            found.append(
                fail(
                    "mode",
                    "Socket Mode needs SLACK_APP_TOKEN, and it is not set",
                    "create an app-level token with connections:write (Basic Information, "
                    "App-Level Tokens) and set SLACK_APP_TOKEN; or run HTTP mode "
                    "(certops run --http) with SLACK_SIGNING_SECRET",
                )
            )
        else:
            what = "Socket Mode: SLACK_APP_TOKEN is set"
            if settings.slack_signing_secret:
                what += " (SLACK_SIGNING_SECRET is set too: used only with --http)"
            found.append(ok("mode", what))
        if settings.metrics_port is None:
            found.append(
                warn(
                    "mode",
                    "Socket Mode serves no /healthz, /readyz or /metrics: "
                    "CERTOPS_METRICS_PORT is not set",
                    "set CERTOPS_METRICS_PORT (for example 9090) to serve them on a port of "
                    "their own",
                )
            )
    else:
        secret = settings.slack_signing_secret
        if not secret:
            found.append(
                fail(
                    "mode",
                    "HTTP mode needs SLACK_SIGNING_SECRET, and it is not set",
                    "copy the Signing Secret (Basic Information, App Credentials) into "
                    "SLACK_SIGNING_SECRET",
                )
            )
        elif not _SIGNING_SECRET.match(secret):
            found.append(
                warn(
                    "mode",
                    "SLACK_SIGNING_SECRET does not look like a Slack signing secret "
                    "(32 hexadecimal characters): every request would be refused",
                    "copy the Signing Secret again (not the Client Secret or a token)",
                )
            )
        else:
            found.append(ok("mode", "HTTP mode: SLACK_SIGNING_SECRET is set"))
        if settings.metrics_port is not None:
            found.append(
                warn(
                    "mode",
                    "CERTOPS_METRICS_PORT is ignored in HTTP mode: /healthz, /readyz and "
                    "/metrics are served on the HTTP port itself",
                    "unset CERTOPS_METRICS_PORT, or scrape the HTTP port",
                )
            )
    if manifest_socket_mode is not None and manifest_socket_mode != (which == "socket"):
        state = "on" if manifest_socket_mode else "off"
        found.append(
            warn(
                "mode",
                f"manifest.yml has socket_mode_enabled {state}, but certops would run "
                f"{'Socket Mode' if which == 'socket' else 'HTTP mode'}",
                "make the app's settings and manifest.yml agree with the mode you run "
                "(HTTP mode also needs the request URL https://YOUR-HOST/slack/events)",
            )
        )
    return found


def trust_store(settings: Settings) -> CheckResult:
    """CERTOPS_TRUST_STORE reads, and how many roots each file adds to the public ones.

    Read afresh (not the process's kept copy): the doctor is run after fixing a file.
    """
    from bot.trust_roots import SETTING, TrustRootsError, read_trust_file

    if not settings.trust_store:
        return ok(
            "trust store",
            f"{SETTING} is not set: only the public roots (certifi's) are trusted",
        )
    counts: list[str] = []
    total = 0
    for path in settings.trust_store:
        try:
            roots = len(read_trust_file(path))
        except TrustRootsError as error:
            return fail(
                "trust store",
                f"{SETTING}: {error}",
                f"point {SETTING} at PEM files of your CA's roots, separated with ':' "
                "(certops samples prints one to try)",
            )
        total += roots
        counts.append(f"{path} ({roots})")
    return ok(
        "trust store",
        f"{SETTING}: {total} extra root(s) trusted besides the public ones: {', '.join(counts)}",
    )
