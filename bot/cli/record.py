"""`certops env | cert | assign | adopt | ticket | audit`: the record and its rules on a terminal.

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
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from bot.cli import startup
from bot.cli.startup import (
    EXIT_FAILED,
    EXIT_OK,
    Parser,
    UsageError,
    dns_options,
    json_option,
    nameservers,
    password_options,
    timeout,
    trust_store_option,
)

if TYPE_CHECKING:
    from bot.pipeline.material import Passwords
    from bot.services.context import ServiceContext
    from bot.settings import Settings

# `certops env sync --timeout`: the same default as bot.pipeline.lifetime_api's (not
# imported here: `env list` must not pay for ssl and http.client).
DEFAULT_LIFETIME_TIMEOUT = 15.0


def _sub(
    subs: Any, name: str, help_text: str, *parents: argparse.ArgumentParser
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subs.add_parser(
        name, help=help_text, description=help_text, parents=[json_option(), *parents]
    )
    return parser


def _env_parser(parser: argparse.ArgumentParser) -> None:
    subs = parser.add_subparsers(dest="action", required=True, parser_class=Parser)
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
    sync = _sub(
        subs,
        "sync",
        "create or update environments from LifeTime's API (admins); never deletes. "
        "The token comes from LIFETIME_API_TOKEN only",
    )
    sync.add_argument(
        "--lifetime",
        metavar="URL",
        help="LifeTime's address, e.g. https://acme-lt.outsystemsenterprise.com "
        "(default: CERTOPS_LIFETIME_URL)",
    )
    sync.add_argument(
        "--dry-run", action="store_true", help="show what would change, write nothing"
    )
    sync.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_LIFETIME_TIMEOUT,
        metavar="S",
        help=f"seconds for LifeTime's answer in all (default {DEFAULT_LIFETIME_TIMEOUT:g})",
    )


def _cert_parser(parser: argparse.ArgumentParser) -> None:
    subs = parser.add_subparsers(dest="action", required=True, parser_class=Parser)
    submit = _sub(
        subs,
        "submit",
        "validate and store a certificate (public parts only)",
        password_options(),
        trust_store_option(),
    )
    submit.add_argument("files", nargs="+", metavar="FILE")
    submit.add_argument("--name", required=True, metavar="NAME", help="unique certificate name")
    submit.add_argument("--domain", metavar="D", help="host name, *.wildcard or one SAN name")
    submit.add_argument("--manual", action="store_true", help="if invalid, ask an admin to review")
    submit.add_argument("--renews", metavar="NAME", help="the certificate this one renews")
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
        subs, "renew", "put a renewal on every environment the old one serves", dns_options()
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


def _adopt_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("hostname", metavar="HOSTNAME", help="the hostname to probe (SNI)")
    parser.add_argument("environment", metavar="ENV", help="the environment it belongs to")


def _ticket_parser(parser: argparse.ArgumentParser) -> None:
    subs = parser.add_subparsers(dest="action", required=True, parser_class=Parser)
    opened = _sub(subs, "open", "open a LifeTime support ticket (prints the case text)")
    opened.add_argument("certificate", metavar="CERT")
    opened.add_argument("hostname", metavar="HOSTNAME")
    opened.add_argument("--env", metavar="NAME", help="the LifeTime environment, if several")
    update = _sub(subs, "update", "move a ticket to its next state", dns_options())
    update.add_argument("id", type=int, metavar="ID")
    update.add_argument(
        "--state",
        required=True,
        choices=["submitted", "confirmed", "dns_configured", "done", "cancelled"],
    )
    update.add_argument("--case", metavar="NUMBER", help="the support case number")
    listing = _sub(subs, "list", "list tickets")
    listing.add_argument("--open", action="store_true", help="only open tickets")


def _audit_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", type=int, default=20, metavar="N", help="how many")


PARSERS: dict[str, Callable[[argparse.ArgumentParser], None]] = {
    "env": _env_parser,
    "cert": _cert_parser,
    "assign": _assign_parser,
    "adopt": _adopt_parser,
    "ticket": _ticket_parser,
    "audit": _audit_parser,
}


def build_parser(prog: str, command: str) -> argparse.ArgumentParser:
    if command not in PARSERS:
        raise UsageError(f"unknown command {command!r}")
    parents = [json_option(), *([dns_options()] if command in {"assign", "adopt"} else [])]
    parser = Parser(prog=prog, parents=parents, epilog=__doc__.split("\n\n")[2])
    PARSERS[command](parser)
    return parser


# --- one function per verb -------------------------------------------------------------

Result = Any  # a service result or view: has to_dict()


@dataclass(frozen=True)
class Call:
    """What every verb gets: its arguments, the services' context, a password prompt."""

    args: argparse.Namespace
    ctx: ServiceContext
    ask: Callable[[str], str]
    settings: Settings | None = None  # what the verb needs beyond the context (adopt)

    @property
    def actor(self) -> Any:
        from bot.services.actors import terminal_actor

        return terminal_actor()


