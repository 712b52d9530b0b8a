"""The `certops` command: a dispatcher that imports only the subcommand it runs.

Each subcommand lives in its own module with a `main(argv) -> int`. Importing lazily is
what keeps `certops validate` free of Slack, SQLModel and dnspython (a public promise:
scripts and CI call it in loops).
"""

from __future__ import annotations

import contextlib
import importlib
import sys

from bot.cli.startup import EXIT_INTERNAL as INTERNAL_EXIT
from bot.cli.startup import EXIT_SIGPIPE as SIGPIPE_EXIT
from bot.cli.startup import EXIT_USAGE as USAGE_EXIT

# name -> (module, one-line summary). Several names may share a module.
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("bot.cli.validate", "check certificate files: verdict, findings, chain"),
    "dns": ("bot.cli.dns", "check that a hostname is a CNAME to an environment's host"),
    "run": ("bot.cli.run", "run the bot (Slack, or console mode without tokens)"),
    "console": ("bot.cli.console", "talk to the bot from a terminal (/cert ... as in Slack)"),
    "db": ("bot.cli.db", "migrate the database schema (upgrade) or show its revision (current)"),
    "env": ("bot.cli.record", "environments: add, list, show, sync (from LifeTime)"),
    "cert": ("bot.cli.record", "certificates: submit, list, show, approve, reject, renew"),
    "assign": ("bot.cli.record", "put a certificate and hostname on an environment"),
    "adopt": ("bot.cli.record", "record the certificate a hostname serves (status observed)"),
    "ticket": ("bot.cli.record", "LifeTime support tickets: open, update, list"),
    "audit": ("bot.cli.record", "the latest changes: who, what, when, before/after"),
    "doctor": ("bot.cli.doctor", "check the configuration item by item and say what to fix"),
    "notify": ("bot.cli.notify", "post due expiry warnings and TLS checks once (for cron)"),
    "samples": (
        "bot.cli.samples",
        "write test certificates (a throwaway CA, valid and broken sets)",
    ),
    "probe": ("bot.cli.probe", "probe what every hostname serves, report drift (for cron)"),
}


def _usage() -> str:
    lines = ["usage: certops COMMAND [options]", "", "commands:"]
    width = max(len(name) for name in COMMANDS)
    for name, (_, summary) in COMMANDS.items():
        lines.append(f"  {name.ljust(width)}  {summary}")
    lines += ["", "Run 'certops COMMAND --help' for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help", "help"}:
        print(_usage())
        return 0 if args else USAGE_EXIT
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"certops: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return USAGE_EXIT
    module = importlib.import_module(COMMANDS[name][0])
    try:
        return int(module.main(rest, prog=f"certops {name}", command=name))
    except KeyboardInterrupt:
        print("certops: interrupted", file=sys.stderr)
        return 130
    except SystemExit:
        raise
    except BrokenPipeError:
        return _reader_gone()
    except BaseException as error:  # pyo3 panics from cryptography are BaseException
        return _internal_error(name, error)


def _internal_error(name: str, error: BaseException) -> int:
    """A bug of ours ends in one line, never a traceback (which could quote inputs).

    The message names the error's type only; `CERTOPS_DEBUG=1` shows the traceback to
    whoever debugs it on their own terminal.
    """
    import os

    if os.environ.get("CERTOPS_DEBUG"):
        import traceback

        traceback.print_exception(error)
    print(
        f"certops {name}: internal error ({type(error).__name__}); a change may or may not "
        "have been saved (certops audit shows it). Please report it; CERTOPS_DEBUG=1 shows "
        "the details.",
        file=sys.stderr,
    )
    return INTERNAL_EXIT


def _reader_gone() -> int:
    """`certops ... | head`: the reader left, the work is done; end as a SIGPIPE'd tool does.

    Not an internal error (the command may well have changed the record: saying otherwise
    would mislead); stdout goes to /dev/null so the interpreter's last flush stays quiet.
    """
    import os

    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return SIGPIPE_EXIT
