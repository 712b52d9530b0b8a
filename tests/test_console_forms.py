"""Console forms: the bot's modals filled in from the console, through the real session.

Each test types lines into the console loop (or a terminal) and the console sends what
Slack sends: `view_submission`, `block_actions` from a modal, `view_closed`. The payloads
are read back from the sender (a spy that records and passes them on unchanged) to check
they carry the view's id, hash and state as the stand-in and the handlers expect.
"""

from __future__ import annotations

import io
import json
import os
import pty
import shutil
import termios
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

from bot.console.prompts import read_answer
from bot.console.sender import Sent
from bot.console.session import ConsoleSession, loop, open_session
from bot.console.slack_api import Call
from bot.services import certificates, environments
from bot.services.context import ServiceContext
from bot.settings import Settings
from storage.db import Database
from tests.support.certops_run import EXE, run_environ
from tests.support.console_pty import console_on_terminal
from tests.support.dns_server import DnsServer
from tests.support.openssl_pki import OpenSSLPKI
from tests.support.slack_fixtures import ENV_HOST, RECORDS, PkiSet, add_env, make_pki, submit

PFX_PASSWORD = "s3cret pfx pw"
USER = "U0ME"


class Spy:
    """The interaction payloads the console sent, in order (passed on unchanged)."""

    def __init__(self, session: ConsoleSession) -> None:
        self.payloads: list[dict[str, Any]] = []
        self.answers: list[Sent] = []
        send = session.sender.interaction

        def record(payload: dict[str, Any]) -> Sent:
            self.payloads.append(payload)
            sent = send(payload)
            self.answers.append(sent)
            return sent

        session.sender.interaction = record  # type: ignore[method-assign]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [p for p in self.payloads if p["type"] == kind]


def run_lines(session: ConsoleSession, *lines: str) -> str:
    out = io.StringIO()
    assert (
        loop(session, io.StringIO("".join(line + "\n" for line in lines)), out, prompt=False) == 0
    )
    return out.getvalue()


def views_opened(session: ConsoleSession) -> list[Call]:
    return session.api.calls("views.open")


@contextmanager
def console(
    sqlite_url: str, services: ServiceContext | None = None, *, admin: bool = True
) -> Iterator[tuple[ConsoleSession, Spy]]:
    with open_session(
        Settings(database_url=sqlite_url), user_id=USER, admin=admin, services=services
    ) as session:
        yield session, Spy(session)


def write_pfx(path: Path, pki: PkiSet) -> None:
    """shop.example.com's PFX with its chain up to the private root (valid, a warning)."""
    pfx = pkcs12.serialize_key_and_certificates(
        b"shop",
        pki.shop.key,  # type: ignore[arg-type]
        pki.shop.cert,
        [pki.intermediate.cert, pki.root.cert],
        BestAvailableEncryption(PFX_PASSWORD.encode()),
    )
    path.write_bytes(pfx)