def env_add(call: Call) -> Result:
    from bot.services import environments

    a = call.args
    return environments.add_environment(
        call.ctx, call.actor, a.name, default_host=a.host, is_lifetime=a.lifetime, channel=a.channel
    )


def env_list(call: Call) -> Result:
    from bot.services import environments

    return environments.list_environments(call.ctx)


def env_show(call: Call) -> Result:
    from bot.services import environments

    return environments.show_environment(call.ctx, call.args.name)


def env_sync(call: Call) -> Result:
    """Read LifeTime's environments and bring the record in line (`--dry-run`: only say how)."""
    from bot.services import environment_sync
    from bot.services.errors import ServiceError

    a = call.args
    assert call.settings is not None
    try:
        target = environment_sync.lifetime_target(
            call.settings, a.lifetime, timeout=timeout(a.timeout), extra_roots=call.ctx.extra_roots
        )
    except ServiceError as error:
        if error.code == "invalid_input" and a.lifetime:
            raise UsageError(f"--lifetime: {error.message}") from None
        raise
    return environment_sync.sync_environments(call.ctx, call.actor, target, dry_run=a.dry_run)


def cert_submit(call: Call) -> Result:
    """Submit; on a terminal, ask once for each password the report says is missing."""
    from bot.services import certificates
    from bot.services.errors import ServiceError

    a, ctx = call.args, call.ctx
    files = startup.read_inputs(a.files)
    roots = startup.read_trust_stores(a.trust_store)
    if roots:
        ctx = replace(ctx, extra_roots=[*ctx.extra_roots, *roots])

    def attempt(passwords: Passwords) -> Result:
        try:
            return certificates.submit_certificate(
                ctx,
                call.actor,
                files,
                passwords,
                name=a.name,
                domain=a.domain,
                manual=a.manual,
                renews=a.renews,
            )
        except ServiceError as error:
            return error

    outcome = startup.with_password_prompts(
        attempt,
        _refused_findings,
        startup.read_passwords(a),
        interactive=startup.is_tty(),
        ask=call.ask,
    )
    if isinstance(outcome, ServiceError):
        raise outcome
    return outcome


def _refused_findings(outcome: Result) -> list[dict[str, Any]]:
    """The findings of a submission refused as invalid: where a missing password shows."""
    from bot.services.errors import ServiceError

    if not isinstance(outcome, ServiceError) or outcome.code != "certificate_invalid":
        return []
    report = outcome.details.get("report") or {}
    return list(report.get("findings", []))


def cert_list(call: Call) -> Result:
    from bot.services import views  # not `certificates`: no validation pipeline to list

    return views.list_certificates(call.ctx, call.args.status)


def cert_show(call: Call) -> Result:
    from bot.services import certificates

    return certificates.show_certificate(call.ctx, call.args.name)


def cert_approve(call: Call) -> Result:
    from bot.services import certificates

    return certificates.approve_certificate(call.ctx, call.actor, call.args.name, call.args.reason)


def cert_reject(call: Call) -> Result:
    from bot.services import certificates

    return certificates.reject_certificate(call.ctx, call.actor, call.args.name, call.args.reason)


def cert_renew(call: Call) -> Result:
    from bot.services import renewals

    a = call.args
    return renewals.apply_renewal(
        call.ctx,
        call.actor,
        a.name,
        cname_confirmed=a.cname_confirmed,
        nameservers=nameservers(a.nameserver),
        timeout=timeout(a.timeout),
    )


