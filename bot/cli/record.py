"""`certops env | cert | assign | ticket | audit`: the record and its rules on a terminal.

The same services the Slack handlers call, so the whole process can be scripted. The
terminal user is an admin (whoever runs certops on the host owns its database).
`DATABASE_URL` picks the database, which is upgraded to the current schema first.

Exit status: 0 done, 1 a rule refused (one line on stderr; with --json an object with a
`code` on stdout) or the database is unavailable (code `database_unavailable`), 2 usage
error. Never a traceback. Passwords come from files or a terminal prompt, never argv.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

from bot.cli.validate import UsageError, read_password_file, read_trust_store
from bot.pipeline.material import InputFile, Passwords

EXIT_DONE, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2
MAX_INPUT_BYTES = 50 * 1024 * 1024
MAX_TIMEOUT = 300.0

log = logging.getLogger(__name__)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see --help)")


def _json_flag() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--json", action="store_true", help="print one JSON object")
    return parent


def _dns_flags() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--nameserver",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="nameserver for the DNS check (repeatable; default: the system resolver)",
    )
    parent.add_argument(
        "--timeout", type=float, default=5.0, metavar="S", help="DNS check budget (default 5)"
    )
    return parent


def _sub(
    subs: Any, name: str, help_text: str, *parents: argparse.ArgumentParser
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subs.add_parser(
        name, help=help_text, description=help_text, parents=[_json_flag(), *parents]
    )
    return parser


def _env_parser(parser: argparse.ArgumentParser) -> None:
    subs = parser.add_subparsers(dest="action", required=True, parser_class=_Parser)
    add = _sub(subs, "add", "register an environment (admins)")
    add.add_argument("name", metavar="NAME")
    add.add_argument(
        "--host",
        required=True,
        metavar="DEFAULT_HOST",
        help="e.g. acme-dev.outsystemsenterprise.com",
    )
    add.add_argument("--lifetime", action="store_true", help="this is the LifeTime environment")
    add.add_argument("--channel", metavar="CHANNEL", help="Slack channel for its warnings")
    _sub(subs, "list", "list environments and what they serve")
    show = _sub(subs, "show", "one environment: hostname, certificate, open tickets")
    show.add_argument("name", metavar="NAME")


def _cert_parser(parser: argparse.ArgumentParser) -> None:
    subs = parser.add_subparsers(dest="action", required=True, parser_class=_Parser)
    submit = _sub(subs, "submit", "validate and store a certificate (public parts only)")
    submit.add_argument("files", nargs="+", metavar="FILE")
    submit.add_argument("--name", required=True, metavar="NAME", help="unique certificate name")
    submit.add_argument("--domain", metavar="D", help="host name, *.wildcard or one SAN name")
    submit.add_argument("--password-file", metavar="F", help="file holding the key/PFX password")
    submit.add_argument("--zip-password-file", metavar="F", help="file holding the ZIP password")
    submit.add_argument("--manual", action="store_true", help="if invalid, ask an admin to review")
    submit.add_argument("--renews", metavar="NAME", help="the certificate this one renews")
    submit.add_argument(
        "--trust-store", metavar="PEM", action="append", default=[], help="extra trusted roots"
    )
    listing = _sub(subs, "list", "list certificates")
    listing.add_argument("--status", metavar="S", help="validated, pending_manual, approved, ...")
    show = _sub(subs, "show", "one certificate with its report and assignments")
    show.add_argument("name", metavar="NAME")
    approve = _sub(subs, "approve", "approve a certificate waiting for manual validation")
    approve.add_argument("name", metavar="NAME")
    approve.add_argument("--reason", metavar="TEXT", help="a note for the submitter")
    reject = _sub(subs, "reject", "reject a certificate waiting for manual validation")
    reject.add_argument("name", metavar="NAME")
    reject.add_argument("--reason", required=True, metavar="TEXT", help="told to the submitter")
    renew = _sub(
        subs, "renew", "put a renewal on every environment the old one serves", _dns_flags()
    )
    renew.add_argument("name", metavar="NAME", help="the new certificate (submitted --renews)")
    renew.add_argument("--cname-confirmed", action="store_true", help="the CNAMEs exist")


def _assign_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("certificate", metavar="CERT")
    parser.add_argument("environment", metavar="ENV")
    parser.add_argument("hostname", metavar="HOSTNAME")
    parser.add_argument(
        "--cname-confirmed",
        action="store_true",
        help="you confirm the CNAME HOSTNAME -> the environment's default host exists",
    )


def _ticket_parser(parser: argparse.ArgumentParser) -> None:
    subs = parser.add_subparsers(dest="action", required=True, parser_class=_Parser)
    opened = _sub(subs, "open", "open a LifeTime support ticket (prints the case text)")
    opened.add_argument("certificate", metavar="CERT")
    opened.add_argument("hostname", metavar="HOSTNAME")
    opened.add_argument("--env", metavar="NAME", help="the LifeTime environment, if several")
    update = _sub(subs, "update", "move a ticket to its next state", _dns_flags())
    update.add_argument("id", type=int, metavar="ID")
    update.add_argument(
        "--state",
        required=True,
        choices=["submitted", "confirmed", "dns_configured", "done", "cancelled"],
    )
    update.add_argument("--case", metavar="NUMBER", help="the support case number")
    listing = _sub(subs, "list", "list tickets")
    listing.add_argument("--open", action="store_true", help="only open tickets")


def build_parser(prog: str, command: str) -> argparse.ArgumentParser:
    parents = [_json_flag()]
    if command == "assign":
        parents.append(_dns_flags())
    parser = _Parser(prog=prog, parents=parents, epilog=__doc__.split("\n\n")[2])
    if command == "env":
        _env_parser(parser)
    elif command == "cert":
        _cert_parser(parser)
    elif command == "assign":
        _assign_parser(parser)
    elif command == "ticket":
        _ticket_parser(parser)
    elif command == "audit":
        parser.add_argument("--limit", type=int, default=20, metavar="N", help="how many")
    else:
        raise UsageError(f"unknown command {command!r}")
    return parser


# --- inputs ---------------------------------------------------------------------------


def _read_file(path: str) -> InputFile:
    file = Path(path)
    try:
        if file.is_dir():
            raise UsageError(f"{path!r} is a directory, not a file")
        if file.stat().st_size > MAX_INPUT_BYTES:
            raise UsageError(f"{path!r} is larger than {MAX_INPUT_BYTES // 2**20} MiB")
        return InputFile(file.name, file.read_bytes())
    except FileNotFoundError:
        raise UsageError(f"{path!r} does not exist") from None
    except PermissionError:
        raise UsageError(f"{path!r} cannot be read (permission denied)") from None
    except OSError as error:
        raise UsageError(f"{path!r} cannot be read: {error.strerror or error}") from None


def _nameservers(texts: list[str]) -> list[tuple[str, int]] | None:
    from bot.pipeline.dns_check import parse_nameserver

    try:
        return [parse_nameserver(text) for text in texts] or None
    except ValueError as error:
        raise UsageError(str(error)) from None


def _timeout(value: float) -> float:
    if not 0 < value <= MAX_TIMEOUT:
        raise UsageError(f"--timeout must be more than 0 and at most {MAX_TIMEOUT:g} seconds")
    return value


def _is_tty() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):
        return False


def _missing_passwords(report: dict[str, Any], passwords: Passwords) -> tuple[bool, bool]:
    need_key = need_zip = False
    for f in report.get("findings", []):
        if f.get("code") != "password_required":
            continue
        text = str(f.get("message", "")).lower()
        if "zip" in text or "archive" in text:
            need_zip = need_zip or passwords.zip is None
        else:
            need_key = need_key or passwords.key is None
    return need_key, need_zip


# --- the commands ---------------------------------------------------------------------

Result = Any  # a service result or view: has to_dict()


def _run(args: argparse.Namespace, command: str, ctx: Any, ask: Callable[[str], str]) -> Result:
    from bot.services import (
        assignments,
        audit,
        certificates,
        environments,
        renewals,
        tickets,
    )
    from bot.services.actors import terminal_actor
    from bot.services.errors import ServiceError

    actor = terminal_actor()
    if command == "env":
        if args.action == "add":
            return environments.add_environment(
                ctx,
                actor,
                args.name,
                default_host=args.host,
                is_lifetime=args.lifetime,
                channel=args.channel,
            )
        if args.action == "list":
            return environments.list_environments(ctx)
        return environments.show_environment(ctx, args.name)
    if command == "cert":
        if args.action == "submit":
            files = [_read_file(p) for p in args.files]
            passwords = Passwords(
                key=read_password_file(args.password_file) if args.password_file else None,
                zip=read_password_file(args.zip_password_file) if args.zip_password_file else None,
            )
            if args.trust_store:
                roots = [c for p in args.trust_store for c in read_trust_store(p)]
                ctx = replace(ctx, extra_roots=[*ctx.extra_roots, *roots])
            for round_ in range(3):
                try:
                    return certificates.submit_certificate(
                        ctx,
                        actor,
                        files,
                        passwords,
                        name=args.name,
                        domain=args.domain,
                        manual=args.manual,
                        renews=args.renews,
                    )
                except ServiceError as error:
                    report = error.details.get("report")
                    if error.code != "certificate_invalid" or not report or round_ == 2:
                        raise
                    need_key, need_zip = _missing_passwords(report, passwords)
                    if not (_is_tty() and (need_key or need_zip)):
                        raise
                    if need_zip:
                        passwords = replace(passwords, zip=ask("ZIP password: ").encode())
                    if need_key:
                        passwords = replace(passwords, key=ask("Key/PFX password: ").encode())
        if args.action == "list":
            return certificates.list_certificates(ctx, args.status)
        if args.action == "show":
            return certificates.show_certificate(ctx, args.name)
        if args.action == "approve":
            return certificates.approve_certificate(ctx, actor, args.name, args.reason)
        if args.action == "reject":
            return certificates.reject_certificate(ctx, actor, args.name, args.reason)
        return renewals.apply_renewal(
            ctx,
            actor,
            args.name,
            cname_confirmed=args.cname_confirmed,
            nameservers=_nameservers(args.nameserver),
            timeout=_timeout(args.timeout),
        )
    if command == "assign":
        return assignments.assign_certificate(
            ctx,
            actor,
            args.certificate,
            args.environment,
            args.hostname,
            cname_confirmed=args.cname_confirmed,
            nameservers=_nameservers(args.nameserver),
            timeout=_timeout(args.timeout),
        )
    if command == "ticket":
        if args.action == "open":
            return tickets.open_ticket(
                ctx, actor, args.certificate, args.hostname, environment=args.env
            )
        if args.action == "update":
            return tickets.update_ticket(
                ctx,
                actor,
                args.id,
                args.state,
                case_number=args.case,
                nameservers=_nameservers(args.nameserver),
                timeout=_timeout(args.timeout),
            )
        return tickets.list_tickets(ctx, open_only=args.open)
    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    return audit.recent(ctx, args.limit)


# --- output ---------------------------------------------------------------------------


def _to_json(result: Result) -> dict[str, Any]:
    if isinstance(result, list):
        return {"ok": True, "items": [item.to_dict() for item in result]}
    data = result.to_dict()
    if "ok" not in data:
        data = {"ok": True, **data}
    return dict(data)


def _print_json(data: dict[str, Any]) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def _context(settings: Any) -> Any:
    """The services' context on the configured database, upgraded to head first."""
    from bot.services.context import ServiceContext
    from bot.services.errors import DatabaseDown
    from storage import migrate
    from storage.db import Database
    from storage.errors import StorageError

    url = settings.effective_database_url
    try:
        migrate.upgrade(url)
        database = Database(url)
    except StorageError as error:
        raise DatabaseDown(str(error)) from None
    return ServiceContext(database, load_balancer_patterns=settings.load_balancer_patterns)