def test_the_validate_form_pfx_password_asked_again_only_where_it_was_wrong(
    sqlite_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "my certs"
    folder.mkdir()
    write_pfx(folder / "shop.pfx", make_pki())
    database = Database(sqlite_url)
    try:
        with console(sqlite_url, ServiceContext(database=database)) as (session, spy):
            text = run_lines(
                session,
                "/cert validate",
                "7",  # out of range: one line, asked again
                "2",  # PFX
                "shop.example.com",
                "shop",
                f'"{folder}/missing.pfx"',  # no such file: one line, asked again
                f'"{folder}/shop.pfx"',  # quoted: the folder has a space
                "wrong password",
                "maybe",  # not y/n
                "",  # Enter keeps n
                PFX_PASSWORD,  # asked again: only the password field had an error
                "/cert list",
            )
            calls = session.api.calls()
        saved = certificates.show_certificate(ServiceContext(database=database), "shop")
    finally:
        database.dispose()
    assert "[form: Validate a certificate]" in text and "[form: Validate: PFX]" in text
    assert "'7' is not an option: type a number from 1 to 3." in text
    assert "missing.pfx' does not exist." in text and "Type y or n." in text
    assert "  .pfx or .p12" in text  # the hint
    assert "! PFX password: shop.pfx: the password does not open this PKCS#12 file" in text
    after_error = text.split("The form has errors:")[1].split("[form: Saved]")[0]
    assert "PFX password" in after_error and "Domain" not in after_error
    assert "Enter keeps what you typed before." in after_error  # the hint, never the value
    assert "wrong password" not in text  # typed without echo, shown nowhere
    assert "Certificate name" not in after_error and "If it fails" not in after_error
    assert "[form: Saved]" in text and "Saved *shop*: validated." in text
    assert "== Certificates (1) ==" in text  # the session goes on after the form
    assert saved.status == "validated"

    first, wrong, right = spy.of("view_submission")
    opened = next(c for c in calls if c.method == "views.open")
    assert first["view"]["id"] == opened.answer["view"]["id"]
    assert first["view"]["hash"] == opened.answer["view"]["hash"]
    assert first["view"]["callback_id"] == "validate_format"
    assert first["view"]["state"]["values"]["format"]["choice"]["selected_option"]["value"] == "pfx"
    assert wrong["view"]["callback_id"] == right["view"]["callback_id"] == "validate_fields"
    assert json.loads(wrong["view"]["private_metadata"])["format"] == "pfx"
    assert wrong["view"]["id"] == first["view"]["id"]  # the ack's update keeps the view
    values = right["view"]["state"]["values"]
    (file_obj,) = values["pfx"]["files"]["files"]
    assert values["pfx"]["files"]["type"] == "file_input" and file_obj["name"] == "shop.pfx"
    assert file_obj["url_private_download"].startswith(session.api.base_url)
    assert values["password"]["value"] == {"type": "plain_text_input", "value": PFX_PASSWORD}
    assert values["manual"]["choice"] == {"type": "checkboxes", "selected_options": []}
    assert wrong["view"]["state"]["values"]["password"]["value"]["value"] == "wrong password"
    # The password reached the app, and nothing the bot showed or sent to Slack.
    assert PFX_PASSWORD not in text and "wrong password" not in text
    assert all(PFX_PASSWORD not in json.dumps(call.params) for call in calls)


def test_the_pem_form_takes_several_files_and_an_encrypted_key(
    sqlite_url: str, openssl_pki: OpenSSLPKI, tmp_path: Path
) -> None:
    """openssl's files: the leaf, its key encrypted (a password with spaces, kept as
    typed), the chain as two files named by a glob."""
    for name in ("leaf.pem", "leaf.enc-pkcs8.pem"):
        shutil.copy(openssl_pki.path(name), tmp_path / name)
    chain = tmp_path / "chain"
    chain.mkdir()
    shutil.copy(openssl_pki.path("inter.pem"), chain / "1-inter.pem")
    shutil.copy(openssl_pki.path("root.pem"), chain / "2-root.pem")
    password = openssl_pki.password.decode()
    with console(sqlite_url) as (session, spy):
        text = run_lines(
            session,
            "/cert validate",
            "",  # Enter keeps PEM, the initial option
            "app.example.com",
            "app",
            str(tmp_path / "leaf.pem"),
            str(tmp_path / "leaf.enc-pkcs8.pem"),
            f"{chain}/*.pem",
            password,
            "n",
        )
    assert "Saved *app*: validated." in text, text
    values = spy.of("view_submission")[-1]["view"]["state"]["values"]
    assert [f["name"] for f in values["chain"]["files"]["files"]] == ["1-inter.pem", "2-root.pem"]
    assert values["password"]["value"]["value"] == password and " " in password
    assert password not in text


def test_the_assign_form_picks_the_certificate_then_shows_errors_on_their_fields(
    sqlite_url: str,
) -> None:
    """The certificate select dispatches `block_actions` (the bot suggests a hostname);
    the server-side errors are shown beside their fields and only those are asked again;
    the DNS check runs against the loopback DNS server."""
    pki = make_pki()
    database = Database(sqlite_url)
    try:
        with DnsServer(RECORDS) as dns:
            ctx = ServiceContext(
                database=database,
                extra_roots=[pki.root.issued.cert],
                default_nameservers=[dns.address],
            )
            submit(ctx, pki, "shop")
            add_env(ctx)
            with console(sqlite_url, ctx) as (session, spy):
                text = run_lines(
                    session,
                    "/cert assign",
                    "1",  # the certificate: dispatched, the view is updated
                    "3",  # out of range: one environment
                    "1",
                    "",  # Enter keeps the hostname the bot suggested
                    "n",  # the CNAME unticked: an error on that field only
                    "y",
                )
                updates = session.api.calls("views.update")
            env = environments.show_environment(ctx, "dev")
    finally:
        database.dispose()
    (action,) = spy.of("block_actions")
    assert action["container"] == {"type": "view", "view_id": action["view"]["id"]}
    assert action["actions"][0]["action_id"] == "assign_pick_certificate"
    assert action["actions"][0]["selected_option"]["value"] == "shop"
    assert (
        action["view"]["state"]["values"]["certificate"]["assign_pick_certificate"][
            "selected_option"
        ]["value"]
        == "shop"
    )
    assert updates[0].params["view_id"] == action["view"]["id"]
    assert "Enter keeps: shop.example.com" in text  # suggested by the update
    assert "'3' is not an option: type a number from 1 to 1." in text
    assert f"! DNS: Create the record shop.example.com CNAME {ENV_HOST} first" in text
    again = text.split("The form has errors:")[1].split("[form: Assigned]")[0]
    assert "I have created a CNAME record" in again
    assert "Hostname" not in again and "Environment" not in again
    first, second = spy.of("view_submission")
    assert (
        second["view"]["state"]["values"]["cname"]["choice"]["selected_options"][0]["value"]
        == "cname"
    )
    assert first["view"]["id"] == second["view"]["id"] == action["view"]["id"]
    assert "[form: Assigned]" in text and "(form closed)" in text
    assert env.hostname == "shop.example.com" and env.current is not None


def test_the_assign_button_under_a_saved_certificate_opens_the_form_with_it_chosen(
    sqlite_url: str, tmp_path: Path
) -> None:
    """Validate in a form, `/click` the Assign button of the DM it posts: the assign form
    opens with the certificate chosen (no dispatch needed), and assigns it."""
    pki = make_pki()
    write_pfx(tmp_path / "shop.pfx", pki)
    database = Database(sqlite_url)
    try:
        with DnsServer(RECORDS) as dns:
            ctx = ServiceContext(database=database, default_nameservers=[dns.address])
            add_env(ctx)
            with console(sqlite_url, ctx) as (session, spy):
                text = run_lines(
                    session,
                    "/cert validate",
                    "2",
                    "shop.example.com",
                    "shop",
                    str(tmp_path / "shop.pfx"),
                    PFX_PASSWORD,
                    "n",
                    "/click 1",  # Assign, under "Saved" in the DM
                    "",  # Enter keeps the certificate chosen
                    "1",
                    "",
                    "y",
                )
            env = environments.show_environment(ctx, "dev")
    finally:
        database.dispose()
    assert "Buttons: 1) Assign" in text and "[form: Assign a certificate]" in text
    assert "shop (validated" in text.split("[form: Assign a certificate]")[1]
    assert spy.of("block_actions")[0]["actions"][0]["action_id"] == "assign_open"
    assert len(spy.of("block_actions")) == 1  # the certificate kept: nothing dispatched
    assert "[form: Assigned]" in text and env.hostname == "shop.example.com"


def test_cancel_closes_the_form_and_sends_view_closed_when_the_view_asks(
    sqlite_url: str,
) -> None:
    with console(sqlite_url) as (session, spy):
        text = run_lines(session, "/cert validate", "/cancel", "/cert env list")
        assert "Form closed: nothing was submitted." in text
        assert "*Environments*: none on record." in text  # the session went on
        assert spy.payloads == []  # the form's own view does not ask for view_closed
        # The same form, as a view that asks to be told (`notify_on_close`).
        opened = views_opened(session)[0]
        view = {**opened.answer["view"], "notify_on_close": True}
        asking = Call("views.open", {"view": view}, opened.index, answer={"view": view})
        shown = session.show(Sent(200, "", 0.0), [asking])
        assert "What do you have?" in shown and session.form is not None
        assert session.handle_line("/cancel") == "Form closed: nothing was submitted."
    (closed,) = spy.of("view_closed")
    assert closed["view"]["id"] == view["id"] and closed["view"]["hash"] == view["hash"]
    assert closed["view"]["callback_id"] == "validate_format" and closed["is_cleared"] is False
    assert spy.answers[-1].status not in {401, 403}  # signed as Slack signs it
    assert session.form is None


def test_end_of_input_in_a_form_leaves_the_form_and_ends_cleanly(
    sqlite_url: str, tmp_path: Path
) -> None:
    with console(sqlite_url) as (session, spy):
        text = run_lines(session, "/cert validate", "2", "shop.example.com")
        assert "Form left: the input ended before it was submitted." in text
        assert session.form is None and len(spy.of("view_submission")) == 1  # step one
        assert "Unknown" not in (session.handle_line("/cert env list") or "")
    done = subprocess_console(tmp_path, "/cert validate\n2\nshop.example.com\n")
    assert done.returncode == 0, done.stderr
    assert "Form left" in done.stdout and "Traceback" not in done.stderr


def subprocess_console(tmp_path: Path, stdin: str) -> Any:
    import subprocess

    return subprocess.run(
        [EXE, "console", "--admin"],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=run_environ(CERTOPS_DATA_DIR=str(tmp_path / "data")),
        timeout=60,
    )


def test_a_password_is_read_without_echo_on_a_terminal() -> None:
    """A real pseudo-terminal: the password typed is not echoed, an ordinary answer is."""
    master, slave = pty.openpty()
    stdin = os.fdopen(slave, "r", closefd=False)
    out = io.StringIO()
    try:
        for secret, typed in ((True, "hunter2 pw"), (False, "visible answer")):
            got: list[str] = []
            reader = threading.Thread(
                target=lambda s=secret, into=got: into.append(
                    read_answer(stdin, out, prompt="Password> ", secret=s)
                )
            )
            reader.start()
            if secret:  # type only once echo is off, as a person types after the prompt
                for _ in range(2000):
                    if not termios.tcgetattr(slave)[3] & termios.ECHO:
                        break
                    threading.Event().wait(0.005)
            os.write(master, typed.encode() + b"\n")
            reader.join(10)
            assert got == [typed + "\n"]
            screen = _drain(master)
            assert (typed in screen) is not secret, screen
        assert termios.tcgetattr(slave)[3] & termios.ECHO  # echo is back on
    finally:
        stdin.close()
        os.close(slave)
        os.close(master)


def _drain(fd: int) -> str:
    import select

    data = b""
    while select.select([fd], [], [], 0.2)[0]:
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")


def test_a_person_fills_the_validate_form_on_a_terminal(tmp_path: Path) -> None:
    """`certops console` on a pseudo-terminal: each field is a prompt, the password is
    not echoed, the form saves, Ctrl-D ends the console cleanly."""
    write_pfx(tmp_path / "shop.pfx", make_pki())
    with console_on_terminal(tmp_path, "--admin", CERTOPS_DATA_DIR=str(tmp_path / "data")) as (
        process,
        screen,
    ):
        screen.wait_for("> ")
        screen.type("/cert validate")
        screen.wait_for("What do you have?> ")
        screen.type("2")
        screen.wait_for("Domain> ")
        screen.type("shop.example.com")
        screen.wait_for("Certificate name> ")
        screen.type("shop")
        screen.wait_for("PFX / PKCS#12 file> ")
        screen.type(str(tmp_path / "shop.pfx"))
        screen.wait_for("PFX password> ")
        screen.type(PFX_PASSWORD)
        screen.wait_for("If it fails> ")
        screen.type("")
        screen.wait_for("Saved *shop*: validated.")
        screen.end()  # Ctrl-D at the command prompt: the console ends
        assert process.wait(30) == 0
    assert "shop.example.com" in screen.text  # what is typed is echoed...
    assert PFX_PASSWORD not in screen.text  # ...except the password
    assert "Traceback" not in screen.text


class _Scripted:
    """A stand-in for the session: answers each interaction with the next scripted ack
    and calls (for what the bot never does yet: `response_action: push`, `views.push`)."""

    user_id = USER
    files: Any = None  # no file input in these views

    def __init__(self, answers: list[tuple[dict[str, Any], list[Call]]]) -> None:
        self.answers = answers
        self.sent: list[dict[str, Any]] = []

    def interact(self, payload: dict[str, Any]) -> tuple[Sent, list[Call]]:
        self.sent.append(payload)
        ack, calls = self.answers.pop(0)
        return Sent(200, json.dumps(ack) if ack else "", 0.0), calls

    def show(self, sent: Sent, calls: list[Call]) -> str:
        return "\n".join(f"[{call.method}]" for call in calls)


def _modal(title: str, block_id: str, *, view_id: str = "") -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": "cb_" + block_id,
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Next"},
        "blocks": [
            {
                "type": "input",
                "block_id": block_id,
                "label": {"type": "plain_text", "text": title + " field"},
                "element": {"type": "plain_text_input", "action_id": "value"},
            }
        ],
    }
    if view_id:
        view.update(id=view_id, hash="h-" + view_id)
    return view


