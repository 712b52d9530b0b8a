"""`certops env sync` and `/cert env sync` (issue 17, part 1) against the LifeTime stand-in
(HTTPS on loopback, a test CA), on SQLite and PostgreSQL: environments added and updated,
LifeTime itself recorded, nothing deleted, `--dry-run` writing nothing, one line for each
failure, the same summary in the terminal and in Slack, and the token in no log line,
database row or Slack message."""

from __future__ import annotations

import json
import logging
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.pipeline.lifetime_api import LifetimeTarget, parse_url
from bot.services import environment_sync, environments
from bot.services.actors import Actor
from bot.services.context import ServiceContext
from bot.services.environment_sync import SyncEntry, SyncResult, summary_lines, sync_environments
from bot.services.errors import ServiceError
from bot.services.mrkdwn import escape
from storage import queries
from storage.db import Database
from tests.support.certops_run import EXE, run_environ
from tests.support.lifetime_server import LT_HOST, TOKEN, LifetimeServer, environment
from tests.support.slack_harness import ADMIN, USER, SlackHarness, slack_harness

ADMIN_ACTOR = Actor("UADMIN", True)


@pytest.fixture
def lifetime(tmp_path: Path) -> Iterator[LifetimeServer]:
    with LifetimeServer(tmp_path) as server:
        yield server


@pytest.fixture
def services(database: Database) -> ServiceContext:
    return ServiceContext(database)


def _target(server: LifetimeServer, timeout: float = 5.0) -> LifetimeTarget:
    base, host, port = parse_url(server.url)
    return LifetimeTarget(
        base,
        host,
        port,
        TOKEN,
        extra_roots=(server.ca.cert,),
        connect_address="127.0.0.1",
        timeout=timeout,
    )


def _rows(ctx: ServiceContext) -> dict[str, dict[str, Any]]:
    with ctx.session() as session:
        return {
            row.name: {
                "default_host": row.default_host,
                "is_lifetime": row.is_lifetime,
                "lifetime_id": row.lifetime_id,
                "environment_type": row.environment_type,
                "channel": row.channel,
            }
            for row in queries.environments(session)
        }


def _audit_actions(ctx: ServiceContext) -> list[str]:
    with ctx.session() as session:
        return sorted(event.action for event in queries.latest_audit(session, 100))


def _names(entries: tuple[SyncEntry, ...]) -> list[str]:
    return [entry.name for entry in entries]


# --- the service, on both databases -----------------------------------------------------


def test_first_sync_adds_adopts_and_records_lifetime(
    services: ServiceContext, lifetime: LifetimeServer
) -> None:
    environments.add_environment(
        services,
        ADMIN_ACTOR,
        "Prod",
        default_host="acme.outsystemsenterprise.com",
        channel="C0PROD",
    )
    environments.add_environment(
        services, ADMIN_ACTOR, "Sandbox", default_host="sandbox.example.com"
    )
    result = sync_environments(services, ADMIN_ACTOR, _target(lifetime))
    assert result.listed == 3 and not result.dry_run
    assert _names(result.added) == ["LifeTime", "Development", "Quality"]
    (changed,) = result.changed
    assert changed.name == "Production"
    assert [(c.field, c.old, c.new) for c in changed.changes] == [
        ("name", "Prod", "Production"),
        ("environment_type", None, "Production"),
        ("lifetime_id", None, "6b1f0b4e-2f4c-4b8e-9d1a-0a1b2c3d4e03"),
    ]
    assert _names(result.not_in_lifetime) == ["Sandbox"] and result.gone == ()
    rows = _rows(services)
    assert rows["LifeTime"] == {
        "default_host": LT_HOST,
        "is_lifetime": True,
        "lifetime_id": None,
        "environment_type": None,
        "channel": None,
    }
    assert rows["Production"]["channel"] == "C0PROD"  # adopted, not replaced
    assert rows["Quality"]["environment_type"] == "Test"
    assert rows["Sandbox"]["lifetime_id"] is None
    assert _audit_actions(services).count("environment.sync_add") == 3
    assert _audit_actions(services).count("environment.sync_update") == 1
    # LifeTime is the LifeTime environment of the ticket rules: one, found by the services.
    assert environments.show_environment(services, "LifeTime").is_lifetime


