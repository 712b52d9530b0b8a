"""The console's own `/` commands: what a person does in Slack besides typing.

`/upload PATH...` drops local files in the DM with the bot (a `file_share` event whose
files the stand-in hosts, as Slack sends it); `/as USER` and `/admin on|off` change who
is acting, as Errbot's text backend does with `!asuser`; `/time` moves the services'
clock and runs the scheduler's scan at once, so expiry warnings, snooze ends, renewal
offers and TLS checks show as the bot posts them. Everything goes through the same
listeners, as the payloads Slack would send: nothing here calls a handler directly.

A table, so the help and the answer to an unknown command list the same commands; the
session keeps `/cert`, `/home`, `/click` and `/quit` itself (they are in the table for
the help only).
"""

from __future__ import annotations

import datetime as dt
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.console.lab_dns import DNS_USAGE, LAB_ADDRESS, LAB_TARGET, LabDnsError, record_lines
from bot.console.local_files import LocalFileError, host_files, read_local_files
from bot.console.sender import Sent, file_share_event
from bot.scheduler import run_once
from bot.services.mrkdwn import USER_ID

if TYPE_CHECKING:  # the session imports this module
    from bot.console.session import ConsoleSession

Run = Callable[["ConsoleSession", str], str]

# `/time +30d`: a signed number of days, hours or minutes.
_RELATIVE = re.compile(r"([+-])(\d{1,5})([dhm])")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}
# How far /time may go from today: far enough for any certificate, short of datetime's end.
MAX_YEARS_AWAY = 100
TIME_USAGE = (
    "Type /time +30d (or +12h, +30m, -1d), /time 2027-01-10 (a UTC date, or date and "
    "time) or /time now."
)


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    does: str
    run: Run | None = None  # None: the session answers it itself


def upload(session: ConsoleSession, args: str) -> str:
    """Drop files in the DM: every path read and checked first, so a bad one sends none."""
    try:
        files = read_local_files(args)
    except LocalFileError as error:
        return f"Nothing sent. {error}"
    hosted = host_files(session.api, files)
    event = file_share_event(hosted, session.user_id)
    sent, calls = session.exchange(lambda: session.sender.event(event))
    names = ", ".join(item.name for item in files)
    return f"[you, in the DM] {names}\n\n{session.show(sent, calls)}".rstrip()


def act_as(session: ConsoleSession, args: str) -> str:
    user = args.strip().upper()
    if not USER_ID.fullmatch(user):
        return "Type /as USER with a Slack user id, such as /as U0ALICE."
    session.user_id = user
    return f"You are now {who(session)}."


def admin(session: ConsoleSession, args: str) -> str:
    choice = args.strip().lower()
    if choice not in {"on", "off"}:
        return "Type /admin on or /admin off."
    session.set_admin(choice == "on")
    return f"You are now {who(session)}."


def who(session: ConsoleSession) -> str:
    return f"{session.user_id} ({'an admin' if session.is_admin else 'not an admin'})"


def parse_time(text: str) -> dt.timedelta | dt.datetime | None:
    """`+Nd`/`+Nh`/`+Nm` (a step), an ISO date or time (UTC unless it says), or `now`
    (None: back to the real time). ValueError with the line for the user otherwise."""
    text = text.strip()
    if not text:
        raise ValueError(TIME_USAGE)
    if text.lower() == "now":
        return None
    relative = _RELATIVE.fullmatch(text)
    if relative:
        sign, number, unit = relative.groups()
        step = dt.timedelta(**{_UNITS[unit]: int(number)})
        return -step if sign == "-" else step
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"Cannot read {text!r} as a time. {TIME_USAGE}") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def move_time(session: ConsoleSession, args: str) -> str:
    """Move the services' clock, then run the scheduler's jobs once and show their posts."""
    clock = session.clock
    try:
        change = parse_time(args)
    except ValueError as error:
        return str(error)
    if change is None:
        target = clock.base()
    elif isinstance(change, dt.timedelta):
        target = clock() + change  # at most 99999 days either way: within datetime
    else:
        target = change
    if abs(target - clock.base()) > dt.timedelta(days=365 * MAX_YEARS_AWAY):
        return f"That is more than {MAX_YEARS_AWAY} years from today: pick a nearer time."
    if change is None:
        clock.reset()  # exactly the real time again
    else:
        clock.set(target)
    since = session.api.mark()
    results = run_once(session.jobs.as_list())
    session.settle()
    calls = session.api.calls(since=since)
    failed = [name for name, result in results.items() if isinstance(result, Exception)]
    shown = session.show(Sent(200, "", 0.0), calls)
    said = [f"The clock now says {clock():%Y-%m-%d %H:%M} UTC ({_shift(clock.shift)})."]
    if failed:
        said.append(f"The scan of {', '.join(failed)} failed: the log says why.")
    said.append(shown or "The scheduler scanned: nothing to post.")
    return "\n\n".join(said)


def _shift(shift: dt.timedelta) -> str:
    if abs(shift) < dt.timedelta(seconds=1):
        return "the real time"
    days = shift / dt.timedelta(days=1)
    where = "ahead of" if days > 0 else "behind"
    if abs(days) >= 1:
        return f"{abs(days):.1f} days {where} the real time"
    return f"{abs(shift / dt.timedelta(hours=1)):.1f} hours {where} the real time"


