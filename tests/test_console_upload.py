"""Console mode: `/upload` drops local files in the DM through the real intake (grouping
window, download from the stand-in, verdict, password button); `/as` and `/admin` change
who is acting. Driven through `ConsoleSession.handle_line` and the line loop."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from bot.console.local_files import MAX_FILE_BYTES
from bot.console.session import ConsoleSession, loop, open_session
from bot.services import certificates
from bot.services.context import ServiceContext
from bot.settings import Settings
from storage.db import Database
from tests.support.openssl_pki import OpenSSLPKI
from tests.support.slack_fixtures import PkiSet, make_pki

ME = "U0ME"
BOSS = "UBOSS"


@pytest.fixture(scope="module")
def pki() -> PkiSet:
    return make_pki()


@contextmanager
def console(
    url: str, roots: list[x509.Certificate], window: float = 0.2, **settings: Any
) -> Iterator[ConsoleSession]:
    """A console as user U0ME; the test CA trusted as CERTOPS_TRUST_STORE would make it."""
    config = Settings(database_url=url, upload_window_seconds=window, **settings)
    database = Database(url)
    services = ServiceContext(database=database, extra_roots=roots)
    try:
        with open_session(config, user_id=ME, services=services) as session:
            yield session
    finally:
        database.dispose()


def button_number(text: str, label: str) -> int:
    found = re.findall(rf"(\d+)\) {re.escape(label)}(?:  |\s*\(type)", text)
    assert found, f"no button {label!r} in:\n{text}"
    return int(found[-1])


def everything_sent(session: ConsoleSession) -> str:
    return json.dumps([call.params for call in session.api.calls()])


def test_upload_a_pem_set_gets_the_verdict(sqlite_url: str, pki: PkiSet, tmp_path: Path) -> None:
    folder = tmp_path / "my certs"
    folder.mkdir()
    (folder / "shop cert.pem").write_bytes(pki.shop.pem + pki.intermediate.issued.pem)
    (folder / "shop.key").write_bytes(pki.shop.key_pem())
    with console(sqlite_url, [pki.root.cert]) as session:
        out = session.handle_line(f'/upload "{folder}/shop cert.pem" "{folder}"/*.key')
        shared = session.api.hosted()
        sent = everything_sent(session)
    assert out is not None
    assert out.startswith("[you, in the DM] shop cert.pem, shop.key")
    assert "[DM, message updated]" in out and "*Valid*: this certificate can be uploaded" in out
    assert "Checking your files" not in out  # the working message is replaced by the verdict
    assert "Buttons: 1) Save  2) Assign  (type /click N)" in out
    assert [f["name"] for f in shared] == ["shop cert.pem", "shop.key"]
    assert "PRIVATE KEY" not in sent  # the key never reaches a channel


def test_upload_an_encrypted_pfx_asks_for_the_password_by_button(
    sqlite_url: str, openssl_pki: OpenSSLPKI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every record, so none can hold the password
    root = x509.load_pem_x509_certificate(openssl_pki.root_pem)
    password = openssl_pki.password.decode()
    with console(sqlite_url, [root]) as session:
        out = session.handle_line(f"/upload {openssl_pki.path('modern.pfx')}")
        assert out is not None and "Enter the password" in out
        form = session.handle_line(f"/click {button_number(out, 'Enter the password')}")
        assert form is not None and "[form: " in form and "Password of the key or PFX" in form
        again = session.handle_line(password)  # the form's only field: then submitted
        assert again is not None
        sent = everything_sent(session)
    assert "*Valid*" in again and "Save" in again and "Enter the password" not in again
    assert again.startswith("[DM, message updated]")  # the look-up (files.info) is not shown
    assert password not in sent  # never in a message, a channel or the stand-in's record
    assert caplog.records and all(password not in r.getMessage() for r in caplog.records)
    assert password.encode() not in Path(sqlite_url.removeprefix("sqlite:///")).read_bytes()


def test_a_file_the_stand_in_no_longer_serves_is_one_clear_line(
    sqlite_url: str, pki: PkiSet, tmp_path: Path
) -> None:
    """Deleted within the grouping window: the download gets Slack's 404."""
    path = tmp_path / "cert.pem"
    path.write_bytes(pki.shop.pem)
    with console(sqlite_url, [pki.root.cert], window=1.0) as session, ThreadPoolExecutor(1) as pool:
        since = session.api.mark()
        answer = pool.submit(session.handle_line, f"/upload {path}")
        session.api.wait_for("chat.postMessage", since=since)  # "Checking your files…"
        for info in session.api.hosted():
            assert session.api.remove_file(info["id"])
        out = answer.result(timeout=30)
    assert out is not None and "cert.pem is gone from Slack" in out
    assert "Traceback" not in out and "went wrong" not in out


