"""`certops env | cert | assign | ticket | audit` through `bot.cli.main`, and one real process.

Exit codes: 0 done, 1 a rule refused (one line on stderr, a `code` in --json), 2 usage.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.dns_server import DnsServer
from tests.support.record_cli import Run
from tests.support.services import DEV_HOST, KEY_PASSWORD, LT_HOST, QA_HOST

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> Run:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    return Run(capsys)


def test_the_whole_process_on_the_terminal(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    files: dict[str, str],
    dns_server: DnsServer,
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    run = Run(capsys)
    ns = ["--nameserver", dns_server.nameserver, "--timeout", "2"]
    assert run("env", "add", "dev", "--host", DEV_HOST)[0] == 0
    assert run("env", "add", "qa", "--host", QA_HOST, "--channel", "#qa")[0] == 0
    code, data = run.json("env", "add", "lifetime", "--host", LT_HOST, "--lifetime")
    assert code == 0 and data["is_lifetime"] is True
    submit = ["cert", "submit", files["app.pem"], files["app.key"], "--name", "app"]
    submit += ["--password-file", files["key.pass"], "--trust-store", files["root.pem"]]
    code, data = run.json(*submit)
    assert code == 0 and data["status"] == "validated" and data["ok"] is True
    code, data = run.json(*submit)
    assert code == 1 and data["code"] == "name_taken" and data["ok"] is False
    code, out, err = run(*submit)
    assert code == 1 and out == ""
    assert err.strip().splitlines()[0].startswith("certops cert: refused (name_taken):")
    bad_name = [*submit[:5], "app 2027!", *submit[6:]]  # the naming rule (bot/services/names)
    code, data = run.json(*bad_name)
    assert code == 1 and data["code"] == "invalid_input" and "letters, digits" in data["message"]
    code, data = run.json("assign", "app", "dev", "app.example.com", "--cname-confirmed", *ns)
    assert code == 0 and data["assignment"]["state"] == "updating"
    assert len(data["reminders"]) == 3 and data["dns_report"]["verdict"] == "ok"
    code, out, _ = run("assign", "app", "qa", "www.example.com", "--cname-confirmed", *ns)
    assert code == 0 and "REST" in out and "Mobile apps" in out and "Host header" in out
    code, data = run.json("assign", "app", "lifetime", "app.example.com", "--cname-confirmed")
    assert code == 1 and data["code"] == "lifetime_needs_ticket"
    wild = ["cert", "submit", files["wild.pem"], files["wild.key"], "--name", "wild"]
    wild += ["--password-file", files["key.pass"], "--trust-store", files["root.pem"]]
    assert run(*wild)[0] == 0
    code, data = run.json("ticket", "open", "wild", "lt.example.com")
    assert code == 0 and "lt.example.com" in data["support_text"]
    tid = str(data["ticket"]["id"])
    code, _, err = run("ticket", "update", tid, "--state", "submitted")
    assert code == 1 and "case_number_required" in err
    assert run("ticket", "update", tid, "--state", "submitted", "--case", "CS-1")[0] == 0
    code, out, _ = run("ticket", "update", tid, "--state", "confirmed")
    assert code == 0 and "CNAME" in out and LT_HOST in out
    code, data = run.json("ticket", "update", tid, "--state", "dns_configured", *ns)
    assert code == 0 and data["ticket"]["state"] == "done"
    code, data = run.json("ticket", "list")
    assert code == 0 and [t["state"] for t in data["items"]] == ["done"]
    renew = ["cert", "submit", files["renewal.pfx"], "--name", "app-2", "--renews", "app"]
    renew += ["--password-file", files["pfx.pass"], "--trust-store", files["root.pem"]]
    code, data = run.json(*renew)
    assert code == 0 and data["certificate"]["submitted_format"] == "pfx"
    assert sorted(t["environment"] for t in data["renewal_offer"]) == ["dev", "qa"]
    code, data = run.json("cert", "renew", "app-2", "--cname-confirmed", *ns)
    assert code == 0 and data["ok"] and len(data["outcomes"]) == 2
    code, data = run.json("cert", "show", "app")
    assert code == 0 and data["status"] == "superseded"
    code, data = run.json("cert", "list", "--status", "validated")
    assert code == 0 and sorted(c["name"] for c in data["items"]) == ["app-2", "wild"]
    code, data = run.json("env", "show", "lifetime")
    assert code == 0 and data["hostname"] == "lt.example.com"
    assert data["current"]["certificate"] == "wild"
    code, data = run.json("audit", "--limit", "5")
    assert code == 0 and len(data["items"]) == 5
    assert all(item["actor"] == "terminal" for item in data["items"])
    code, out, _ = run("audit", "--limit", "3")
    assert code == 0 and len(out.strip().splitlines()) == 3


def test_refusals_exit_1_with_one_line_and_a_code(
    run: Run, files: dict[str, str], dns_server: DnsServer, silent_dns: DnsServer
) -> None:
    ns = ["--nameserver", dns_server.nameserver, "--timeout", "2"]
    run("env", "add", "dev", "--host", DEV_HOST)
    code, out, err = run("cert", "submit", files["app.pem"], "--name", "nokey")
    assert code == 1 and out == ""
    first = err.splitlines()[0]
    assert first.startswith("certops cert: refused (certificate_invalid):")
    assert "no_private_key" in err  # the findings follow the line
    code, data = run.json("cert", "submit", files["app.pem"], "--name", "nokey")
    assert code == 1 and data["code"] == "certificate_invalid"
    assert data["report"]["verdict"] == "invalid"
    submit = ["cert", "submit", files["app.pem"], files["app.key"], "--name", "app"]
    submit += ["--password-file", files["key.pass"], "--trust-store", files["root.pem"]]
    assert run(*submit)[0] == 0
    code, data = run.json("assign", "app", "dev", "app.example.com", *ns)
    assert code == 1 and data["code"] == "cname_not_confirmed"
    code, data = run.json("assign", "app", "dev", "www.example.com", "--cname-confirmed", *ns)
    assert code == 1 and data["code"] == "dns_misconfigured"
    assert data["dns_report"]["verdict"] == "misconfigured"
    code, data = run.json("assign", "app", "dev", "nope.example.com", "--cname-confirmed", *ns)
    assert code == 1 and data["code"] == "hostname_not_covered"
    silent = ["--nameserver", silent_dns.nameserver, "--timeout", "0.3"]
    code, out, _ = run("assign", "app", "dev", "app.example.com", "--cname-confirmed", *silent)
    assert code == 0 and "WARNING" in out and "unknown" in out
    code, data = run.json("cert", "approve", "app")
    assert code == 1 and data["code"] == "invalid_transition"
    code, data = run.json("env", "show", "nope")
    assert code == 1 and data["code"] == "not_found"
    code, data = run.json("ticket", "update", "77", "--state", "cancelled")
    assert code == 1 and data["code"] == "not_found"


def test_manual_submission_and_review(run: Run, files: dict[str, str]) -> None:
    # no trust store: the private test root makes the chain incomplete -> invalid
    submit = ["cert", "submit", files["app.pem"], files["app.key"], "--name", "app"]
    submit += ["--password-file", files["key.pass"]]
    code, data = run.json(*submit, "--manual")
    assert code == 0 and data["status"] == "pending_manual" and data["manual"] is True
    code, out, _ = run("cert", "list")
    assert code == 0 and "pending_manual" in out
    code, data = run.json("cert", "reject", "app", "--reason", "use the public chain")
    assert code == 0 and data["notify"] == {"user": "terminal", "reason": "use the public chain"}


@pytest.mark.parametrize(
    "argv",
    [
        ["env"],
        ["env", "add", "dev"],  # --host missing
        ["env", "frobnicate"],
        ["cert", "submit", "--name", "x"],  # no file
        ["cert", "submit", "/nonexistent/file.pem", "--name", "x"],
        ["cert", "reject", "x"],  # --reason missing
        ["assign", "app", "dev"],
        ["assign", "app", "dev", "a.example.com", "--timeout", "0"],
        ["assign", "app", "dev", "a.example.com", "--nameserver", "not-an-ip"],
        ["ticket", "update", "one", "--state", "done"],
        ["ticket", "update", "1", "--state", "sideways"],
        ["audit", "--limit", "0"],
        ["audit", "--limit", "x"],
    ],
)
def test_usage_errors_exit_2(run: Run, argv: list[str]) -> None:
    code, out, err = run(*argv)
    assert code == 2, (argv, out, err)
    assert err.strip() and len(err.strip().splitlines()) <= 3


def test_help_exits_0(run: Run) -> None:
    code, out, _ = run("cert", "--help")
    assert code == 0 and "submit" in out


def test_database_down_is_one_line_exit_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://certops:hunter2@127.0.0.1:1/nowhere")
    run = Run(capsys)
    code, data = run.json("env", "list")
    assert code == 1 and data["code"] == "database_unavailable"
    assert "hunter2" not in json.dumps(data)
    code, _, err = run("cert", "list")
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "database" in err and "hunter2" not in err


def test_a_real_process_upgrades_an_empty_database(empty_sqlite_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": empty_sqlite_url}
    command = [sys.executable, "-m", "bot"]
    added = subprocess.run(
        [*command, "env", "add", "dev", "--host", DEV_HOST, "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["name"] == "dev"
    again = subprocess.run(
        [*command, "env", "add", "dev", "--host", DEV_HOST],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert again.returncode == 1 and "Traceback" not in again.stderr
    assert "refused (environment_exists)" in again.stderr
    usage = subprocess.run(
        [*command, "assign"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60
    )
    assert usage.returncode == 2 and "Traceback" not in usage.stderr


def test_a_needed_password_is_prompted_for_on_a_terminal(
    run: Run, files: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.cli import record, startup

    asked: list[str] = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return KEY_PASSWORD.decode()

    monkeypatch.setattr(startup, "is_tty", lambda: True)
    argv = ["submit", files["app.pem"], files["app.key"], "--name", "app", "--json"]
    argv += ["--trust-store", files["root.pem"]]
    code = record.main(argv, "certops cert", "cert", ask=ask)
    out = run.capsys.readouterr().out
    assert code == 0 and json.loads(out)["status"] == "validated"
    assert asked == ["Key/PFX password: "]


def test_an_unreadable_manual_submission_shows_no_none(
    run: Run, files: dict[str, str], tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong.pass"
    wrong.write_text("not the password\n")
    submit = ["cert", "submit", files["renewal.pfx"], "--name", "unread", "--manual"]
    code, out, _ = run(*submit, "--password-file", str(wrong))
    assert code == 0 and "pending_manual" in out and "None" not in out, out
    for argv in (["cert", "list"], ["cert", "show", "unread"]):
        code, out, _ = run(*argv)
        assert code == 0 and "None" not in out, out
        assert "no readable certificate" in out


def test_a_renewal_says_what_to_do_next_for_each_target() -> None:
    """`certops cert renew`: a LifeTime target's new ticket comes with its next step and the
    text to paste; an assignment's DNS warning is shown, not dropped."""
    from bot.cli.record_text import render
    from bot.services.renewals import RenewalOutcome, RenewalResult
    from bot.services.supersession import RenewalTarget

    lifetime = RenewalTarget("lifetime", "lt.example.com", True, "wild")
    dev = RenewalTarget("dev", "app.example.com", False, "wild")
    ticket = {
        "ok": True,
        "ticket": {"id": 7},
        "message": "Ticket 7 is a draft. Open a support case with the text below, then: ...",
        "support_text": "Subject: Change the LifeTime hostname of lifetime",
        "warnings": [],
    }
    assigned = {"ok": True, "assignment": {"id": 3}, "warnings": ["The DNS check got no answer"]}
    out = render(
        RenewalResult(
            "wild-2", "wild", [RenewalOutcome(dev, assigned), RenewalOutcome(lifetime, ticket)]
        )
    )
    assert "WARNING: The DNS check got no answer" in out
    assert "Ticket 7 is a draft" in out
    assert "paste into the support case" in out and "Subject: Change the LifeTime" in out