def assign(call: Call) -> Result:
    from bot.services import assignments

    a = call.args
    return assignments.assign_certificate(
        call.ctx,
        call.actor,
        a.certificate,
        a.environment,
        a.hostname,
        cname_confirmed=a.cname_confirmed,
        nameservers=nameservers(a.nameserver),
        timeout=timeout(a.timeout),
    )


def adopt(call: Call) -> Result:
    """Record what HOSTNAME serves as ENV's certificate (status `observed`)."""
    from bot.services import adoption, served
    from bot.services.expiry_thresholds import thresholds_of

    a = call.args
    settings = call.settings or startup.load_settings()
    # --nameserver and --timeout apply to the lookup; the dial stays CERTOPS_PROBE_TIMEOUT's.
    options = replace(served.config_from_settings(settings), dns_timeout=timeout(a.timeout))
    given = nameservers(a.nameserver)
    if given:
        options = replace(options, nameservers=tuple(given))
    return adoption.adopt_served(
        call.ctx,
        call.actor,
        a.hostname,
        a.environment,
        options=options,
        thresholds=thresholds_of(settings),
    )


def ticket_open(call: Call) -> Result:
    from bot.services import tickets

    a = call.args
    return tickets.open_ticket(call.ctx, call.actor, a.certificate, a.hostname, environment=a.env)


def ticket_update(call: Call) -> Result:
    from bot.services import tickets

    a = call.args
    return tickets.update_ticket(
        call.ctx,
        call.actor,
        a.id,
        a.state,
        case_number=a.case,
        nameservers=nameservers(a.nameserver),
        timeout=timeout(a.timeout),
    )


def ticket_list(call: Call) -> Result:
    from bot.services import tickets

    return tickets.list_tickets(call.ctx, open_only=call.args.open)


def audit(call: Call) -> Result:
    from bot.services import audit as audit_service

    if call.args.limit < 1:
        raise UsageError("--limit must be at least 1")
    return audit_service.recent(call.ctx, call.args.limit)


# (command, action) -> verb; action None for the commands without subcommands.
VERBS: dict[tuple[str, str | None], Callable[[Call], Result]] = {
    ("env", "add"): env_add,
    ("env", "list"): env_list,
    ("env", "show"): env_show,
    ("env", "sync"): env_sync,
    ("cert", "submit"): cert_submit,
    ("cert", "list"): cert_list,
    ("cert", "show"): cert_show,
    ("cert", "approve"): cert_approve,
    ("cert", "reject"): cert_reject,
    ("cert", "renew"): cert_renew,
    ("assign", None): assign,
    ("adopt", None): adopt,
    ("ticket", "open"): ticket_open,
    ("ticket", "update"): ticket_update,
    ("ticket", "list"): ticket_list,
    ("audit", None): audit,
}


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


def main(
    argv: list[str],
    prog: str = "certops",
    command: str = "env",
    *,
    ask: Callable[[str], str] = getpass.getpass,
) -> int:
    """Parse, open the record, run the verb, print. A bug is not caught here: the
    dispatcher ends it with exit 70 like every other command's (README: exit codes)."""
    from bot.cli import record_text
    from bot.services.errors import DatabaseDown, ServiceError

    try:
        args = build_parser(prog, command).parse_args(argv)
        verb = VERBS[(command, getattr(args, "action", None))]
        settings = startup.load_settings()
    except UsageError as error:
        return startup.usage_line(prog, error)
    except SystemExit as exit_:  # --help
        return EXIT_OK if exit_.code in (0, None) else startup.EXIT_USAGE
    ctx = None
    try:
        try:
            ctx = startup.service_context(settings, startup.open_database(settings))
        except startup.StartupError as error:
            raise DatabaseDown(str(error)) from None
        result = verb(Call(args, ctx, ask, settings))
    except UsageError as error:
        return startup.usage_line(prog, error)
    except ServiceError as error:
        if args.json:
            _print_json(error.to_dict())
        else:
            record_text.print_refusal(prog, error)
        return EXIT_FAILED
    finally:
        if ctx is not None:
            ctx.database.dispose()
    if args.json:
        _print_json(_to_json(result))
    else:
        print(record_text.render(result))
    failed = getattr(result, "ok", True) is False  # a renewal with a refused environment
    return EXIT_FAILED if failed else EXIT_OK