def main(
    argv: list[str],
    prog: str = "certops",
    command: str = "env",
    *,
    ask: Callable[[str], str] = getpass.getpass,
) -> int:
    from bot import settings as settings_module
    from bot.cli import record_text
    from bot.services.errors import ServiceError

    try:
        args = build_parser(prog, command).parse_args(argv)
    except UsageError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exit_:  # --help
        return EXIT_DONE if exit_.code in (0, None) else EXIT_USAGE
    ctx = None
    try:
        ctx = _context(settings_module.load())
        result = _run(args, command, ctx, ask)
    except UsageError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except ServiceError as error:
        if args.json:
            _print_json(error.to_dict())
        else:
            record_text.print_refusal(prog, error)
        return EXIT_REFUSED
    except Exception as error:  # a bug must still not show a traceback to a user
        log.debug("unexpected error", exc_info=True)
        print(
            f"{prog}: unexpected error ({type(error).__name__}); nothing was changed "
            "that was not recorded",
            file=sys.stderr,
        )
        return EXIT_REFUSED
    finally:
        if ctx is not None:
            ctx.database.dispose()
    if args.json:
        _print_json(_to_json(result))
    else:
        print(record_text.render(result))
    failed = getattr(result, "ok", True) is False  # a renewal with a refused environment
    return EXIT_REFUSED if failed else EXIT_DONE