def test_the_next_sync_updates_by_key_and_never_deletes(
    services: ServiceContext, lifetime: LifetimeServer
) -> None:
    sync_environments(services, ADMIN_ACTOR, _target(lifetime))
    again = sync_environments(services, ADMIN_ACTOR, _target(lifetime))
    assert again.added == () and again.changed == ()
    assert _names(again.unchanged) == ["LifeTime", "Development", "Quality", "Production"]
    assert summary_lines(again)[-1] == "Nothing to change."
    dev, qa, _prod = lifetime.environments
    lifetime.environments = [
        {**dev, "HostName": "acme-dev2.outsystemsenterprise.com"},
        {**qa, "Name": "QA (EU)", "EnvironmentType": "Production"},
    ]
    third = sync_environments(services, ADMIN_ACTOR, _target(lifetime))
    changes = {e.name: [(c.field, c.old, c.new) for c in e.changes] for e in third.changed}
    assert changes == {
        "Development": [
            (
                "default_host",
                "acme-dev.outsystemsenterprise.com",
                "acme-dev2.outsystemsenterprise.com",
            )
        ],
        "QA-EU": [("name", "Quality", "QA-EU"), ("environment_type", "Test", "Production")],
    }
    assert _names(third.gone) == ["Production"]
    assert "Production" in _rows(services)  # reported, not removed
    text = "\n".join(summary_lines(third))
    assert "Gone from LifeTime, kept (1):\n  - Production (acme.outsystemsenterprise.com)" in text
    assert "default host: acme-dev.outsystemsenterprise.com → acme-dev2" in text


def test_dry_run_shows_the_same_and_writes_nothing(
    services: ServiceContext, lifetime: LifetimeServer
) -> None:
    environments.add_environment(
        services, ADMIN_ACTOR, "Prod", default_host="acme.outsystemsenterprise.com"
    )
    before, audit_before = _rows(services), _audit_actions(services)
    planned = sync_environments(services, ADMIN_ACTOR, _target(lifetime), dry_run=True)
    assert _rows(services) == before and _audit_actions(services) == audit_before
    lines = summary_lines(planned)
    assert lines[0].endswith("(dry run: nothing was written).")
    assert "Would add (3):" in lines and "Would change (1):" in lines
    done = sync_environments(services, ADMIN_ACTOR, _target(lifetime))
    assert planned.to_dict() | {"dry_run": False} == done.to_dict()


def test_a_taken_name_is_reported_not_taken(
    services: ServiceContext, lifetime: LifetimeServer
) -> None:
    environments.add_environment(
        services, ADMIN_ACTOR, "Production", default_host="old-prod.example.com"
    )
    result = sync_environments(services, ADMIN_ACTOR, _target(lifetime))
    (skipped,) = result.skipped
    assert skipped.name == "Production" and "taken by another environment" in skipped.note
    assert _rows(services)["Production"]["default_host"] == "old-prod.example.com"
    assert _names(result.not_in_lifetime) == ["Production"]
    assert "Not synced (1):" in summary_lines(result)


def test_lifetime_listed_by_its_own_api_is_the_lifetime_environment(
    services: ServiceContext, lifetime: LifetimeServer
) -> None:
    environments.add_environment(
        services, ADMIN_ACTOR, "lt", default_host="old-lt.example.com", is_lifetime=True
    )
    lifetime.environments = [
        *lifetime.environments[:1],
        environment("lt-key", "LifeTime Console", LT_HOST, "Production", 0),
    ]
    result = sync_environments(services, ADMIN_ACTOR, _target(lifetime))
    changed = {e.name: e for e in result.changed}
    assert set(changed) == {"LifeTime Console"} and changed["LifeTime Console"].is_lifetime
    rows = _rows(services)
    assert rows["LifeTime Console"]["lifetime_id"] == "lt-key"
    assert [name for name, row in rows.items() if row["is_lifetime"]] == ["LifeTime Console"]


def test_only_admins_and_nothing_asked_before(
    services: ServiceContext, lifetime: LifetimeServer
) -> None:
    with pytest.raises(ServiceError) as caught:
        sync_environments(services, Actor("UUSER", False), _target(lifetime))
    assert caught.value.code == "not_admin" and lifetime.requests == []


