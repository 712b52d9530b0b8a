"""Console mode: the real Bolt app and handlers, over the stand-in Slack, on loopback.

Each `/cert ...` line goes to the app as a signed slash-command request over HTTP, as
Slack sends it; the console then waits until the app has finished the work it started
after the ack, and prints what the bot answered (the ack, response URLs, messages,
views) as text. Lines that are not commands are sent as a DM to the bot.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, TextIO

from bot.app import create_app
from bot.console import commands
from bot.console.forms import VIEW_METHODS, FormWalk
from bot.console.lab_dns import LabDns
from bot.console.local_files import FileHost
from bot.console.loopback import LoopbackServer
from bot.console.prompts import read_answer
from bot.console.render import message_text
from bot.console.sender import Sent, SlackSender
from bot.console.slack_api import Call, FakeSlackApi
from bot.context import create_service_context
from bot.scheduler import Jobs, build_jobs
from bot.services import tls_check
from bot.services.clock import ShiftedClock
from bot.services.context import ServiceContext
from bot.settings import Settings
from bot.shutdown import InFlight, shutdown_for
from handlers.common.deps import Deps
from handlers.common.request_context import ContextExecutor
from storage.db import Database

DEFAULT_USER = "U0CONSOLE"
CONSOLE_TOKEN = "xoxb-console"
# The channel the console types in: slash commands come from it, and the bot's own posts
# (expiry warnings, TLS checks) go to it when no CERTOPS_DEFAULT_CHANNEL is set.
CONSOLE_CHANNEL = "C0CONSOLE"
# Look-ups, not answers: a person in Slack sees nothing of them.
QUIET_METHODS = frozenset(
    {
        "auth.test",
        "conversations.open",
        "conversations.info",
        "conversations.history",
        "users.info",
        "files.info",
    }
)
CONSOLE_HELP = commands.HELP


def console_settings(settings: Settings, api_url: str, user_id: str, admin: bool) -> Settings:
    """The settings with Slack pointed at the stand-in, and the user made admin if asked."""
    return dataclasses.replace(
        settings,
        slack_bot_token=CONSOLE_TOKEN,
        slack_app_token=None,
        slack_signing_secret=secrets.token_hex(16),
        slack_api_url=api_url,
        admins=with_admin(settings.admins, user_id, True) if admin else settings.admins,
        default_channel=settings.default_channel or CONSOLE_CHANNEL,
    )


def with_admin(admins: tuple[str, ...], user_id: str, admin: bool) -> tuple[str, ...]:
    """The admins with `user_id` added (admin) or taken out (not)."""
    if admin:
        return admins if user_id in admins else (*admins, user_id)
    return tuple(user for user in admins if user != user_id)


class ConsoleSession:
    """One running console: the stand-in, the app on loopback, and a signed sender."""

    def __init__(
        self,
        api: FakeSlackApi,
        app_url: str,
        settings: Settings,
        executor: InFlight,
        user_id: str,
        *,
        deps: Deps,
        clock: ShiftedClock,
        jobs: Jobs,
        lab: LabDns | None = None,
    ) -> None:
        self.api = api
        self.settings = settings
        self.executor = executor
        self.user_id = user_id
        # The app's Deps (its settings say who is an admin: /admin changes them), the
        # services' clock (/time moves it) and the scheduler's jobs (/time runs them).
        self.deps = deps
        self.clock = clock
        self.jobs = jobs
        # The lab DNS the services ask (None when CERTOPS_NAMESERVERS names real ones).
        self.lab = lab
        self.sender = SlackSender(app_url, settings.slack_signing_secret or "")
        self.buttons: list[Button] = []
        # Calls shown so far: what the bot posts on its own between two lines (the
        # scheduler's expiry warnings and TLS checks) is shown before the next answer.
        self.shown = api.mark()
        # The modal being filled in, if any: the lines typed are its answers.
        self.form: FormWalk | None = None
        # A line shown at once while a slow command works (`/samples`' 8192-bit key):
        # the loop prints it; nowhere by default.
        self.notice: Callable[[str], object] = lambda text: None

    def settle(self) -> None:
        self.executor.wait_idle(timeout=60)

    @property
    def is_admin(self) -> bool:
        return self.user_id in self.deps.settings.admins

    def set_admin(self, admin: bool) -> None:
        """Put the acting person in the app's admins, or take them out, as a change of
        CERTOPS_ADMINS would: the middleware reads them on every request."""
        admins = with_admin(self.deps.settings.admins, self.user_id, admin)
        self.deps.settings = dataclasses.replace(self.deps.settings, admins=admins)
        self.settings = dataclasses.replace(self.settings, admins=admins)

    def exchange(self, send: Callable[[], Sent]) -> tuple[Sent, list[Call]]:
        """Send one request, wait for the work it started, and return the calls it made."""
        since = self.api.mark()
        sent = send()
        self.settle()
        return sent, self.api.calls(since=since)

    def command(self, text: str) -> tuple[Sent, list[Call]]:
        """Send `/cert TEXT`; returns the ack and every call the bot made because of it."""
        since = self.api.mark()
        sent = self.sender.command(text, user_id=self.user_id, response_url=self.api.response_url())
        self.settle()
        return sent, self.api.calls(since=since)

    def dm(self, text: str) -> tuple[Sent, list[Call]]:
        since = self.api.mark()
        event = {
            "type": "message",
            "channel_type": "im",
            "channel": "D" + self.user_id[1:],
            "user": self.user_id,
            "text": text,
            "ts": "1.000001",
        }
        sent = self.sender.event(event)
        self.settle()
        return sent, self.api.calls(since=since)

    def open_home(self) -> tuple[Sent, list[Call]]:
        since = self.api.mark()
        sent = self.sender.event(
            {
                "type": "app_home_opened",
                "user": self.user_id,
                "tab": "home",
                "channel": "D" + self.user_id[1:],
            }
        )
        self.settle()
        return sent, self.api.calls(since=since)

    def click(self, button: Button) -> tuple[Sent, list[Call]]:
        """Click a button the bot showed, as Slack sends the click (block_actions): from
        the message it is in (its channel and ts), or from the Home tab."""
        since = self.api.mark()
        if button.on_home:
            view = {"id": "V0HOME", "type": "home", "blocks": []}
            sent = self.sender.button(
                button.action_id, user_id=self.user_id, value=button.value, view=view
            )
        else:
            sent = self.sender.button(
                button.action_id,
                user_id=self.user_id,
                value=button.value,
                response_url=self.api.response_url(),
                channel_id=button.channel,
                message_ts=button.ts,
            )
        self.settle()
        return sent, self.api.calls(since=since)

    # --- forms (bot/console/forms.py walks them; these are what it needs) -------------
    @property
    def files(self) -> FileHost:
        return self.api

    def interact(self, payload: dict[str, Any]) -> tuple[Sent, list[Call]]:
        """An interaction payload (a form's), as Slack sends it; waits for its work."""
        since = self.api.mark()
        sent = self.sender.interaction(payload)
        self.settle()
        return sent, self.api.calls(since=since)

    def show(self, sent: Sent, calls: list[Call]) -> str:
        return self._show(sent, calls)

    @property
    def prompt(self) -> str:
        """In a form, the field's name; else who you are: `U0ME (admin)> `."""
        if self.form is not None:
            return self.form.prompt
        return f"{self.user_id}{' (admin)' if self.is_admin else ''}> "

    @property
    def secret(self) -> bool:
        """Whether the next line is a password (read without echo on a terminal)."""
        return self.form is not None and self.form.secret

    def end_of_input(self) -> str | None:
        """Input ended: in a form, leave the form (the text to show); else None."""
        if self.form is None:
            return None
        text, self.form = self.form.end_of_input(), None
        return text

    def _answer_form(self, form: FormWalk, line: str) -> str | None:
        if line.strip() in {"/quit", "/exit"}:
            form.close("")
            self.form = None
            return None
        text = form.answer(line)
        if form.closed:
            self.form = None
        return text

    def handle_line(self, line: str) -> str | None:
        """The text to print for one input line; None means: leave. Posts the bot made on
        its own since the last line come first, with their buttons."""
        background = self._background()
        if self.form is not None:
            answer = self._answer_form(self.form, line)
        else:
            answer = self._handle_line(line)
        self.shown = self.api.mark()
        if answer is None or not background:
            return answer
        return f"{background}\n\n{answer}" if answer else background

    def _background(self) -> str:
        calls = self.api.calls(since=self.shown)
        if not calls:
            return ""
        return self._show(Sent(200, "", 0.0), calls)

    def _handle_line(self, line: str) -> str | None:
        line = line.strip()
        if not line:
            return ""
        if line in {"/quit", "/exit", "quit", "exit"}:
            return None
        if line in {"/?", "/console"}:
            return CONSOLE_HELP
        if line == "/home":
            sent, calls = self.open_home()
            return self._show(sent, calls, show_home=True)
        if line.startswith("/click"):
            choice = line[len("/click") :].strip()
            if not choice.isdigit() or not 1 <= int(choice) <= len(self.buttons):
                return (
                    f"Type /click N with N from 1 to {len(self.buttons)}."
                    if self.buttons
                    else ("There is no button to click.")
                )
            sent, calls = self.click(self.buttons[int(choice) - 1])
            return self._show(sent, calls)
        if line.startswith("/cert"):
            sent, calls = self.command(line[len("/cert") :].strip())
            return self._show(sent, calls)
        if line.startswith("/"):
            return commands.run(self, line)
        sent, calls = self.dm(line)
        return self._show(sent, calls)

    def _show(self, sent: Sent, calls: list[Call], *, show_home: bool = False) -> str:
        """The text of an exchange, and its buttons numbered for /click; a modal the bot
        opened is walked (its first field asked)."""
        form = ""
        if self.form is None and any(call.method == "views.open" for call in calls):
            self.form = FormWalk(self)
            form = self.form.start(calls)
            calls = [call for call in calls if call.method not in VIEW_METHODS]
            if self.form.closed:
                self.form = None
        text = render(sent, calls, show_home=show_home)
        buttons = buttons_in(sent, calls, include_home=show_home)
        if buttons:
            self.buttons = buttons
            listed = "  ".join(f"{i}) {b.label}" for i, b in enumerate(buttons, 1))
            text += f"\n\nButtons: {listed}  (type /click N)"
        return "\n\n".join(part for part in (text, form) if part)


@dataclass(frozen=True)
class Button:
    label: str
    action_id: str
    value: str
    on_home: bool
    # The message it is in: where a click says it came from (a thread reply goes there).
    channel: str = CONSOLE_CHANNEL
    ts: str | None = None


def _buttons_of(
    blocks: list[dict[str, Any]] | None,
    on_home: bool,
    channel: str = CONSOLE_CHANNEL,
    ts: str | None = None,
) -> list[Button]:
    found: list[Button] = []
    for block in blocks or []:
        elements = block.get("elements", []) if block.get("type") == "actions" else []
        if block.get("type") == "section" and isinstance(block.get("accessory"), dict):
            elements = [block["accessory"]]
        for element in elements:
            if element.get("type") == "button":
                label = str((element.get("text") or {}).get("text", ""))
                found.append(
                    Button(
                        label, element["action_id"], element.get("value", ""), on_home, channel, ts
                    )
                )
    return found


def buttons_in(sent: Sent, calls: list[Call], *, include_home: bool) -> list[Button]:
    """Every button a person would see after this exchange, in order."""
    ack = sent.json() if sent.status == 200 else None
    found = _buttons_of(ack.get("blocks") if isinstance(ack, dict) else None, False)
    replaced = _replaced(calls)
    for call in calls:
        if call.method in {"chat.postMessage", "chat.update"} and call.index not in replaced:
            where = _posted_at(call)
            found += _buttons_of(call.blocks, False, where[0] or CONSOLE_CHANNEL, where[1])
        elif call.method in {"response_url", "chat.postEphemeral"}:
            found += _buttons_of(
                call.blocks, False, str(call.params.get("channel") or CONSOLE_CHANNEL)
            )
        elif call.method == "views.publish" and include_home:
            found += _buttons_of(call.view.get("blocks"), True)
    return found


def _ack_text(sent: Sent) -> str:
    if sent.status != 200:
        return f"[error] the app answered HTTP {sent.status}"
    if not sent.body:
        return ""
    try:
        data: Any = json.loads(sent.body)
    except ValueError:
        return sent.body
    if isinstance(data, dict):
        return message_text(data.get("text"), data.get("blocks"))
    return ""


def _posted_at(call: Call) -> tuple[str, str | None]:
    """(channel, ts) of the message a chat.postMessage made or a chat.update changed."""
    ts = call.params.get("ts") if call.method == "chat.update" else call.answer.get("ts")
    return str(call.params.get("channel") or ""), (str(ts) if ts else None)


def _replaced(calls: list[Call]) -> set[int]:
    """The posts (call indexes) a later call of the same exchange updated ("Checking
    your files…" before the verdict): only the update is shown."""
    updated = {_posted_at(call) for call in calls if call.method == "chat.update"}
    return {c.index for c in calls if c.method == "chat.postMessage" and _posted_at(c) in updated}


def _where(channel: str) -> str:
    return "DM" if channel.startswith("D") else f"#{channel}"


def render_call(call: Call, show_home: bool = False) -> str | None:
    if call.method in QUIET_METHODS:
        return None
    if call.method == "response_url":
        where = "in channel" if call.params.get("response_type") == "in_channel" else "only you"
        return f"[{where}]\n" + message_text(call.params.get("text"), call.blocks)
    if call.method == "chat.postMessage":
        where = _where(str(call.params.get("channel", "")))
        if call.params.get("thread_ts"):
            where += ", in the thread"
        return f"[{where}]\n" + message_text(call.params.get("text"), call.blocks)
    if call.method == "chat.postEphemeral":
        return "[only you]\n" + message_text(call.params.get("text"), call.blocks)
    if call.method == "chat.update":
        where = _where(str(call.params.get("channel", "")))
        return f"[{where}, message updated]\n" + message_text(call.params.get("text"), call.blocks)
    if call.method == "views.publish":
        if show_home:
            return "[App Home]\n" + message_text(None, call.view.get("blocks"))
        return "(your App Home was updated: /home shows it)"
    if call.method in {"views.open", "views.update", "views.push"}:
        title = (call.view.get("title") or {}).get("text", "")
        return f"[form: {title}]\n" + message_text(None, call.view.get("blocks"))
    return f"[{call.method}]"


def render(sent: Sent, calls: list[Call], show_home: bool = False) -> str:
    parts = [_ack_text(sent)]
    replaced = _replaced(calls)
    parts += [
        text
        for call in calls
        if call.index not in replaced and (text := render_call(call, show_home)) is not None
    ]
    return "\n\n".join(part for part in parts if part)


@contextmanager
def open_session(
    settings: Settings,
    *,
    user_id: str = DEFAULT_USER,
    admin: bool = False,
    database: Database | None = None,
    services: ServiceContext | None = None,
    lab_dns: bool | None = None,
) -> Iterator[ConsoleSession]:
    """Start the stand-in and the app; stop both on exit. `services` replaces the context
    made from the settings (tests give one with the loopback DNS server's address).

    `lab_dns`: start the lab DNS (bot/console/lab_dns.py) and point the services' DNS
    checks and the TLS check at it; by default when no nameservers are set (neither
    CERTOPS_NAMESERVERS nor the given `services`' own)."""
    with ExitStack() as stack:
        api = stack.enter_context(FakeSlackApi(bot_token=CONSOLE_TOKEN))
        settings = console_settings(settings, api.api_url, user_id, admin)
        # One clock for the app's services and the scheduler's: /time moves both.
        clock = ShiftedClock()
        services = dataclasses.replace(
            services or create_service_context(settings, database), clock=clock
        )
        if lab_dns is None:
            lab_dns = not settings.nameservers and services.default_nameservers is None
        lab = stack.enter_context(LabDns()) if lab_dns else None
        if lab is not None:
            # Every DNS question of the session goes to the lab: the services' checks, and
            # what maps from the settings (the probe's and the Adopt button's ProbeConfig).
            services.default_nameservers = lab.nameservers
            settings = dataclasses.replace(settings, nameservers=tuple(lab.nameservers))
        deps = Deps(settings=settings, services=services)
        # Counted once, by the app's MeteredExecutor (bot/metrics.py), which `work` reads.
        executor = ContextExecutor(max_workers=16, thread_name_prefix="certops-listener")
        stack.callback(executor.shutdown, wait=True)
        app = create_app(settings, deps=deps, listener_executor=executor)
        work = shutdown_for(app).work  # the listener runs and the work pool together
        assert work is not None
        server = stack.enter_context(LoopbackServer(app))
        tls_config = tls_check.TlsCheckConfig(
            default_channel=settings.default_channel,
            resolve=lab.resolve if lab is not None else None,
        )
        # As `certops run` builds them (run_console's scheduler gets the same tls_config).
        jobs = build_jobs(settings, services, app.client, tls_config=tls_config)
        yield ConsoleSession(
            api, server.url, settings, work, user_id, deps=deps, clock=clock, jobs=jobs, lab=lab
        )


def loop(session: ConsoleSession, stdin: TextIO, stdout: TextIO, *, prompt: bool) -> int:
    """Read lines until EOF or /quit, printing the bot's answers. Returns the exit code."""
    if prompt:
        stdout.write(CONSOLE_HELP + "\n")

    def notice(text: str) -> None:
        stdout.write(text + "\n")
        stdout.flush()

    session.notice = notice
    while True:
        line = read_answer(
            stdin, stdout, prompt=session.prompt if prompt else "", secret=session.secret
        )
        if not line:
            if prompt:
                stdout.write("\n")
            left = session.end_of_input()
            if left is not None:  # a form was open: leave it, and go on reading
                stdout.write(left + "\n")
                stdout.flush()
                continue
            return 0
        out = session.handle_line(line)
        if out is None:
            return 0
        if out:
            stdout.write(out + "\n")
            stdout.flush()
