"""Run every check in order; later checks use what earlier ones found (or are skipped)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bot.doctor import (
    database_checks,
    dns_checks,
    lifetime_checks,
    manifest,
    settings_checks,
    slack_checks,
)
from bot.doctor.result import CheckResult, Status, skip
from bot.settings import Settings


@dataclass
class DoctorOptions:
    mode: str = "auto"  # auto | socket | http (what `certops run` would be given)
    nameservers: list[tuple[str, int]] | None = field(default=None)
    dns_name: str = dns_checks.DEFAULT_NAME
    dns_timeout: float = dns_checks.DEFAULT_TIMEOUT
    manifest_path: Path | None = None


def run_doctor(settings: Settings, options: DoctorOptions | None = None) -> list[CheckResult]:
    options = options or DoctorOptions()
    facts = manifest.read(options.manifest_path)
    results: list[CheckResult] = []
    results += settings_checks.well_formed(settings)
    results.append(settings_checks.bot_token(settings))
    results += settings_checks.mode(settings, options.mode, facts.socket_mode if facts else None)
    results.append(settings_checks.admins(settings))
    results.append(settings_checks.trust_store(settings))

    db_result, database = database_checks.reachable(settings)
    results.append(db_result)
    results.append(database_checks.migrated(settings, database))
    channels = database_checks.notification_channels(settings, database)

    if settings.slack_bot_token and settings.slack_bot_token.startswith("xoxb-"):
        client = slack_checks.client_for(settings)
        auth_result, answer = slack_checks.auth(settings, client)
        results.append(auth_result)
        results.append(slack_checks.scopes(answer, facts.scopes if facts else None))
        results += slack_checks.channels(client, answer, channels, facts.scopes if facts else None)
        if (
            settings_checks.chosen_mode(settings, options.mode) == "socket"
            and settings.slack_app_token
            and settings.slack_app_token.startswith("xapp-")
        ):
            results.append(slack_checks.app_token(settings))
    else:
        results.append(skip("slack", "not checked: no usable SLACK_BOT_TOKEN"))

    results.append(dns_checks.resolver(options.nameservers, options.dns_name, options.dns_timeout))
    lifetime = lifetime_checks.token(settings)  # only when LIFETIME_API_TOKEN is set
    if lifetime is not None:
        results.append(lifetime)
    if database is not None:
        database.dispose()
    return results


def failed(results: list[CheckResult]) -> bool:
    return any(result.status is Status.FAIL for result in results)