@pytest.fixture
def open_zip(files: dict[str, str], tmp_path: Path) -> str:
    """An unencrypted ZIP (the `zip` command line) holding the certificate and its
    encrypted key: the key's password is needed, not a ZIP password."""
    path = tmp_path / "bundle.zip"
    subprocess.run(
        ["zip", "-j", "-q", str(path), files["app.pem"], files["app.key"]], check=True, timeout=30
    )
    return str(path)


def test_a_key_in_an_open_zip_is_asked_for_as_the_key_password(
    run: Run, files: dict[str, str], open_zip: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cert submit` and `validate` read which password is missing from the report's
    `secret` field: the key's. (`cert submit` guessed "ZIP" from the text "bundle.zip:".)"""
    from bot.cli import record, startup

    asked: list[str] = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return KEY_PASSWORD.decode()

    monkeypatch.setattr(startup, "is_tty", lambda: True)
    monkeypatch.setattr("getpass.getpass", ask)
    trust = ["--trust-store", files["root.pem"]]
    code = record.main(
        ["submit", open_zip, "--name", "zipped", *trust], "certops cert", "cert", ask=ask
    )
    assert code == 0 and asked == ["Key/PFX password: "]
    asked.clear()
    code, out, _ = run("validate", open_zip, *trust)
    assert code == 0 and asked == ["Key/PFX password: "], out


def test_a_password_finding_says_which_secret_it_needs(
    run: Run, files: dict[str, str], open_zip: str
) -> None:
    code, out, err = run("validate", open_zip, "--trust-store", files["root.pem"], "--json")
    assert out, err
    report = json.loads(out)
    locked = [f for f in report["findings"] if f["code"] == "password_required"]
    assert code == 1 and len(locked) == 1
    assert locked[0]["secret"] == "key" and locked[0]["input"] == "bundle.zip:app.key"
    assert all("secret" not in f for f in report["findings"] if f["code"] != "password_required")


def test_cert_submit_reads_a_file_through_the_bounded_reader(tmp_path: Path) -> None:
    """`certops cert submit /dev/zero` stops at the 50 MiB limit as `validate` does (it
    read until memory ran out)."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"}
    for argv in (["cert", "submit", "/dev/zero", "--name", "x"], ["validate", "/dev/zero"]):
        done = subprocess.run(
            [sys.executable, "-m", "bot", *argv],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert "'/dev/zero' is larger than 50 MiB" in done.stderr


@pytest.mark.parametrize(
    ("argv", "service"),
    [
        (["env", "list"], "bot.services.environments.list_environments"),
        (["cert", "list"], "bot.services.views.list_certificates"),
        (["assign", "c", "e", "h.example.com"], "bot.services.assignments.assign_certificate"),
        (["ticket", "list"], "bot.services.tickets.list_tickets"),
        (["audit"], "bot.services.audit.recent"),
    ],
)
def test_a_bug_in_a_record_command_ends_with_exit_70(
    run: Run, monkeypatch: pytest.MonkeyPatch, argv: list[str], service: str
) -> None:
    """As the README promises for every command: exit 70 and `internal error (TYPE)`,
    not exit 1 and 'unexpected error ... nothing was changed'."""

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.delenv("CERTOPS_DEBUG", raising=False)
    monkeypatch.setattr(service, boom)
    code, _, err = run(*argv)
    assert code == 70 and "internal error (RuntimeError)" in err, err
    assert "nothing was changed" not in err