def test_bad_uploads_and_commands_are_one_line_and_send_nothing(
    sqlite_url: str, pki: PkiSet, tmp_path: Path
) -> None:
    good = tmp_path / "cert.pem"
    good.write_bytes(pki.shop.pem)
    big = tmp_path / "big.pem"
    with big.open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)
    many = tmp_path / "many"
    many.mkdir()
    for index in range(11):
        (many / f"c{index}.pem").write_bytes(pki.shop.pem)
    lines = {
        "/upload": "Name at least one file",
        f"/upload {good} {tmp_path}/missing.pem": "missing.pem' does not exist",
        f"/upload {tmp_path}": "is a directory",
        f"/upload {big}": "is larger than 10 MiB",
        f"/upload {many}/*.pem": "11 files: at most 10",
        f"/upload {tmp_path}/*.der": "no file matches",
        '/upload "unbalanced': "Could not read the paths",
        "/frobnicate now": "/frobnicate is not a console command. Try one of: /cert",
        "/as not a user": "Type /as USER",
        "/admin maybe": "Type /admin on or /admin off",
    }
    with console(sqlite_url, [pki.root.cert]) as session:
        mark = session.api.mark()
        answers = {line: session.handle_line(line) for line in lines}
        assert session.api.calls(since=mark) == [] and session.api.hosted() == []
        assert session.user_id == ME and not session.is_admin
    for line, expected in lines.items():
        answer = answers[line]
        assert answer is not None and expected in answer, (line, answer)
        assert "\n" not in answer and "Traceback" not in answer
    assert answers["/upload"].startswith("Nothing sent.")
    assert "/upload /as /admin /time /samples /dns /quit" in answers["/frobnicate now"]


def test_a_non_admin_submits_for_manual_approval_and_an_admin_approves(
    sqlite_url: str, pki: PkiSet, tmp_path: Path
) -> None:
    """One console session, two people: /as and /admin change who acts."""
    (tmp_path / "leaf.pem").write_bytes(pki.shop.pem)  # no intermediate: invalid
    (tmp_path / "key.pem").write_bytes(pki.shop.key_pem())
    with console(sqlite_url, [pki.root.cert], admins=(BOSS,)) as session:
        verdict = session.handle_line(f"/upload {tmp_path}/leaf.pem {tmp_path}/key.pem")
        assert verdict is not None and "*Invalid*" in verdict and "chain_incomplete" in verdict
        manual = button_number(verdict, "Submit for manual validation")
        form = session.handle_line(f"/click {manual}")
        assert form is not None and "[form: Manual validation]" in form
        session.handle_line("shop")  # Certificate name
        saved = session.handle_line("shop.example.com")  # Domain: then submitted
        assert saved is not None
        assert "waiting for manual validation by an admin" in saved
        script = "\n".join(
            [
                "/cert approve shop",  # as U0ME: refused
                f"/as {BOSS.lower()}",
                "/cert approve shop",
                f"/as {ME}",
                "/admin on",
                "/cert env add dev acme-dev.outsystemsenterprise.com",
                "/admin off",
                "/cert env add qa acme-qa.outsystemsenterprise.com",
            ]
        )
        out = io.StringIO()
        assert loop(session, io.StringIO(script + "\n"), out, prompt=True) == 0
        approved = certificates.show_certificate(session.deps.services, "shop")
        notices = [
            c for c in session.api.calls("chat.postMessage") if c.params["channel"] == "D0ME"
        ]
    text = out.getvalue()
    assert "Sorry, `/cert approve` is for admins only. Please ask one of them: @UBOSS" in text
    assert "You are now UBOSS (an admin)." in text and "UBOSS (admin)> " in text
    assert "approved certificate *shop*" in text
    assert "Your certificate *shop* was approved" in notices[-1].params["text"]
    assert approved.status == "approved"
    assert "You are now U0ME (an admin)." in text and "Environment *dev* recorded" in text
    assert "You are now U0ME (not an admin)." in text
    assert "Environment *qa* recorded" not in text and "U0ME> " in text