@pytest.mark.parametrize(
    ("mode", "code"),
    [
        ("unauthorized", "lifetime_refused"),
        ("forbidden", "lifetime_refused"),
        ("empty", "lifetime_no_environments"),
        ("not_found", "lifetime_not_found"),
        ("malformed", "lifetime_bad_answer"),
    ],
)
def test_failures_are_refusals_and_write_nothing(
    services: ServiceContext, lifetime: LifetimeServer, mode: str, code: str
) -> None:
    lifetime.mode = mode
    with pytest.raises(ServiceError) as caught:
        sync_environments(services, ADMIN_ACTOR, _target(lifetime))
    assert caught.value.code == code and TOKEN not in caught.value.message
    assert _rows(services) == {}


def test_the_summary_escapes_every_value_for_slack() -> None:
    entry = SyncEntry("<!channel>", "a.example.com", "Test", "k&1", note="<b>")
    result = SyncResult("https://lt.example.com", 1, False, added=(entry,), skipped=(entry,))
    slack = "\n".join(summary_lines(result, escape))
    assert "<" not in slack and "&lt;!channel&gt;" in slack and "key k&amp;1" in slack
    assert "<!channel>" in "\n".join(summary_lines(result))  # the terminal shows it as it is


def test_names_from_lifetime_are_made_to_fit() -> None:
    assert environment_sync.environment_name("Quality Assurance") == "Quality Assurance"
    assert environment_sync.environment_name("Dev (EU)") == "Dev-EU"
    assert environment_sync.environment_name("<!channel> Prod") == "channel-Prod"
    long = environment_sync.environment_name("Ünïcode " * 20)
    assert len(long) <= 64 and environments.check_name(long) == long and long.startswith("n-code-")
    assert environment_sync.environment_name("***") == "environment"


# --- `certops env sync`, a real process --------------------------------------------------


def _environ(server: LifetimeServer, database_url: str, **more: str) -> dict[str, str]:
    return run_environ(
        DATABASE_URL=database_url,
        LIFETIME_API_TOKEN=TOKEN,
        CERTOPS_TRUST_STORE=str(server.root_file),
        CERTOPS_LIFETIME_ADDRESS="127.0.0.1",
        CERTOPS_LOG_LEVEL="DEBUG",
        **more,
    )


def _certops(environ: dict[str, str], cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [EXE, *argv], env=environ, cwd=cwd, capture_output=True, text=True, timeout=60
    )
    assert "Traceback" not in done.stdout + done.stderr
    assert TOKEN not in done.stdout + done.stderr
    return done


