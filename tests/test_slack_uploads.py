"""Files dropped in a DM, end to end: signed events to the app in HTTP mode, real files
served by the stand-in over loopback, the real pipeline and services on a SQLite file."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy
from cryptography import x509

from bot import settings as settings_module
from bot.pipeline.material import InputFile, Passwords
from bot.services import certificates, redaction
from handlers.common.ids import AssignId, UploadId
from handlers.uploads import intake as uploads
from tests.support.openssl_pki import OpenSSLPKI, session_pki
from tests.support.slack_fixtures import PkiSet, make_pki
from tests.support.slack_harness import SlackHarness, slack_harness
from tests.support.slack_upload_fixtures import (
    PFX_PASSWORD,
    ZIP_PASSWORD,
    UploadSet,
    button_in,
    click,
    file_share_event,
    last_update,
    make_uploads,
    opened_view,
    recording_server,
    send_files,
    submit_view,
    text_value,
)


@pytest.fixture(scope="module")
def pki() -> PkiSet:
    return make_pki()


@pytest.fixture(scope="module")
def files(pki: PkiSet) -> UploadSet:
    return make_uploads(pki)


@pytest.fixture(scope="session")
def openssl(tmp_path_factory: pytest.TempPathFactory) -> OpenSSLPKI:
    return session_pki(tmp_path_factory)


@pytest.fixture
def slack(sqlite_url: str, pki: PkiSet, openssl: OpenSSLPKI) -> Iterator[SlackHarness]:
    roots = [pki.root.cert, x509.load_pem_x509_certificate(openssl.root_pem)]
    with slack_harness(sqlite_url, extra_roots=roots) as harness:
        yield harness


def test_a_pem_set_in_one_message_is_checked_and_can_be_saved(
    slack: SlackHarness, files: UploadSet
) -> None:
    cert = slack.api.add_file("fullchain.pem", files.cert_pem)
    key = slack.api.add_file("privkey.pem", files.key_pem)
    ex = send_files(slack, cert, key)
    assert ex.sent.status == 200
    (working,) = ex.of("chat.postMessage")
    assert "Checking `fullchain.pem`, `privkey.pem`" in ex.texts("chat.postMessage")[0]
    (update,) = ex.of("chat.update")
    assert update.params["ts"] == working.params.get("ts") or update.params["ts"]
    text = last_update(ex)
    assert "*Valid*" in text and "shop.example.com, www.example.com" in text
    assert "days left" in text and "delete that message" in text.lower()
    save = button_in(update.blocks, UploadId.SAVE)
    assert json.loads(save["value"])["files"] == [cert["id"], key["id"]]
    assert UploadId.MANUAL not in json.dumps(update.blocks)  # only when invalid
    assign = button_in(update.blocks, AssignId.OPEN)
    refused = click(slack, AssignId.OPEN, assign["value"])  # not an admin
    assert "for admins only" in refused.texts("chat.postMessage")[0]
    # A verdict posted before the rename carries `upload_assign`: its click still answers.
    earlier = click(slack, "upload_assign", assign["value"])
    assert "for admins only" in earlier.texts("chat.postMessage")[0]

    modal = opened_view(click(slack, UploadId.SAVE, save["value"]))
    assert modal["callback_id"] == UploadId.SAVE_MODAL
    assert "shop.example.com-20" in json.dumps(modal["blocks"])  # name prefilled
    saved = submit_view(
        slack, modal, {"name": text_value("shop"), "domain": text_value("shop.example.com")}
    )
    assert saved.ack_json["response_action"] == "update"
    assert "Saved *shop*" in saved.all_text and "validated" in saved.all_text
    assert certificates.show_certificate(slack.deps.services, "shop").status == "validated"
    again = submit_view(slack, modal, {"name": text_value("shop"), "domain": text_value("")})
    assert again.ack_json["response_action"] == "errors"
    assert "already taken" in again.ack_json["errors"]["name"]


def test_files_over_several_messages_form_one_submission(
    sqlite_url: str, pki: PkiSet, files: UploadSet
) -> None:
    with slack_harness(sqlite_url, extra_roots=[pki.root.cert], upload_window_seconds=1.0) as h:
        several_messages(h, files)


def several_messages(slack: SlackHarness, files: UploadSet) -> None:
    since = slack.api.mark()
    cert = slack.api.add_file("cert.pem", files.cert_pem)
    key = slack.api.add_file("key.pem", files.key_pem)
    slack.sender.event(file_share_event([cert]))  # the second arrives inside the window
    slack.sender.event(file_share_event([key]))
    slack.settle()
    calls = slack.api.calls(since=since)
    updates = [c for c in calls if c.method == "chat.update"]
    assert len(updates) == 1 and len([c for c in calls if c.method == "chat.postMessage"]) == 1
    assert "*Valid*" in json.dumps(updates[0].blocks)


def test_a_retried_event_and_a_file_seen_before_are_answered_once(
    slack: SlackHarness, files: UploadSet
) -> None:
    cert = slack.api.add_file("cert.pem", files.cert_pem)
    event = file_share_event([cert])
    first = slack.event(event, event_id="Ev0UPLOAD1")
    retry = slack.event(event, event_id="Ev0UPLOAD1", retry_num=1)
    other_id = slack.event(event, event_id="Ev0UPLOAD2")  # same file, another envelope
    assert len(first.of("chat.update")) == 1
    assert retry.sent.status == 200 and retry.calls == []
    assert other_id.sent.status == 200 and other_id.calls == []
    shared_again = slack.event({**event, "ts": "1700000099.000100"})  # a new message
    assert len(shared_again.of("chat.update")) == 1


def test_a_pfx_with_its_password_given_in_the_modal(
    slack: SlackHarness, files: UploadSet, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    pfx = slack.api.add_file("shop.pfx", files.pfx)
    ex = send_files(slack, pfx)
    text = last_update(ex)
    assert "password_required" in text and "Enter the password" in text
    assert "never type a password in a message" in text
    button = button_in(ex.of("chat.update")[0].blocks, UploadId.PASSWORD)
    assert json.loads(button["value"]) == {
        "files": [pfx["id"]],
        "zip": False,
        "pw": True,
        "needs": ["key"],
    }

    typed = slack.dm(PFX_PASSWORD)  # the person types it anyway
    assert "That looks like a password" in typed.texts("chat.postMessage")[0]

    modal = opened_view(click(slack, UploadId.PASSWORD, button["value"]))
    assert modal["callback_id"] == UploadId.PASSWORD_MODAL
    assert json.loads(modal["private_metadata"])["files"] == [pfx["id"]]
    empty = submit_view(slack, modal, {"password": text_value("")})
    assert empty.ack_json["response_action"] == "errors"
    wrong = submit_view(slack, modal, {"password": text_value("not-it")})
    assert "wrong_password" in last_update(wrong)
    right = submit_view(slack, modal, {"password": text_value(PFX_PASSWORD)})
    assert right.sent.body == ""  # the modal closes
    done = last_update(right)
    assert "*Valid*" in done and "shop.example.com" in done
    save = button_in(right.of("chat.update")[0].blocks, UploadId.SAVE)
    assert json.loads(save["value"])["pw"] is True  # the save step asks for it again
    save_modal = opened_view(click(slack, UploadId.SAVE, save["value"]))
    assert '"block_id": "password"' in json.dumps(save_modal["blocks"])
    bad = submit_view(
        slack, save_modal, {"name": text_value("pfx"), "password": text_value("nope")}
    )
    assert bad.ack_json["errors"] == {"password": "This password does not open the files."}
    ok = submit_view(
        slack, save_modal, {"name": text_value("pfx"), "password": text_value(PFX_PASSWORD)}
    )
    assert "Saved *pfx*" in ok.all_text
    assert certificates.show_certificate(slack.deps.services, "pfx").submitted_format == "pfx"
    assert PFX_PASSWORD not in caplog.text


def test_a_zip_with_an_aes_password(slack: SlackHarness, files: UploadSet) -> None:
    archive = slack.api.add_file("bundle.zip", files.zip_aes)
    ex = send_files(slack, archive)
    button = button_in(ex.of("chat.update")[0].blocks, UploadId.PASSWORD)
    assert json.loads(button["value"])["zip"] is True
    modal = opened_view(click(slack, UploadId.PASSWORD, button["value"]))
    assert '"block_id": "zip_password"' in json.dumps(modal["blocks"])
    right = submit_view(slack, modal, {"zip_password": text_value(ZIP_PASSWORD)})
    text = last_update(right)
    assert "*Valid*" in text and "delete that message" in text.lower()
    save = button_in(right.of("chat.update")[0].blocks, UploadId.SAVE)
    save_modal = opened_view(click(slack, UploadId.SAVE, save["value"]))
    wrong = submit_view(
        slack, save_modal, {"name": text_value("zip"), "zip_password": text_value("nope-nope")}
    )
    assert list(wrong.ack_json["errors"]) == ["zip_password"]


def test_an_invalid_set_offers_manual_validation(slack: SlackHarness, files: UploadSet) -> None:
    leaf = slack.api.add_file("leaf.pem", files.leaf_pem)  # no chain
    key = slack.api.add_file("key.pem", files.key_pem)
    ex = send_files(slack, leaf, key)
    text = last_update(ex)
    assert "*Invalid*" in text and "chain_incomplete" in text
    blocks = ex.of("chat.update")[0].blocks
    assert UploadId.SAVE not in json.dumps(blocks)
    manual = button_in(blocks, UploadId.MANUAL)
    modal = opened_view(click(slack, UploadId.MANUAL, manual["value"]))
    assert "an admin will review it" in json.dumps(modal["blocks"])
    saved = submit_view(slack, modal, {"name": text_value("leaf-only")})
    assert "waiting for manual validation" in saved.all_text
    view = certificates.show_certificate(slack.deps.services, "leaf-only")
    assert view.status == "pending_manual"


def test_garbage_is_reported_and_nothing_is_offered_to_save(slack: SlackHarness) -> None:
    junk = slack.api.add_file("notes.txt", b"hello, this is not a certificate\n" * 3)
    ex = send_files(slack, junk)
    text = last_update(ex)
    assert "*Invalid*" in text and "unrecognized_file" in text
    assert "delete that message" not in text.lower()  # no key, no reminder
    blocks = json.dumps(ex.of("chat.update")[0].blocks)
    assert UploadId.SAVE not in blocks and UploadId.MANUAL not in blocks
    assert "Traceback" not in ex.all_text


def test_a_file_object_without_urls_is_looked_up(slack: SlackHarness, files: UploadSet) -> None:
    cert = slack.api.add_file("cert.pem", files.cert_pem)
    key = slack.api.add_file("key.pem", files.key_pem)
    ex = send_files(slack, {"id": cert["id"], "file_access": "check_file_info"}, {"id": key["id"]})
    assert [c.params["file"] for c in ex.of("files.info")] == [cert["id"], key["id"]]
    assert "*Valid*" in last_update(ex)


def test_download_problems_end_in_a_clear_message(slack: SlackHarness, files: UploadSet) -> None:
    outside = dict(slack.api.add_file("cert.pem", files.cert_pem))
    outside["url_private_download"] = "https://files.evil.example.net/files-pri/cert.pem"
    outside["id"] = "F0OUTSIDE"
    assert "not one of Slack's file hosts" in last_update(send_files(slack, outside))

    with recording_server() as (url, seen):
        redirected = slack.api.add_redirect("cert.pem", url + "/steal")
        text = last_update(send_files(slack, redirected))
    assert "not one of Slack's file hosts" in text
    assert seen.requests == [] and seen.authorization_headers == []

    big = slack.api.add_file("huge.pem", b"A" * (10 * 1024 * 1024 + 1))
    assert "larger than 10 MB" in last_update(send_files(slack, big))
    lying = dict(slack.api.add_file("small.pem", b"B" * (10 * 1024 * 1024 + 1)))
    lying["size"] = 120  # the event says small; the download stops at the cap anyway
    assert "larger than 10 MB" in last_update(send_files(slack, lying))

    slack.api.files_scope_missing = True
    login = last_update(send_files(slack, slack.api.add_file("c.pem", files.cert_pem)))
    assert "files:read" in login and "sign-in page" in login
    slack.api.files_scope_missing = False

    gone = send_files(slack, {"id": "F0MISSING"})
    assert "could not find file F0MISSING" in last_update(gone)


def test_a_password_in_a_message_is_not_kept_and_the_bot_says_so(
    slack: SlackHarness, files: UploadSet
) -> None:
    said = slack.dm("the password is Hunter-2-Secret")
    assert "That looks like a password" in said.texts("chat.postMessage")[0]
    cert = slack.api.add_file("cert.pem", files.cert_pem)
    with_text = send_files(slack, cert, text="pwd: Hunter-2-Secret")
    assert "That looks like a password" in with_text.all_text
    plain = slack.dm("hello")  # not awaiting a password: the usual hint
    assert "Send me certificate files here" in plain.texts("chat.postMessage")[0]
    locked = send_files(slack, slack.api.add_file("shop.pfx", files.pfx))
    assert "Enter the password" in last_update(locked)
    word = slack.dm("alright")  # a lone word, but no password-like mix
    assert "Send me certificate files here" in word.texts("chat.postMessage")[0]
    typed = slack.dm("S3cret-Pfx")
    assert "That looks like a password" in typed.texts("chat.postMessage")[0]


def database_text(url: str) -> bytes:
    """Every row of every table, as text; for a SQLite file also its raw bytes (and WAL)."""
    engine = sqlalchemy.create_engine(url)
    try:
        metadata = sqlalchemy.MetaData()
        metadata.reflect(engine)
        with engine.connect() as connection:
            rows = [
                repr(row)
                for table in metadata.sorted_tables
                for row in connection.execute(table.select())
            ]
    finally:
        engine.dispose()
    text = "\n".join(rows).encode()
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        text += b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    return text


def test_no_key_or_password_reaches_the_database_the_logs_or_slack(
    database_url: str, pki: PkiSet, files: UploadSet, caplog: pytest.LogCaptureFixture
) -> None:
    with slack_harness(database_url, extra_roots=[pki.root.cert]) as slack:
        flows_with_secrets(slack, files, caplog)
        everything_sent = json.dumps([c.params for c in slack.api.calls()])
    known = redaction.secrets_of(
        [InputFile("k", files.key_pem)], Passwords(key=PFX_PASSWORD.encode())
    )
    secrets = [*known, "Typed-Secret-991", "PRIVATE KEY-----"]
    database = database_text(database_url)
    assert b"pfx-set" in database and b"pem-set" in database  # the scan finds what is there
    for secret in secrets:
        assert secret.encode() not in database, secret[:12]
        assert secret not in caplog.text, secret[:12]
        assert secret not in everything_sent, secret[:12]


def flows_with_secrets(
    slack: SlackHarness, files: UploadSet, caplog: pytest.LogCaptureFixture
) -> None:
    """A PEM set with a key, a password typed in the message, a PFX opened and saved."""
    caplog.set_level(logging.DEBUG)
    cert = slack.api.add_file("fullchain.pem", files.cert_pem)
    key = slack.api.add_file("privkey.pem", files.key_pem, "text/plain")
    ex = send_files(slack, cert, key, text="password: Typed-Secret-991")
    save = button_in(ex.of("chat.update")[0].blocks, UploadId.SAVE)
    modal = opened_view(click(slack, UploadId.SAVE, save["value"]))
    submit_view(slack, modal, {"name": text_value("pem-set")})
    pfx = slack.api.add_file("shop.pfx", files.pfx)
    locked = send_files(slack, pfx)
    button = button_in(locked.of("chat.update")[0].blocks, UploadId.PASSWORD)
    pw_modal = opened_view(click(slack, UploadId.PASSWORD, button["value"]))
    unlocked = submit_view(slack, pw_modal, {"password": text_value(PFX_PASSWORD)})
    save = button_in(unlocked.of("chat.update")[0].blocks, UploadId.SAVE)
    save_modal = opened_view(click(slack, UploadId.SAVE, save["value"]))
    submit_view(
        slack, save_modal, {"name": text_value("pfx-set"), "password": text_value(PFX_PASSWORD)}
    )
    assert certificates.show_certificate(slack.deps.services, "pfx-set").status == "validated"


@pytest.mark.parametrize("pfx", ["legacy.pfx", "modern.pfx"])
def test_openssl_made_pfx_with_a_password_that_has_spaces(
    slack: SlackHarness, openssl: OpenSSLPKI, pfx: str
) -> None:
    ex = send_files(slack, slack.api.add_file(pfx, openssl.read(pfx)))
    button = button_in(ex.of("chat.update")[0].blocks, UploadId.PASSWORD)
    modal = opened_view(click(slack, UploadId.PASSWORD, button["value"]))
    password = openssl.password.decode()  # "correct horse 42": spaces are kept
    text = last_update(submit_view(slack, modal, {"password": text_value(password)}))
    assert "*Valid*" in text and "app.example.com, www.example.com" in text


def test_openssl_pem_files_der_leaf_and_an_encrypted_traditional_key(
    slack: SlackHarness, openssl: OpenSSLPKI
) -> None:
    leaf = slack.api.add_file("leaf.der", openssl.read("leaf.der"))
    chain = slack.api.add_file("chain.p7b", openssl.read("chain.p7b"))
    key = slack.api.add_file("leaf.key", openssl.read("leaf.enc-trad.pem"))
    ex = send_files(slack, leaf, chain, key)
    button = button_in(ex.of("chat.update")[0].blocks, UploadId.PASSWORD)
    assert json.loads(button["value"])["files"] == [leaf["id"], chain["id"], key["id"]]
    modal = opened_view(click(slack, UploadId.PASSWORD, button["value"]))
    password = openssl.password.decode()
    done = submit_view(slack, modal, {"password": text_value(password)})
    text = last_update(done)
    assert "*Valid*" in text and "delete that message" in text.lower()
    assert password not in json.dumps([c.params for c in slack.api.calls()])


def test_an_open_zip_holding_a_locked_key_asks_for_the_key_password(
    slack: SlackHarness, openssl: OpenSSLPKI, tmp_path: Path
) -> None:
    """The report says which password is missing (the key's): the modal puts that field
    first and answers an empty submit on it, not on the ZIP password."""
    import subprocess

    names = ("leaf.pem", "chain.pem", "leaf.enc-trad.pem")
    paths = [str(tmp_path / name) for name in names]
    for name, path in zip(names, paths, strict=True):
        Path(path).write_bytes(openssl.read(name))
    archive = tmp_path / "bundle.zip"
    subprocess.run(["zip", "-j", "-q", str(archive), *paths], check=True, timeout=30)
    shared = slack.api.add_file("bundle.zip", archive.read_bytes())
    ex = send_files(slack, shared)
    button = button_in(ex.of("chat.update")[0].blocks, UploadId.PASSWORD)
    assert json.loads(button["value"])["needs"] == ["key"]
    modal = opened_view(click(slack, UploadId.PASSWORD, button["value"]))
    ids = [block.get("block_id") for block in modal["blocks"] if block["type"] == "input"]
    assert ids == ["password", "zip_password"]
    empty = submit_view(slack, modal, {"password": text_value(""), "zip_password": text_value("")})
    assert list(empty.ack_json["errors"]) == ["password"]
    done = submit_view(slack, modal, {"password": text_value(openssl.password.decode())})
    assert "*Valid*" in last_update(done)


def test_an_unexpected_failure_still_ends_the_working_message(
    slack: SlackHarness, files: UploadSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(uploads, "check_upload", broken)
    ex = send_files(slack, slack.api.add_file("cert.pem", files.cert_pem))
    text = last_update(ex)
    assert "something went wrong while checking your files" in text and "Reference" in text
    assert "Nothing was changed" in text  # checking stores nothing: known true here
    assert "secret internal detail" not in ex.all_text
    monkeypatch.undo()
    again = send_files(slack, slack.api.add_file("cert2.pem", files.cert_pem))
    assert "no_private_key" in last_update(again)  # the next upload is checked as usual


def test_the_grouping_window_setting() -> None:
    assert settings_module.load({}, dotenv=False).upload_window_seconds == 3.0
    assert (
        settings_module.load(
            {"CERTOPS_UPLOAD_WINDOW_SECONDS": "0.5"}, dotenv=False
        ).upload_window_seconds
        == 0.5
    )
    assert (
        settings_module.load(
            {"CERTOPS_UPLOAD_WINDOW_SECONDS": "900"}, dotenv=False
        ).upload_window_seconds
        == 60.0
    )
    bad = settings_module.load({"CERTOPS_UPLOAD_WINDOW_SECONDS": "soon"}, dotenv=False)
    assert "CERTOPS_UPLOAD_WINDOW_SECONDS must be a number of seconds" in bad.problems()


def test_a_file_deleted_before_the_password_arrives_is_named(
    slack: SlackHarness, files: UploadSet
) -> None:
    pfx = slack.api.add_file("shop.pfx", files.pfx)
    button = button_in(send_files(slack, pfx).of("chat.update")[0].blocks, UploadId.PASSWORD)
    modal = opened_view(click(slack, UploadId.PASSWORD, button["value"]))
    del slack.api._state.files[pfx["id"]]  # the person deleted the upload meanwhile
    gone = submit_view(slack, modal, {"password": text_value(PFX_PASSWORD)})
    assert f"could not find file {pfx['id']}" in last_update(gone)


def test_too_many_files_at_once(slack: SlackHarness, files: UploadSet) -> None:
    many = [slack.api.add_file(f"c{i}.pem", files.cert_pem) for i in range(11)]
    text = last_update(send_files(slack, *many))
    assert "that is 11 files" in text and "Nothing was stored" in text


def test_a_name_with_slack_markup_is_refused_on_the_save_field(
    slack: SlackHarness, files: UploadSet
) -> None:
    """A certificate name follows the naming rule: `<!channel>` cannot be saved (names
    saved before the rule are shown escaped: tests/test_slack_markup.py)."""
    cert = slack.api.add_file("fullchain.pem", files.cert_pem)
    key = slack.api.add_file("privkey.pem", files.key_pem)
    update = send_files(slack, cert, key).of("chat.update")[-1]
    modal = opened_view(
        click(slack, UploadId.SAVE, button_in(update.blocks, UploadId.SAVE)["value"])
    )
    name = "<!channel> shop"
    refused = submit_view(slack, modal, {"name": text_value(name), "domain": text_value("")})
    assert "letters, digits" in refused.ack_json["errors"]["name"]
    assert not refused.calls  # refused before any download
    sent = "\n".join(_texts([json.loads(refused.sent.body)]))
    assert "<!channel>" not in sent
    assert certificates.list_certificates(slack.deps.services) == []


def _texts(value: object) -> list[str]:
    """Every `text` string in a message or view, as Slack would render it."""
    if isinstance(value, dict):
        found = [value["text"]] if isinstance(value.get("text"), str) else []
        return found + [t for v in value.values() for t in _texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    if isinstance(value, str) and value.startswith("["):  # blocks sent form-encoded
        try:
            return _texts(json.loads(value))
        except ValueError:
            return []
    return []


def test_a_saved_message_slack_refuses_is_no_error(slack: SlackHarness, files: UploadSet) -> None:
    """The modal already says Saved: a DM Slack refuses afterwards must not add
    'something went wrong ... Nothing was changed'."""
    cert = slack.api.add_file("fullchain.pem", files.cert_pem)
    key = slack.api.add_file("privkey.pem", files.key_pem)
    update = send_files(slack, cert, key).of("chat.update")[-1]
    modal = opened_view(
        click(slack, UploadId.SAVE, button_in(update.blocks, UploadId.SAVE)["value"])
    )
    slack.api.fail_next("chat.postMessage", error="channel_not_found")
    saved = submit_view(slack, modal, {"name": text_value("kept"), "domain": text_value("")})
    assert "Saved *kept*" in json.dumps(saved.ack_json)
    assert "went wrong" not in saved.all_text
    assert certificates.show_certificate(slack.deps.services, "kept").status == "validated"
    assert saved.of("views.publish")  # the Home is still brought up to date