DEFAULT_SAMPLES_DIR = "samples"
SAMPLES_USAGE = "Type /samples [DIR] [--name HOST] [--force] (DIR defaults to ./samples)."


def samples(session: ConsoleSession, args: str) -> str:
    """Write test certificates (bot/samples, as `certops samples` does), trust their root
    in this session, and give the lab DNS the record the walk-through's assignment needs."""
    from bot.cli.samples import build_parser, render
    from bot.cli.startup import UsageError
    from bot.samples import SamplesError, write_samples
    from bot.trust_roots import TrustRootsError, read_trust_file

    try:
        words = shlex.split(args)
        if not words or words[0].startswith("-"):
            words = [DEFAULT_SAMPLES_DIR, *words]
        if "-h" in words or "--help" in words:
            return SAMPLES_USAGE
        options = build_parser("/samples").parse_args(words)
    except (ValueError, UsageError) as error:
        return f"{error}. {SAMPLES_USAGE}"
    try:
        written = write_samples(
            Path(options.directory),
            options.name,
            force=options.force,
            now=session.clock(),
            progress=session.notice,
        )
        roots = read_trust_file(written.trust_store)
    except (SamplesError, TrustRootsError) as error:
        return f"No samples written: {error}."
    services = session.deps.services
    services.extra_roots = [
        *services.extra_roots,
        *(r for r in roots if r not in services.extra_roots),
    ]
    trusted = (
        f"This console trusts {written.trust_store} from now on, until you leave: the DM "
        "uploads (their worker process too), the forms, assignments and renewals validate "
        "with it."
    )
    needed = record_lines(written.name)
    if session.lab is not None:
        for line in needed:
            name, kind, target = line.split()
            session.lab.set(name, kind, target.rstrip("."))
        dns = (
            f"The console's lab DNS ({session.lab.nameserver}) now answers:\n"
            + "\n".join(f"  {line}" for line in needed)
            + f"\n  {LAB_TARGET}. A {LAB_ADDRESS}\n"
            "/dns NAME CNAME|A TARGET changes it (try the other DNS verdicts)."
        )
    else:
        dns = (
            "Your nameservers (CERTOPS_NAMESERVERS) answer the DNS checks: for the "
            "assignment below they need\n" + "\n".join(f"  {line}" for line in needed)
        )
    steps = "\n".join(
        [
            "Next:",
            f"  /upload {written.directory / 'valid.pfx'}     then the password above in the form",
            f"  /cert env add dev {LAB_TARGET}",
            f"  /cert assign     certificate, environment dev, hostname {written.name}",
            "  /time +25d       the expiry warning, with its buttons",
        ]
    )
    return "\n\n".join([render(written).rstrip(), trusted, dns, steps])


def lab_dns(session: ConsoleSession, args: str) -> str:
    """`/dns NAME CNAME|A TARGET`, `/dns NAME none`, `/dns`: the lab DNS's records."""
    lab = session.lab
    if lab is None:
        return (
            "There is no lab DNS: CERTOPS_NAMESERVERS names the nameservers the DNS "
            "checks ask; change the records there."
        )
    words = args.split()
    if not words:
        return lab.listing()
    try:
        if len(words) == 2 and words[1].lower() == "none":
            return lab.set(words[0], "A", None)
        if len(words) != 3:
            return DNS_USAGE
        return lab.set(words[0], words[1], words[2])
    except LabDnsError as error:
        return f"{error}. {DNS_USAGE}"


COMMANDS: tuple[Command, ...] = (
    Command("/cert", "/cert ...", "a slash command, as in Slack (try /cert help)"),
    Command("/home", "/home", "show your App Home"),
    Command("/click", "/click N", "click button N of the last answer"),
    Command("/upload", "/upload PATH...", "drop files in the DM (~, globs, quotes)", upload),
    Command("/as", "/as USER", "act as another Slack user id", act_as),
    Command("/admin", "/admin on|off", "make the acting person an admin, or not", admin),
    Command("/time", "/time +30d|+12h|DATE|now", "move the clock; the scheduler scans", move_time),
    Command(
        "/samples", "/samples [DIR] [--name HOST]", "write test certificates, trust them", samples
    ),
    Command("/dns", "/dns [NAME CNAME|A TARGET]", "show or change the lab DNS's records", lab_dns),
    Command("/quit", "/quit", "leave"),
)
BY_NAME = {command.name: command for command in COMMANDS}
HELP = "\n".join(
    [
        "Type /cert ... as in Slack; any other text goes to the bot as a DM. Commands:",
        *(f"  {c.usage:<28} {c.does}" for c in COMMANDS),
        "In a form: answer each field, Enter keeps the value shown, /cancel closes it.",
    ]
)


def unknown(name: str) -> str:
    listed = " ".join(c.name for c in COMMANDS)
    return f"{name} is not a console command. Try one of: {listed} (/? explains them)."


def run(session: ConsoleSession, line: str) -> str:
    """Answer a `/` line the session did not take itself: a table entry, or one line."""
    name, _, args = line.strip().partition(" ")
    command = BY_NAME.get(name.lower())
    if command is None or command.run is None:
        return unknown(name)
    return command.run(session, args)
