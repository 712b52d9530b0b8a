"""Console mode driven through its input and output: the loop with text streams, and
`certops console` / `certops run` as subprocesses with stdin."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from bot.console.session import loop, open_session
from bot.services.context import ServiceContext
from bot.settings import Settings
from storage.db import Database
from tests.support.slack_fixtures import add_env, make_pki, submit

EXE = str(Path(sys.executable).with_name("certops"))


def run_cli(
    args: list[str], tmp_path: Path, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CERTOPS_", "DATABASE_"))
    }
    environ.update(
        {
            "SLACK_BOT_TOKEN": "",
            "SLACK_APP_TOKEN": "",
            "SLACK_SIGNING_SECRET": "",
            "DATABASE_URL": "",
            "CERTOPS_DATA_DIR": str(tmp_path / "data"),
            **env,
        }
    )
    return subprocess.run(
        [EXE, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environ,
        timeout=60,
    )


def test_the_console_loop_runs_the_real_app(sqlite_url: str) -> None:
    settings = Settings(database_url=sqlite_url)
    lines = (
        "\n".join(
            [
                "/cert env add dev acme-dev.outsystemsenterprise.com",
                "/cert env list",
                "/cert frobnicate",
                "/home",
                "hello bot",
                "/quit",
                "/cert list",  # never read: /quit ended the loop
            ]
        )
        + "\n"
    )
    out = io.StringIO()
    with open_session(settings, user_id="U0ME", admin=True) as session:
        assert loop(session, io.StringIO(lines), out, prompt=False) == 0
        commands = session.api.calls("response_url")
    text = out.getvalue()
    assert "Environment *dev* recorded" in text
    assert "== Environments (1) ==" in text and "acme-dev.outsystemsenterprise.com" in text
    assert "I don't know `/cert frobnicate`" in text
    assert "[App Home]" in text and "Hi @U0ME. You are an admin." in text
    assert "[DM]" in text and "Send me certificate files here" in text
    assert "Certificates*: none" not in text
    assert len(commands) == 2  # env add and env list answered through response URLs


def test_a_non_admin_console_user_is_refused_politely(sqlite_url: str) -> None:
    settings = Settings(database_url=sqlite_url, admins=("UBOSS",))
    out = io.StringIO()
    with open_session(settings, user_id="U0ME") as session:
        loop(session, io.StringIO("/cert approve x\n"), out, prompt=False)
    assert "for admins only" in out.getvalue() and "@UBOSS" in out.getvalue()


def test_certops_console_subprocess(tmp_path: Path) -> None:
    done = run_cli(
        ["console", "--admin", "--user", "U0TERM"],
        tmp_path,
        stdin="/cert env add qa acme-qa.outsystemsenterprise.com\n/cert env list\n",
    )
    assert done.returncode == 0, done.stderr
    assert "== Environments (1) ==" in done.stdout and "*qa*" in done.stdout
    assert (tmp_path / "data" / "certops.db").is_file()  # the embedded SQLite default
    assert "Traceback" not in done.stderr


def test_run_without_tokens_says_so_and_ends_on_empty_stdin(tmp_path: Path) -> None:
    done = run_cli(["run"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[0].startswith("No Slack tokens")
    assert "console mode" in done.stderr and "Traceback" not in done.stderr


def test_a_bad_setting_stops_with_one_line(tmp_path: Path) -> None:
    done = run_cli(["run"], tmp_path, SLACK_BOT_TOKEN="not-a-bot-token")
    assert done.returncode == 2
    assert (
        done.stderr.strip().count("\n") == 0
        and "SLACK_BOT_TOKEN must be a bot token" in done.stderr
    )


def test_http_mode_needs_the_signing_secret(tmp_path: Path) -> None:
    done = run_cli(["run", "--http", "--port", "3999"], tmp_path, SLACK_BOT_TOKEN="xoxb-1")
    assert done.returncode == 1
    assert (
        done.stderr.strip()
        == "certops run: HTTP mode needs SLACK_SIGNING_SECRET (the app's Signing Secret)"
    )


def test_socket_mode_needs_the_app_token(tmp_path: Path) -> None:
    done = run_cli(["run"], tmp_path, SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s")
    assert done.returncode == 1 and "Socket Mode needs SLACK_APP_TOKEN" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    done = run_cli(["run"], tmp_path, DATABASE_URL="postgresql://certops@127.0.0.1:1/none")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("certops run:") and "127.0.0.1" in last


def test_buttons_are_numbered_and_clicked_with_click(sqlite_url: str) -> None:
    database = Database(sqlite_url)
    ctx = ServiceContext(database=database)
    submit(ctx, make_pki(), "shop", manual=True)
    add_env(ctx)
    lines = (
        "\n".join(
            [
                "/click 1",
                "/cert assign shop dev shop.example.com",
                "/click 2",
                "/home",
                "/click 4",
            ]
        )
        + "\n"
    )
    out = io.StringIO()
    try:
        with open_session(
            Settings(database_url=sqlite_url), user_id="U0ME", admin=True, database=database
        ) as session:
            loop(session, io.StringIO(lines), out, prompt=False)
    finally:
        database.dispose()
    text = out.getvalue()
    assert text.startswith("There is no button to click.")
    assert "Buttons: 1) I have created the CNAME: assign  2) Cancel  (type /click N)" in text
    assert "Cancelled: nothing was changed." in text
    assert "4) Help" in text and "`/cert dns HOSTNAME [ENV]`" in text  # the Help button's DM


def test_run_without_tokens_makes_the_operator_an_admin(tmp_path: Path) -> None:
    """`make run` with no tokens must be useful at once: the operator can add records."""
    done = run_cli(
        ["run"],
        tmp_path,
        stdin="/cert env add qa acme-qa.outsystemsenterprise.com\n/cert env list\n",
    )
    assert done.returncode == 0, done.stderr
    assert "as an admin" in done.stderr.splitlines()[0]
    assert "*qa*" in done.stdout and "admins only" not in done.stdout


def test_what_the_bot_posts_on_its_own_shows_before_the_next_answer(sqlite_url: str) -> None:
    """An expiry warning the scheduler posts between two lines is shown once, with its
    buttons, before the next answer (the console had hidden it)."""
    from bot.app import create_client
    from bot.scheduler import build_jobs, run_once

    database = Database(sqlite_url)
    pki = make_pki()
    ctx = ServiceContext(database=database, extra_roots=[pki.root.issued.cert])
    submit(ctx, pki, "short", pki.intermediate.leaf(sans=["shop.example.com"], days=5))
    settings = Settings(database_url=sqlite_url, default_channel="C0WARN")
    out = io.StringIO()
    try:
        with open_session(settings, user_id="U0ME", admin=True, database=database) as session:
            first = session.handle_line("/cert help")
            jobs = build_jobs(session.settings, ctx, create_client(session.settings))
            run_once([jobs.as_list(with_tls=False)[0]])
            loop(session, io.StringIO("/cert env list\n/cert env list\n"), out, prompt=False)
    finally:
        database.dispose()
    text = out.getvalue()
    assert first is not None and "#C0WARN" not in first
    assert text.count("[#C0WARN]") == 1 and "short" in text  # shown once, before the answer
    assert text.index("[#C0WARN]") < text.index("Environments")
    assert "Snooze" in text and "(type /click N)" in text


def test_console_commands_from_the_terminal(tmp_path: Path) -> None:
    """`certops console` itself: /upload, /time, /as, /admin and an unknown command, each
    answered in its own words (the scheduler of the process shares /time's clock)."""
    stdin = "\n".join(
        [
            f"/upload {tmp_path}/missing.pem",
            "/time +2d",
            "/time someday",
            "/as u0other",
            "/cert env add qa acme-qa.outsystemsenterprise.com",
            "/admin on",
            "/cert env add qa acme-qa.outsystemsenterprise.com",
            "/frobnicate",
        ]
    )
    done = run_cli(["console", "--user", "U0TERM"], tmp_path, stdin=stdin + "\n")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Nothing sent." in out and "missing.pem' does not exist." in out
    assert "(2.0 days ahead of the real time)" in out and "Cannot read 'someday'" in out
    assert "You are now U0OTHER (not an admin)." in out and "for admins only" in out
    assert "You are now U0OTHER (an admin)." in out and "Environment *qa* recorded" in out
    assert "/frobnicate is not a console command" in out
    assert "Traceback" not in done.stderr
