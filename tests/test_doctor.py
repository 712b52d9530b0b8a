"""`certops doctor`: each item right and wrong, against the real parts.

Slack is the loopback stand-in (which sends `x-oauth-scopes` as Slack does and knows the
channels a test gives it), the database a real SQLite file or PostgreSQL, the resolver
the real UDP DNS server of tests/support/dns_server.py.
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main as certops
from bot.console.slack_api import DEFAULT_SCOPES, FakeSlackApi
from bot.doctor import CheckResult, DoctorOptions, Status, run_doctor
from bot.doctor.manifest import read as read_manifest
from bot.services import environments
from bot.services.actors import Actor
from bot.services.context import ServiceContext
from bot.settings import Settings
from storage.db import Database
from tests.support.dns_server import DnsServer
from tests.support.doctor import ADMIN, CHANNEL, SECRET, TOKEN

MANIFEST = Path(__file__).resolve().parent.parent / "manifest.yml"


@pytest.fixture
def api() -> Iterator[FakeSlackApi]:
    with FakeSlackApi(bot_token=TOKEN) as server:
        server.channels[CHANNEL] = {"name": "certs", "is_member": True}
        yield server


@pytest.fixture(scope="module")
def dns() -> Iterator[DnsServer]:
    with DnsServer({"outsystemsenterprise.com": [("A", "192.0.2.10")]}) as server:
        yield server


def good_settings(api: FakeSlackApi, database_url: str, **overrides: Any) -> Settings:
    base = Settings(
        slack_bot_token=TOKEN,
        slack_signing_secret=SECRET,
        slack_api_url=api.api_url,
        database_url=database_url,
        admins=(ADMIN,),
        default_channel=CHANNEL,
    )
    return dataclasses.replace(base, **overrides)


def options(dns: DnsServer, **overrides: Any) -> DoctorOptions:
    return DoctorOptions(nameservers=[dns.address], dns_timeout=1.0, **overrides)


def by_name(results: list[CheckResult]) -> dict[str, list[CheckResult]]:
    found: dict[str, list[CheckResult]] = {}
    for result in results:
        found.setdefault(result.name, []).append(result)
    return found


def statuses(results: list[CheckResult], name: str) -> set[Status]:
    return {r.status for r in by_name(results)[name]}


def test_the_stand_in_declares_the_manifest_scopes() -> None:
    facts = read_manifest(MANIFEST)
    assert facts is not None
    assert set(facts.scopes) == set(DEFAULT_SCOPES)
    assert facts.socket_mode is True


def test_a_good_http_deployment_passes_every_item(
    api: FakeSlackApi, dns: DnsServer, database_url: str
) -> None:
    results = run_doctor(good_settings(api, database_url), options(dns, mode="http"))
    bad = [r for r in results if r.status is not Status.OK]
    # The manifest is written for Socket Mode: checking for HTTP says so, as a warning.
    assert [(r.name, r.status) for r in bad] == [("mode", Status.WARN)]
    assert "socket_mode_enabled on" in bad[0].what
    names = [r.name for r in results]
    assert names == [
        "settings",
        "bot token",
        "mode",
        "mode",
        "admins",
        "trust store",
        "database",
        "migration",
        "slack auth",
        "slack scopes",
        f"channel {CHANNEL}",
        "dns",
    ]
    assert api.calls("auth.test") and api.calls("conversations.info")


def test_settings_tokens_mode_and_admins_that_are_wrong(
    api: FakeSlackApi, dns: DnsServer, sqlite_url: str
) -> None:
    settings = good_settings(
        api,
        sqlite_url,
        slack_bot_token="xoxp-a-user-token",
        slack_app_token="not-an-app-token",
        admins=(),
        log_format="yaml",
    )
    results = run_doctor(settings, options(dns))
    found = by_name(results)
    problems = " | ".join(r.what for r in found["settings"])
    assert "SLACK_BOT_TOKEN must be a bot token" in problems
    assert "SLACK_APP_TOKEN must be an app-level token" in problems
    assert "CERTOPS_LOG_FORMAT" in problems
    assert found["bot token"][0].status is Status.FAIL
    assert "a-user-token" not in found["bot token"][0].what  # only the kind is named
    assert found["admins"][0].status is Status.FAIL
    assert "CERTOPS_ADMINS" in found["admins"][0].fix
    assert statuses(results, "slack") == {Status.SKIP}  # no usable bot token to ask with
    assert "a-user-token" not in json.dumps([r.to_dict() for r in results])


def test_socket_mode_without_an_app_token_and_without_a_metrics_port(
    api: FakeSlackApi, dns: DnsServer, sqlite_url: str
) -> None:
    results = run_doctor(good_settings(api, sqlite_url), options(dns, mode="socket"))
    modes = by_name(results)["mode"]
    assert modes[0].status is Status.FAIL and "SLACK_APP_TOKEN" in modes[0].what
    assert any("CERTOPS_METRICS_PORT" in r.what and r.status is Status.WARN for r in modes)
    settings = good_settings(api, sqlite_url, slack_app_token="xapp-1-A1-x", metrics_port=9095)
    results = run_doctor(settings, options(dns, mode="socket"))
    assert statuses(results, "mode") == {Status.OK}
    assert "SLACK_SIGNING_SECRET is set too" in by_name(results)["mode"][0].what
    refused = by_name(results)["slack app token"][0]
    assert refused.status is Status.FAIL and "invalid_auth" in refused.what
    api.app_token, api.socket_mode_url = "xapp-1-A1-x", "ws://127.0.0.1:9/link"
    results = run_doctor(settings, options(dns, mode="socket"))
    assert statuses(results, "slack app token") == {Status.OK}
    assert len(api.calls("apps.connections.open")) == 2


def test_a_signing_secret_that_is_not_one_and_a_metrics_port_in_http_mode(
    api: FakeSlackApi, dns: DnsServer, sqlite_url: str
) -> None:
    settings = good_settings(
        api, sqlite_url, slack_signing_secret="xoxb-pasted-wrong", metrics_port=9
    )
    whats = [r.what for r in by_name(run_doctor(settings, options(dns, mode="http")))["mode"]]
    assert any("does not look like a Slack signing secret" in w for w in whats)
    assert any("CERTOPS_METRICS_PORT is ignored in HTTP mode" in w for w in whats)


def test_an_unreachable_database_and_an_old_schema(
    api: FakeSlackApi, dns: DnsServer, empty_sqlite_url: str
) -> None:
    down = good_settings(api, "postgresql://certops:hunter22@127.0.0.1:1/certops")
    found = by_name(run_doctor(down, options(dns)))
    assert found["database"][0].status is Status.FAIL
    assert "hunter22" not in found["database"][0].what
    assert found["migration"][0].status is Status.SKIP
    empty = by_name(run_doctor(good_settings(api, empty_sqlite_url), options(dns)))
    assert empty["database"][0].status is Status.OK
    migration = empty["migration"][0]
    assert migration.status is Status.FAIL and "certops db upgrade" in migration.fix


def test_a_refused_token_and_missing_scopes(
    api: FakeSlackApi, dns: DnsServer, sqlite_url: str
) -> None:
    wrong = good_settings(api, sqlite_url, slack_bot_token="xoxb-revoked")
    found = by_name(run_doctor(wrong, options(dns)))
    assert found["slack auth"][0].status is Status.FAIL
    assert "invalid_auth" in found["slack auth"][0].what
    assert found["slack scopes"][0].status is Status.SKIP

    api.scopes = ("commands", "chat:write", "im:history", "im:read", "im:write", "channels:read")
    found = by_name(run_doctor(good_settings(api, sqlite_url), options(dns)))
    scopes = found["slack scopes"][0]
    assert scopes.status is Status.FAIL
    assert "channels:history, chat:write.public, files:read, groups:history, groups:read" in (
        scopes.what
    )
    assert "reinstall" in scopes.fix

    # the history scopes the expiry warnings need to find a post whose answer was lost
    api.scopes = tuple(s for s in DEFAULT_SCOPES if not s.endswith(":history") or s == "im:history")
    scopes = by_name(run_doctor(good_settings(api, sqlite_url), options(dns)))["slack scopes"][0]
    assert scopes.status is Status.FAIL
    assert scopes.what.endswith("declares: channels:history, groups:history")

    api.scopes = (*DEFAULT_SCOPES, "users:read.email")
    found = by_name(run_doctor(good_settings(api, sqlite_url), options(dns)))
    assert found["slack scopes"][0].status is Status.WARN
    assert "users:read.email" in found["slack scopes"][0].what

    api.scopes = None  # no header at all
    found = by_name(run_doctor(good_settings(api, sqlite_url), options(dns)))
    assert found["slack scopes"][0].status is Status.WARN
    assert "x-oauth-scopes" in found["slack scopes"][0].what


def test_the_channels_of_the_environments_and_the_default_one(
    api: FakeSlackApi, dns: DnsServer, sqlite_url: str
) -> None:
    ctx = ServiceContext(database=Database(sqlite_url))
    admin = Actor(ADMIN, True)
    for name, channel in [("dev", "C0PUBLIC1"), ("qa", "C0PRIVATE"), ("prd", "C0ARCHIVE")]:
        environments.add_environment(
            ctx, admin, name, default_host=f"acme-{name}.outsystemsenterprise.com", channel=channel
        )
    ctx.database.dispose()
    api.channels["C0PUBLIC1"] = {"name": "dev-certs", "is_member": False}
    api.channels["C0ARCHIVE"] = {"name": "old", "is_member": True, "is_archived": True}
    found = by_name(run_doctor(good_settings(api, sqlite_url), options(dns)))
    assert found[f"channel {CHANNEL}"][0].status is Status.OK
    public = found["channel C0PUBLIC1"][0]
    assert public.status is Status.OK and "chat:write.public" in public.what
    private = found["channel C0PRIVATE"][0]
    assert private.status is Status.FAIL and "/invite @certops" in private.fix
    assert found["channel C0ARCHIVE"][0].status is Status.FAIL

    api.scopes = tuple(s for s in DEFAULT_SCOPES if s not in {"chat:write.public"})
    found = by_name(run_doctor(good_settings(api, sqlite_url), options(dns)))
    assert found["channel C0PUBLIC1"][0].status is Status.FAIL

    api.scopes = tuple(s for s in DEFAULT_SCOPES if s not in {"channels:read", "groups:read"})
    found = by_name(run_doctor(good_settings(api, sqlite_url), options(dns)))
    assert found[f"channel {CHANNEL}"][0].status is Status.WARN
    assert "channels:read" in found[f"channel {CHANNEL}"][0].what


def test_no_channel_at_all_is_a_warning(api: FakeSlackApi, dns: DnsServer, sqlite_url: str) -> None:
    found = by_name(run_doctor(good_settings(api, sqlite_url, default_channel=None), options(dns)))
    (channels,) = found["channels"]
    assert channels.status is Status.WARN and "CERTOPS_DEFAULT_CHANNEL" in channels.fix


@pytest.mark.parametrize("mode", ["silent", "servfail"])
def test_a_resolver_that_does_not_answer(api: FakeSlackApi, sqlite_url: str, mode: str) -> None:
    with DnsServer({}, mode=mode) as bad:
        found = by_name(
            run_doctor(
                good_settings(api, sqlite_url),
                DoctorOptions(nameservers=[bad.address], dns_timeout=0.5),
            )
        )
    dns = found["dns"][0]
    assert dns.status is Status.FAIL
    assert ("did not answer within 0.5 s" if mode == "silent" else "SERVFAIL") in dns.what


def test_nxdomain_is_an_answer(api: FakeSlackApi, sqlite_url: str) -> None:
    with DnsServer({}, zones=["example.com"]) as server:
        found = by_name(
            run_doctor(
                good_settings(api, sqlite_url),
                DoctorOptions(nameservers=[server.address], dns_name="nope.example.com"),
            )
        )
    assert found["dns"][0].status is Status.OK


def _environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, values: dict[str, str]) -> None:
    monkeypatch.chdir(tmp_path)  # no .env from the project folder
    for key in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_API_URL"):
        monkeypatch.delenv(key, raising=False)
    for key in (
        "DATABASE_URL",
        "CERTOPS_ADMINS",
        "CERTOPS_DEFAULT_CHANNEL",
        "CERTOPS_METRICS_PORT",
    ):
        monkeypatch.delenv(key, raising=False)
    for key, value in values.items():
        monkeypatch.setenv(key, value)


def test_the_command_prints_each_item_and_exits_by_the_worst(
    api: FakeSlackApi,
    dns: DnsServer,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    env = {
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": api.api_url,
        "DATABASE_URL": sqlite_url,
        "CERTOPS_ADMINS": ADMIN,
        "CERTOPS_DEFAULT_CHANNEL": CHANNEL,
    }
    _environ(monkeypatch, tmp_path, env)
    args = ["doctor", "--http", "--nameserver", dns.nameserver, "--manifest", str(MANIFEST)]
    out = io.StringIO()
    with redirect_stdout(out):
        assert certops(args) == 0
    text = out.getvalue()
    assert "[ok  ] slack scopes: the token has every scope manifest.yml declares (11)" in text
    assert "[WARN] mode:" in text and "0 failed" in text

    monkeypatch.setenv("CERTOPS_ADMINS", "")
    out = io.StringIO()
    with redirect_stdout(out):
        assert certops([*args, "--json"]) == 1
    data = json.loads(out.getvalue())
    assert data["ok"] is False
    admins = next(c for c in data["checks"] if c["name"] == "admins")
    assert admins["status"] == "fail" and admins["fix"]
    assert set(data["checks"][0]) == {"name", "status", "what", "fix"}
    assert TOKEN not in out.getvalue()


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert certops(["doctor", "--nameserver", "dns.example.com"]) == 2
    assert "not an IP address" in capsys.readouterr().err
    assert certops(["doctor", "--dns-timeout", "0"]) == 2
