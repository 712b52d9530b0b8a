"""What every `certops` command does around its own work, written once.

Exit codes, argument errors, the options several commands share, bounded reading of the
files named on a command line, the settings check and the database start-up lived in
each command before; each copy drifted (`cert submit` read `/dev/zero` until memory ran
out while `validate` stopped at 50 MiB; the record commands ended a bug with exit 1).

Import-light on purpose: `certops validate` and `certops dns` import this module, and
they must not pay for Slack, SQLModel or cryptography before they need it, so anything
heavy is imported inside the function that uses it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from bot.cli.files import InputFileError, read_input_file

if TYPE_CHECKING:
    import threading

    from cryptography import x509
    from slack_sdk import WebClient

    from bot.pipeline.findings import Finding
    from bot.pipeline.material import InputFile, Passwords
    from bot.scheduler import Scheduler
    from bot.services.context import ServiceContext
    from bot.settings import Settings
    from storage.db import Database

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# An error of ours, not the user's: sysexits' EX_SOFTWARE, outside every command's contract.
EXIT_INTERNAL = 70
# 128 + SIGPIPE: what a shell reports for a tool whose reader went away (`| head`).
EXIT_SIGPIPE = 141

MAX_INPUT_BYTES = 50 * 1024 * 1024  # one certificate, key, bundle, PFX or ZIP
MAX_PASSWORD_BYTES = 64 * 1024  # a password file, not a key or a bundle named by mistake
MAX_TIMEOUT = 300.0  # seconds, for every --timeout

T = TypeVar("T")


class UsageError(Exception):
    """A problem with the command line or the files named on it: one line, exit 2."""


class StartupError(Exception):
    """The command cannot start (the database cannot be opened): one line, exit 1."""


class Parser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of printing and exiting on its own."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see --help)")


def usage_line(prog: str, error: BaseException) -> int:
    print(f"{prog}: error: {error}", file=sys.stderr)
    return EXIT_USAGE


def fail(prog: str, message: str, code: int = EXIT_FAILED) -> int:
    """One line on stderr, the exit code back: how a command that cannot go on ends."""
    print(f"{prog}: {message}", file=sys.stderr)
    return code


# --- options declared by several commands ----------------------------------------------


def json_option() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--json", action="store_true", help="print one JSON object")
    return parent


def password_options() -> argparse.ArgumentParser:
    """`--password-file` and `--zip-password-file`: never a password on argv (every user of
    the machine can read it), so only files, or a prompt on a terminal."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--password-file", metavar="F", help="file holding the key/PFX password")
    parent.add_argument("--zip-password-file", metavar="F", help="file holding the ZIP password")
    return parent


def trust_store_option() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--trust-store",
        metavar="PEM",
        action="append",
        default=[],
        help="extra trusted roots, added to CERTOPS_TRUST_STORE's (repeatable)",
    )
    return parent


def dns_options(default_timeout: float = 5.0) -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--nameserver",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="nameserver for the DNS check (repeatable; default: the system resolver)",
    )
    parent.add_argument(
        "--timeout",
        type=float,
        default=default_timeout,
        metavar="S",
        help=f"DNS check budget in seconds (default {default_timeout:g})",
    )
    return parent


def nameservers(texts: Sequence[str]) -> list[tuple[str, int]] | None:
    """`--nameserver` values as (host, port); None for the system resolver."""
    from bot.pipeline.nameservers import parse_nameserver

    try:
        return [parse_nameserver(text) for text in texts] or None
    except ValueError as error:
        raise UsageError(str(error)) from None


def timeout(value: float) -> float:
    if not 0 < value <= MAX_TIMEOUT:
        raise UsageError(f"--timeout must be more than 0 and at most {MAX_TIMEOUT:g} seconds")
    return value


# --- files named on the command line ---------------------------------------------------


def read_bytes(path: str, what: str, max_bytes: int = MAX_INPUT_BYTES) -> bytes:
    """The file's bytes through the bounded reader (FIFOs, /dev/zero, huge files end in
    one line); a UsageError otherwise."""
    try:
        return read_input_file(path, what, max_bytes)
    except InputFileError as exc:
        raise UsageError(str(exc)) from None


def read_inputs(paths: Sequence[str], what: str = "file") -> list[InputFile]:
    from bot.pipeline.material import InputFile

    return [InputFile(Path(path).name, read_bytes(path, what)) for path in paths]


def read_password_file(path: str) -> bytes:
    """The password is the file's content less one trailing newline (as `echo` writes)."""
    data = read_bytes(path, "password file", MAX_PASSWORD_BYTES)
    for end in (b"\r\n", b"\n"):
        if data.endswith(end):
            return data[: -len(end)]
    return data