def test_certops_env_sync_process(
    database_url: str, lifetime: LifetimeServer, tmp_path: Path
) -> None:
    environ = _environ(lifetime, database_url)
    dry = _certops(environ, tmp_path, "env", "sync", "--lifetime", lifetime.url, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert (
        "Would add (4):" in dry.stdout
        and "+ LifeTime: acme-lt.outsystemsenterprise.com" in dry.stdout
    )
    listed = _certops(environ, tmp_path, "env", "list", "--json")
    assert json.loads(listed.stdout)["items"] == []  # the dry run wrote nothing
    done = _certops(environ, tmp_path, "env", "sync", "--lifetime", lifetime.url, "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["ok"] is True and data["listed"] == 3 and data["dry_run"] is False
    assert [e["name"] for e in data["added"]] == [
        "LifeTime",
        "Development",
        "Quality",
        "Production",
    ]
    assert data["added"][1]["lifetime_key"] == "6b1f0b4e-2f4c-4b8e-9d1a-0a1b2c3d4e01"
    # The URL from the setting, the summary in text: everything left alone now.
    again = _certops({**environ, "CERTOPS_LIFETIME_URL": lifetime.url}, tmp_path, "env", "sync")
    assert again.returncode == 0 and "Left alone (4):" in again.stdout
    assert again.stdout.strip().endswith("Nothing to change.")
    shown = json.loads(_certops(environ, tmp_path, "env", "show", "LifeTime", "--json").stdout)
    assert shown["is_lifetime"] is True
    quality = _certops(environ, tmp_path, "env", "show", "Quality").stdout
    assert "LifeTime:    Test, key 6b1f0b4e-2f4c-4b8e-9d1a-0a1b2c3d4e02" in quality


@pytest.mark.parametrize(
    ("mode", "code", "words"),
    [
        ("unauthorized", "lifetime_refused", "refused the token (HTTP 401)"),
        ("forbidden", "lifetime_refused", "refused the service account (HTTP 403)"),
        ("empty", "lifetime_no_environments", "lists no environments (HTTP 204)"),
        ("not_found", "lifetime_not_found", "no LifeTime API at https://acme-lt"),
        ("malformed", "lifetime_bad_answer", "it is not JSON"),
        ("huge", "lifetime_bad_answer", "larger than 5 MiB"),
        ("silent", "lifetime_unreachable", "did not answer within 1 s"),
    ],
)
def test_certops_env_sync_failures_are_one_line(
    sqlite_url: str, lifetime: LifetimeServer, tmp_path: Path, mode: str, code: str, words: str
) -> None:
    lifetime.mode = mode
    environ = _environ(lifetime, sqlite_url)
    done = _certops(environ, tmp_path, "env", "sync", "--lifetime", lifetime.url, "--timeout", "1")
    assert done.returncode == 1 and done.stdout == ""
    assert (
        done.stderr.count("\n") == 1 and f"refused ({code})" in done.stderr and words in done.stderr
    )
    as_json = _certops(
        environ, tmp_path, "env", "sync", "--lifetime", lifetime.url, "--timeout", "1", "--json"
    )
    assert json.loads(as_json.stdout)["code"] == code


def test_certops_env_sync_usage_and_settings(
    sqlite_url: str, lifetime: LifetimeServer, tmp_path: Path
) -> None:
    environ = _environ(lifetime, sqlite_url)
    http = _certops(
        environ, tmp_path, "env", "sync", "--lifetime", "http://acme-lt.outsystemsenterprise.com"
    )
    assert http.returncode == 2 and "must be https://" in http.stderr
    no_url = _certops(environ, tmp_path, "env", "sync")
    assert no_url.returncode == 1 and "set CERTOPS_LIFETIME_URL" in no_url.stderr
    no_token = {k: v for k, v in environ.items() if k != "LIFETIME_API_TOKEN"}
    missing = _certops(no_token, tmp_path, "env", "sync", "--lifetime", lifetime.url)
    assert missing.returncode == 1 and "LIFETIME_API_TOKEN is not set" in missing.stderr
    untrusted = {k: v for k, v in environ.items() if k != "CERTOPS_TRUST_STORE"}
    tls = _certops(untrusted, tmp_path, "env", "sync", "--lifetime", lifetime.url)
    assert tls.returncode == 1 and "TLS: the certificate of acme-lt" in tls.stderr
    refused = _certops(environ, tmp_path, "env", "sync", "--lifetime", f"https://{LT_HOST}:1")
    assert refused.returncode == 1 and "refused the connection" in refused.stderr
    # The token is never an option: argparse does not know one.
    option = _certops(environ, tmp_path, "env", "sync", "--token", "x", "--lifetime", lifetime.url)
    assert option.returncode == 2 and "unrecognized arguments" in option.stderr
    assert lifetime.requests == []  # none of these sent a request to LifeTime


def test_certops_doctor_checks_the_token(
    sqlite_url: str, lifetime: LifetimeServer, tmp_path: Path
) -> None:
    environ = _environ(lifetime, sqlite_url, CERTOPS_LIFETIME_URL=lifetime.url)
    for mode, mark, words in (
        ("ok", "[ok  ] lifetime", "it sees 3 environment(s)"),
        ("empty", "[ok  ] lifetime", "it sees no environment (HTTP 204)"),
        ("unauthorized", "[FAIL] lifetime", "HTTP 401"),
        ("forbidden", "[FAIL] lifetime", "give the service account a role"),
    ):
        lifetime.mode = mode
        done = _certops(environ, tmp_path, "doctor")
        line = next(line for line in done.stdout.splitlines() if "lifetime:" in line)
        assert line.startswith(mark), done.stdout
        assert words in done.stdout
    unset = {k: v for k, v in environ.items() if k != "LIFETIME_API_TOKEN"}
    assert "lifetime:" not in _certops(unset, tmp_path, "doctor").stdout  # only when set
    # The trust store is read by the one reader (bot/trust_roots.py), and a bad one stops
    # the LifeTime item before any request, naming the setting.
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"not a certificate")
    lifetime.requests.clear()
    bad = _certops({**environ, "CERTOPS_TRUST_STORE": str(junk)}, tmp_path, "doctor")
    line = next(line for line in bad.stdout.splitlines() if "lifetime:" in line)
    assert line.startswith("[FAIL] lifetime") and "CERTOPS_TRUST_STORE" in line, bad.stdout
    assert lifetime.requests == []


# --- `/cert env sync` in Slack -------------------------------------------------------------


@pytest.fixture
def slack(database_url: str, lifetime: LifetimeServer) -> Iterator[SlackHarness]:
    with slack_harness(
        database_url,
        lifetime_api_token=TOKEN,
        lifetime_url=lifetime.url,
        lifetime_address="127.0.0.1",
        trust_store=(lifetime.root_file,),
    ) as harness:
        yield harness


def test_admins_sync_from_slack_with_the_same_summary(
    slack: SlackHarness, lifetime: LifetimeServer
) -> None:
    ex = slack.command("env sync", ADMIN)
    assert ex.sent.status == 200 and "Asking LifeTime" in ex.ack_text
    (answer,) = ex.texts()
    target = environment_sync.lifetime_target(
        slack.settings, extra_roots=slack.deps.services.extra_roots
    )
    expected = summary_lines(
        sync_environments(slack.deps.services, ADMIN_ACTOR, target, dry_run=True), escape
    )
    # The dry run after the sync finds everything in place: its lines are the "left alone".
    assert "Added (4):" in answer and "+ LifeTime: acme-lt.outsystemsenterprise.com" in answer
    assert "Left alone (4):" in expected
    dry = slack.command("env sync dry-run", ADMIN).texts()[0]
    assert dry.splitlines() == expected
    assert environments.show_environment(slack.deps.services, "Quality").default_host == (
        "acme-qa.outsystemsenterprise.com"
    )
    listed = slack.command("env list", USER).texts()[0]
    assert "*Quality* · Test" in listed and "*LifeTime* · LifeTime" in listed


def test_others_are_refused_before_any_request(
    slack: SlackHarness, lifetime: LifetimeServer
) -> None:
    ex = slack.command("env sync", USER)
    assert "admin" in ex.ack_text.lower() and ex.responses == []
    assert lifetime.requests == []
    usage = slack.command("env sync now", ADMIN)
    assert "Usage: `/cert env sync [dry-run]`" in usage.ack_text


def test_the_ack_does_not_wait_for_lifetime(slack: SlackHarness, lifetime: LifetimeServer) -> None:
    lifetime.gate = threading.Event()
    since = slack.api.mark()
    try:
        sent = slack.sender.command(
            "env sync", user_id=ADMIN, response_url=slack.api.response_url()
        )
        assert sent.status == 200 and "Asking LifeTime" in sent.body
        assert slack.api.calls("response_url", since=since) == []
        assert slack.deps.work.pending >= 1  # on the work pool, not a listener thread
    finally:
        lifetime.gate.set()
    slack.settle()
    (answer,) = slack.api.calls("response_url", since=since)
    assert "Added (4)" in answer.params["text"] or "Added (4)" in json.dumps(answer.blocks)


def test_a_refusal_in_slack_is_one_line(slack: SlackHarness, lifetime: LifetimeServer) -> None:
    lifetime.mode = "unauthorized"
    (text,) = slack.command("env sync", ADMIN).texts()
    assert "refused the token (HTTP 401)" in text and "Traceback" not in text


# --- the token: in no log line, database row or Slack message -------------------------


def _database_text(url: str) -> str:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            parts = []
            for table in sa.inspect(connection).get_table_names():
                rows = connection.execute(sa.text(f'SELECT * FROM "{table}"')).fetchall()
                parts += [repr(tuple(row)) for row in rows]
            return "\n".join(parts)
    finally:
        engine.dispose()


def test_the_token_is_never_logged_stored_or_posted(
    slack: SlackHarness,
    lifetime: LifetimeServer,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    texts = [slack.command("env sync", ADMIN)]
    for mode in ("unauthorized", "forbidden", "malformed", "huge", "empty", "not_found"):
        lifetime.mode = mode
        texts.append(slack.command("env sync", ADMIN))
    assert lifetime.requests and all(
        r.authorization == f"Bearer {TOKEN}" for r in lifetime.requests
    )
    assert "Added (4)" in texts[0].all_text
    posted = json.dumps(
        [call.params for call in slack.api.calls()] + [c.blocks for c in slack.api.calls()]
    )
    assert TOKEN not in posted and all(TOKEN not in ex.all_text for ex in texts)
    assert TOKEN not in caplog.text and "env sync from" in caplog.text
    assert TOKEN not in _database_text(database_url)
    assert "environment.sync_add" in _database_text(database_url)