def test_a_pushed_view_is_walked_and_closing_it_brings_back_the_one_below() -> None:
    from bot.console.forms import FormWalk

    root = _modal("First", "one", view_id="V1")
    pushed = _modal("Second", "two")
    pushed_by_bot = _modal("Third", "three", view_id="V3")
    link = _Scripted(
        [
            ({"response_action": "push", "view": pushed}, []),  # submit First
            ({}, [Call("views.push", {"view": pushed_by_bot}, 1, answer={"view": pushed_by_bot})]),
            ({}, [Call("chat.postMessage", {"channel": "D0ME", "text": "ok"}, 2)]),  # Third
            ({"response_action": "clear"}, []),  # First again
        ]
    )
    walk = FormWalk(link)
    text = walk.start([Call("views.open", {"view": root}, 0, answer={"view": root})])
    assert "[form: First]" in text and "First field (required)" in text
    assert "[form: Second]" in walk.answer("a")
    assert "[form: Third]" in walk.answer("b")  # Second closed by its plain ack, Third pushed
    back = walk.answer("c")  # Third closed by its plain ack: First again, filled in
    assert "[chat.postMessage]" in back and "[form: First]" in back
    assert back.endswith("Press Enter to Next, or type /cancel.")
    assert walk.answer("") == "(form closed)"
    first, second, third, again = link.sent
    assert first["view"]["id"] == "V1" and first["view"]["hash"] == "h-V1"
    assert second["view"]["id"] != "V1" and second["view"]["previous_view_id"] == "V1"
    assert second["view"]["root_view_id"] == "V1"
    assert (
        third["view"]["id"] == "V3"
        and third["view"]["state"]["values"]["three"]["value"]["value"] == "c"
    )
    assert walk.closed and again["view"]["id"] == "V1"