def read_passwords(args: argparse.Namespace) -> Passwords:
    """The passwords of `password_options()`; what is left out stays None (not given)."""
    from bot.pipeline.material import Passwords

    def read(path: str | None) -> bytes | None:
        return read_password_file(path) if path is not None else None

    return Passwords(key=read(args.password_file), zip=read(args.zip_password_file))


def read_trust_stores(paths: Sequence[str]) -> list[x509.Certificate]:
    """Extra trusted roots (`--trust-store`): PEM bundles (unreadable blocks skipped) or
    DER certificates, read as CERTOPS_TRUST_STORE's files are (bot/trust_roots.py)."""
    from bot.trust_roots import TrustRootsError, read_trust_files

    try:
        return read_trust_files(paths)
    except TrustRootsError as exc:
        raise UsageError(str(exc)) from None


def trust_roots(paths: Sequence[str]) -> list[x509.Certificate]:
    """CERTOPS_TRUST_STORE's roots, then `--trust-store`'s (the option adds to the
    setting), for a command that needs no other setting (`certops validate`): a bad
    setting elsewhere does not stop it, a bad trust store file does (one line, exit 2)."""
    from bot import settings as settings_module
    from bot.trust_roots import TrustRootsError, setting_roots

    try:
        from_setting = setting_roots(settings_module.load())
    except TrustRootsError as exc:
        raise UsageError(str(exc)) from None
    return [*from_setting, *read_trust_stores(paths)]


def with_password_prompts(
    attempt: Callable[[Passwords], T],
    findings_of: Callable[[T], Iterable[Finding | Mapping[str, Any]]],
    passwords: Passwords,
    *,
    interactive: bool,
    ask: Callable[[str], str],
) -> T:
    """Run `attempt`; on a terminal, ask for each password its findings say is missing
    (`Finding.secret`, never guessed from the text) and run it again.

    Each password is asked at most once (a ZIP may hold an encrypted key: two rounds); a
    wrong one is reported, not asked again, so a script on a pseudo-terminal cannot loop.
    """
    from bot.pipeline.findings import Secret, missing_secrets

    outcome = attempt(passwords)
    asked: set[Secret] = set()
    while interactive:
        needed = missing_secrets(findings_of(outcome)) - asked
        if not needed:
            break
        asked |= needed
        try:
            if Secret.ZIP in needed and passwords.zip is None:
                passwords = replace(passwords, zip=_answer(ask, "ZIP password: "))
            if Secret.KEY in needed and passwords.key is None:
                passwords = replace(passwords, key=_answer(ask, "Key/PFX password: "))
        except EOFError:
            # Ctrl-D at the prompt: no password; the report says password_required.
            print(file=sys.stderr)
            break
        outcome = attempt(passwords)
    return outcome


def _answer(ask: Callable[[str], str], prompt: str) -> bytes:
    """What was typed, as bytes; odd bytes a terminal sent are kept as they were."""
    try:
        return ask(prompt).encode("utf-8", "surrogateescape")
    except UnicodeError:
        raise UsageError(
            "the password typed could not be read in this terminal's encoding"
        ) from None


def is_tty() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):
        return False


# --- settings, database, scheduler -----------------------------------------------------


def load_settings() -> Settings:
    """The settings (environment and `.env`); a UsageError naming every problem.

    CERTOPS_TRUST_STORE's files are read here, once for the process: a missing or
    unreadable one stops the command at start, not at the first upload.
    """
    from bot import settings as settings_module
    from bot.trust_roots import setting_problem

    settings = settings_module.load()
    problems = settings.problems()
    trust_problem = setting_problem(settings)
    if trust_problem:
        problems.append(trust_problem)
    if problems:
        raise UsageError("; ".join(problems))
    return settings


def open_database(settings: Settings) -> Database:
    """The configured database, upgraded to the current schema first and answering.

    One query of `alembic_version` first: at the head revision (the usual case) Alembic
    is not even imported; otherwise `storage.migrate` upgrades as before.
    """
    from storage.db import Database
    from storage.errors import StorageError
    from storage.schema_version import HEAD_REVISION

    url = settings.effective_database_url
    try:
        database = Database(url)
    except StorageError as error:
        raise StartupError(str(error)) from None
    try:
        if database.revision() != HEAD_REVISION:
            from storage import migrate

            migrate.upgrade(url)
            database.check()
    except StorageError as error:
        database.dispose()
        raise StartupError(str(error)) from None
    return database


def service_context(settings: Settings, database: Database) -> ServiceContext:
    from bot.context import create_service_context

    return create_service_context(settings, database)


def start_scheduler(
    settings: Settings,
    database: Database,
    client: WebClient,
    stopping: threading.Event | None = None,
) -> Scheduler:
    """The expiry and TLS-check scheduler, as `certops run` and the console start it."""
    from bot.scheduler import start_scheduler as start

    return start(settings, service_context(settings, database), client, stopping)
