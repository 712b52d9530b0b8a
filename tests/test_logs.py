"""Logs: one line per event, text or JSON, the Slack request id on every line of a
request, and never a private key, password, token or file content, even at DEBUG.

The last test is the proof the issue asks for: every flow (validate, submit with an
encrypted key and a PFX, assign, ticket, renew) through the CLI and through signed Slack
requests, logged at DEBUG by the real `configure`, then the log bytes searched."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from bot.cli import main as certops
from bot.logging_setup import RedactionFilter, configure, redact_text
from bot.pipeline.material import InputFile, Passwords
from bot.services import redaction
from bot.settings import Settings
from handlers.common.ids import AssignId, UploadId
from handlers.common.request_context import request_id_var
from tests.support.dns_server import DnsServer
from tests.support.pki import key_pem
from tests.support.slack_fixtures import ENV_HOST, LT_HOST, PkiSet, add_env, make_pki, submit
from tests.support.slack_harness import (
    ADMIN,
    BOT_TOKEN,
    SIGNING_SECRET,
    SlackHarness,
    slack_harness,
)
from tests.support.slack_upload_fixtures import (
    PFX_PASSWORD,
    UploadSet,
    button_in,
    click,
    interact,
    make_uploads,
    opened_view,
    send_files,
    submit_view,
    text_value,
)

KEY_PASSWORD = "Key-Secret-5823"
RECORDS = {
    "shop.example.com": [("CNAME", ENV_HOST + ".", 300)],
    "lt.example.com": [("CNAME", LT_HOST + ".", 300)],
    ENV_HOST: [("A", "192.0.2.10", 60)],
    LT_HOST: [("A", "192.0.2.11", 60)],
}


@pytest.fixture(scope="module")
def pki() -> PkiSet:
    return make_pki()


@pytest.fixture(scope="module")
def uploads(pki: PkiSet) -> UploadSet:
    return make_uploads(pki)


@pytest.fixture(scope="module")
def dns_server() -> Iterator[DnsServer]:
    with DnsServer(RECORDS, zones=["example.com", "outsystemsenterprise.com"]) as server:
        yield server


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


# --- the filter ---------------------------------------------------------------------------
KEY_BLOCK = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----"


@pytest.mark.parametrize(
    ("text", "gone", "kept"),
    [
        (f"read {KEY_BLOCK} done", "MIIEvQ", "read [redacted private key] done"),
        ("body: '" + KEY_BLOCK.replace("\n", "\\n") + "'", "MIIEvQ", "[redacted private key]"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow (cut)", "MIIEow", "[redacted rsa private key]"),
        ("token xoxb-1234-5678-abcdefgh used", "xoxb-1234", "token [redacted] used"),
        ("app xapp-1-A0-123-abc", "xapp-1-A0", "app [redacted]"),
        ("headers {'Authorization': 'Bearer xoxp-99-zz'}", "xoxp-99", "Bearer [redacted]"),
        ("{'password': 'hunter2!', 'x': 1}", "hunter2", "'password': '***'"),
        (
            "view state {'password': {'type': 'plain_text_input', 'value': 'S3cret-Pw'}}",
            "S3cret",
            "***",
        ),
        ("zip_password=Zip-77 next", "Zip-77", "zip_password=***"),
        (  # a passphrase with spaces and a comma goes whole, not only its first word
            '{"password": {"type": "plain_text_input", "value": "my pass, phrase"}}',
            "phrase",
            '"value": "***"}',
        ),
        ("{'zip_password': 'two words', 'n': 1}", "words", "'zip_password': '***', 'n': 1"),
        ("postgresql://certops:pa55w0rd@db:5432/x", "pa55w0rd", "postgresql://certops:***@db"),
        ("der " + "QUJD" * 30, "QUJDQUJD", "der [redacted base64]"),
    ],
)
def test_redaction_removes_secrets(text: str, gone: str, kept: str) -> None:
    cleaned = redact_text(text)
    assert gone not in cleaned
    assert kept in cleaned


@pytest.mark.parametrize(
    "text",
    [
        "fingerprint " + "ab12" * 16,  # a SHA-256 fingerprint is public
        "finding password_required: the key is locked",
        "token_verification_enabled=False",
        "certificate shop submitted by U123: valid (no findings)",
    ],
)
def test_redaction_leaves_the_rest_alone(text: str) -> None:
    assert redact_text(text) == text


def test_the_configured_secrets_are_never_printed() -> None:
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "secret is %s", ("s1gning-s3cret",), None
    )
    RedactionFilter(["s1gning-s3cret"]).filter(record)
    assert record.getMessage() == "secret is [redacted]"


# --- formats and request ids -------------------------------------------------------------
def test_text_is_one_line_per_event_even_with_a_traceback(restore_logging: None) -> None:
    stream = io.StringIO()
    configure(Settings(), stream=stream)
    log = logging.getLogger("certops.test")
    log.info("two\nlines")
    try:
        raise ValueError("boom\nsecond line of " + KEY_BLOCK)
    except ValueError:
        log.exception("failed")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("INFO certops.test [-] two\\nlines")
    assert "Traceback" in lines[1] and "ValueError: boom" in lines[1]
    assert "MIIEvQ" not in lines[1] and "[redacted private key]" in lines[1]


def test_json_carries_the_request_id(restore_logging: None) -> None:
    stream = io.StringIO()
    configure(Settings(log_format="json", log_level="DEBUG"), stream=stream)
    token = request_id_var.set("Ev0JSON01")
    try:
        logging.getLogger("certops.test").debug("inside a request")
    finally:
        request_id_var.reset(token)
    logging.getLogger("certops.test").debug("outside")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["request_id"] == "Ev0JSON01" and first["level"] == "DEBUG"
    assert first["message"] == "inside a request"
    assert second["request_id"] == "-"


def test_every_line_of_a_slack_request_carries_its_id(
    sqlite_url: str, restore_logging: None
) -> None:
    stream = io.StringIO()
    with slack_harness(sqlite_url) as slack:
        configure(
            dataclasses.replace(slack.settings, log_format="json"),
            stream=stream,
            level=logging.DEBUG,
        )
        marker = logging.getLogger("certops.test")
        marker.info("begin")
        slack.event(
            {"type": "app_home_opened", "user": ADMIN, "tab": "home", "channel": "D1"},
            event_id="Ev0LOGTEST1",
        )
        marker.info("end")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    start = next(i for i, line in enumerate(lines) if line["message"] == "begin")
    stop = next(i for i, line in enumerate(lines) if line["message"] == "end")
    during = [
        line
        for line in lines[start + 1 : stop]
        if line["logger"].startswith(("certops", "slack_bolt", "slack_sdk", "handlers", "bot"))
    ]
    assert len(during) >= 3, during  # Bolt and slack_sdk log at DEBUG: there is something to check
    assert {line["request_id"] for line in during} == {"Ev0LOGTEST1"}


def test_a_request_without_a_slack_id_gets_one_id_for_all_its_lines(
    sqlite_url: str, restore_logging: None
) -> None:
    stream = io.StringIO()
    with slack_harness(sqlite_url) as slack:
        settings = dataclasses.replace(slack.settings, log_format="json")
        configure(settings, stream=stream, level=logging.DEBUG)
        marker = logging.getLogger("certops.test")
        marker.info("begin")
        payload = {  # as Slack sends view_closed and some others: no trigger_id
            "type": "block_actions",
            "trigger_id": "",
            "user": {"id": ADMIN},
            "actions": [{"type": "button", "action_id": "home_refresh", "value": ""}],
        }
        assert interact(slack, payload).sent.status == 200
        marker.info("end")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    start = next(i for i, line in enumerate(lines) if line["message"] == "begin")
    stop = next(i for i, line in enumerate(lines) if line["message"] == "end")
    ids = {
        line["request_id"]
        for line in lines[start + 1 : stop]
        if line["logger"].startswith(("certops", "slack_bolt", "slack_sdk"))
    }
    assert len(ids) == 1 and next(iter(ids)).startswith("req-"), ids


# --- the full run --------------------------------------------------------------------------
def run_cli(*args: str) -> int:
    with redirect_stdout(io.StringIO()):
        return certops(list(args))


def cli_flows(
    pki: PkiSet, uploads: UploadSet, tmp_path: Path, dns: DnsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every CLI flow: validate, submit (encrypted key, PFX), env, assign, ticket, renew."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    files = tmp_path / "files"
    files.mkdir()
    (files / "chain.pem").write_bytes(pki.shop.pem + pki.intermediate.issued.pem)
    (files / "key.pem").write_bytes(key_pem(pki.shop.key, KEY_PASSWORD.encode()))
    (files / "key-password").write_text(KEY_PASSWORD)
    (files / "shop.pfx").write_bytes(uploads.pfx)
    (files / "pfx-password").write_text(PFX_PASSWORD)
    (files / "renewal.pem").write_bytes(pki.shop_renewal.pem + pki.intermediate.issued.pem)
    (files / "wild.pem").write_bytes(pki.wildcard.pem + pki.intermediate.issued.pem)
    (files / "wild-key.pem").write_bytes(pki.wildcard.key_pem())
    (files / "roots.pem").write_bytes(pki.root.issued.pem)
    chain, key, pw = str(files / "chain.pem"), str(files / "key.pem"), str(files / "key-password")
    roots = ["--trust-store", str(files / "roots.pem")]
    dns_flags = ["--nameserver", dns.nameserver, "--cname-confirmed"]
    assert run_cli("validate", chain, key, "--password-file", pw, *roots) == 0
    assert run_cli("db", "upgrade") == 0
    assert (
        run_cli("cert", "submit", "--name", "shop", "--password-file", pw, *roots, chain, key) == 0
    )
    pfx = ["--password-file", str(files / "pfx-password"), str(files / "shop.pfx")]
    assert run_cli("cert", "submit", "--name", "shop-pfx", *roots, *pfx) == 0
    wild = [str(files / "wild.pem"), str(files / "wild-key.pem")]
    assert run_cli("cert", "submit", "--name", "wild", *roots, *wild) == 0
    assert run_cli("env", "add", "dev", "--host", ENV_HOST) == 0
    assert run_cli("env", "add", "lt", "--host", LT_HOST, "--lifetime") == 0
    assert run_cli("assign", "shop", "dev", "shop.example.com", *dns_flags) == 0
    assert run_cli("ticket", "open", "wild", "lt.example.com") == 0
    renewal = [str(files / "renewal.pem"), key]
    assert (
        run_cli(
            "cert",
            "submit",
            "--name",
            "shop-2",
            "--renews",
            "shop",
            "--password-file",
            pw,
            *roots,
            *renewal,
        )
        == 0
    )
    assert run_cli("cert", "renew", "shop-2", *dns_flags) == 0


def slack_flows(slack: SlackHarness, pki: PkiSet, uploads: UploadSet) -> None:
    """Every Slack flow: a PEM set, a PFX and a PEM set with an encrypted key dropped in a DM
    (passwords through the modal), saved; assign; a LifeTime ticket; a renewal, all as
    signed requests."""
    cert = slack.api.add_file("fullchain.pem", uploads.cert_pem)
    key = slack.api.add_file("privkey.pem", uploads.key_pem, "text/plain")
    checked = send_files(slack, cert, key, user=ADMIN)
    save = button_in(checked.of("chat.update")[0].blocks, UploadId.SAVE)
    modal = opened_view(click(slack, UploadId.SAVE, save["value"], ADMIN))
    submit_view(slack, modal, {"name": text_value("shop")}, user=ADMIN)
    pfx = slack.api.add_file("shop.pfx", uploads.pfx)
    locked = send_files(slack, pfx, user=ADMIN)
    button = button_in(locked.of("chat.update")[0].blocks, UploadId.PASSWORD)
    pw_modal = opened_view(click(slack, UploadId.PASSWORD, button["value"], ADMIN))
    unlocked = submit_view(slack, pw_modal, {"password": text_value(PFX_PASSWORD)}, user=ADMIN)
    save = button_in(unlocked.of("chat.update")[0].blocks, UploadId.SAVE)
    save_modal = opened_view(click(slack, UploadId.SAVE, save["value"], ADMIN))
    submit_view(
        slack,
        save_modal,
        {"name": text_value("pfx"), "password": text_value(PFX_PASSWORD)},
        user=ADMIN,
    )
    chain = slack.api.add_file("chain.pem", uploads.cert_pem)
    locked_key = slack.api.add_file("key.pem", key_pem(pki.shop.key, KEY_PASSWORD.encode()))
    asked = send_files(slack, chain, locked_key, user=ADMIN)
    button = button_in(asked.of("chat.update")[0].blocks, UploadId.PASSWORD)
    key_modal = opened_view(click(slack, UploadId.PASSWORD, button["value"], ADMIN))
    opened = submit_view(slack, key_modal, {"password": text_value(KEY_PASSWORD)}, user=ADMIN)
    save = button_in(opened.of("chat.update")[0].blocks, UploadId.SAVE)
    save_modal = opened_view(click(slack, UploadId.SAVE, save["value"], ADMIN))
    saved = submit_view(
        slack,
        save_modal,
        {"name": text_value("shop-locked"), "password": text_value(KEY_PASSWORD)},
        user=ADMIN,
    )
    assert "Saved *shop-locked*" in saved.all_text
    ctx = slack.deps.services
    add_env(ctx)
    add_env(ctx, "lt", LT_HOST, lifetime=True)
    prompt = slack.command("assign shop dev shop.example.com", ADMIN)
    done = slack.click_button_in(prompt.responses[0], "assign_confirm", ADMIN)
    assert "assigned *shop* to *dev*" in done.texts("chat.postMessage")[-1]
    submit(ctx, pki, "wild", pki.wildcard)
    assert "#1" in slack.command("ticket open wild lt.example.com", ADMIN).texts()[0]
    submit(ctx, pki, "shop-2027", pki.shop_renewal, renews="shop")
    offer = slack.command("renew shop-2027", ADMIN)
    renewed = slack.click_button_in(offer.responses[0], AssignId.RENEW_CONFIRM, ADMIN)
    assert "renewed *shop* with *shop-2027*" in renewed.texts("chat.postMessage")[-1]


def test_no_secret_in_the_logs_of_every_flow_at_debug(
    pki: PkiSet,
    uploads: UploadSet,
    dns_server: DnsServer,
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    restore_logging: None,
) -> None:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)
    monkeypatch.chdir(tmp_path)
    with slack_harness(
        sqlite_url, nameservers=[dns_server.address], extra_roots=[pki.root.cert]
    ) as slack:
        settings = dataclasses.replace(slack.settings, slack_app_token="xapp-1-A0LOGS-123-abcdef")
        configure(settings, stream=stream, level=logging.DEBUG)
        cli_flows(pki, uploads, tmp_path, dns_server, monkeypatch)
        configure(settings, stream=stream, level=logging.DEBUG)  # the CLI may reconfigure
        slack_flows(slack, pki, uploads)
    logged = raw.getvalue()

    # The scan can find things: the log is the DEBUG log of all of it.
    assert b"shop-2027" in logged and b"DEBUG" in logged
    assert b"slack_bolt" in logged and b"slack_sdk" in logged
    assert logged.count(b"\n") > 100

    key_lines = redaction.secrets_of(
        [InputFile("k", uploads.key_pem), InputFile("w", pki.wildcard.key_pem())], Passwords()
    )
    encrypted = key_pem(pki.shop.key, KEY_PASSWORD.encode()).decode()
    cert_lines = [line for line in uploads.cert_pem.decode().splitlines() if len(line) == 64]
    secrets = {
        "PEM private key armor": "PRIVATE KEY-----",
        "key password": KEY_PASSWORD,
        "PFX password": PFX_PASSWORD,
        "bot token": BOT_TOKEN,
        "app token": "xapp-1-A0LOGS-123-abcdef",
        "signing secret": SIGNING_SECRET,
        **{f"key line {i}": line for i, line in enumerate(key_lines)},
        **{f"encrypted key line {i}": line for i, line in enumerate(encrypted.splitlines()[1:-1])},
        **{f"certificate line {i}": line for i, line in enumerate(cert_lines)},
    }
    assert len(key_lines) > 20 and len(cert_lines) > 20
    leaked = [what for what, secret in secrets.items() if secret.encode() in logged]
    assert leaked == [], leaked
