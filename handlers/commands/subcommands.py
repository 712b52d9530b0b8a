"""Each `/cert` subcommand: call one service, render its result. No rule lives here.

Every function takes the parsed Command, the Actor and the Deps and returns a Reply;
a refusal from a service (ServiceError) is turned into a short answer by the caller.
Assign and renew change what serves production, so the command first shows what will
happen with a confirmation button (the "I have created the CNAME" of LifeTime's
wizard); the click runs the service (handlers/confirmations.py).
"""

from __future__ import annotations

from collections.abc import Callable

from bot.services import certificates, dns, environment_sync, environments, renewals, tickets
from bot.services.actors import Actor
from bot.services.errors import ServiceError
from handlers.common.blocks import confirm, records
from handlers.common.blocks.base import escape, section, text_blocks
from handlers.common.blocks.digest import expiring_blocks
from handlers.common.blocks.dns import dns_blocks
from handlers.common.command_parser import Command
from handlers.common.deps import Deps
from handlers.common.replies import Reply

Subcommand = Callable[[Command, Actor, Deps], Reply]


def cert_list(command: Command, actor: Actor, deps: Deps) -> Reply:
    views = certificates.list_certificates(deps.services)
    return Reply(records.certificate_list_blocks([v.to_dict(with_report=False) for v in views]))


def cert_show(command: Command, actor: Actor, deps: Deps) -> Reply:
    view = certificates.show_certificate(deps.services, command.text("name"))
    return Reply(records.certificate_blocks(view.to_dict(with_report=False)))


def expiring(command: Command, actor: Actor, deps: Deps) -> Reply:
    """`/cert expiring [DAYS]`: the digest by environment."""
    return Reply(expiring_blocks(deps.services, int(command.args.get("days") or 0)))


def env_add(command: Command, actor: Actor, deps: Deps) -> Reply:
    view = environments.add_environment(
        deps.services,
        actor,
        command.text("name"),
        default_host=command.text("default_host"),
        is_lifetime=bool(command.args.get("lifetime")),
        channel=command.text("channel") or None,
    )
    return Reply(records.environment_added_blocks(view.to_dict()), changed=True)


def env_list(command: Command, actor: Actor, deps: Deps) -> Reply:
    views = environments.list_environments(deps.services)
    return Reply(records.environment_list_blocks([v.to_dict() for v in views]))


def env_sync(command: Command, actor: Actor, deps: Deps) -> Reply:
    """`/cert env sync [dry-run]`: LifeTime's environments into the record, on the work
    pool (after the ack); answered with the summary `certops env sync` prints."""
    target = environment_sync.lifetime_target(deps.settings, extra_roots=deps.services.extra_roots)
    result = environment_sync.sync_environments(
        deps.services, actor, target, dry_run=bool(command.args.get("dry_run"))
    )
    lines = environment_sync.summary_lines(result, escape)
    return Reply(text_blocks(lines), changed=bool(result.added or result.changed))


def approve(command: Command, actor: Actor, deps: Deps) -> Reply:
    result = certificates.approve_certificate(deps.services, actor, command.text("name"))
    name = escape(result.certificate.name)
    text = (
        f":white_check_mark: {records.mention(actor.user_id)} approved certificate *{name}* "
        f"(submitted by {records.mention(result.submitter)}): it can now be assigned."
    )
    notice = f"Your certificate *{name}* was approved: it can now be assigned."
    return Reply(
        [section(text)], in_channel=True, changed=True, notices=((result.submitter, notice),)
    )


def reject(command: Command, actor: Actor, deps: Deps) -> Reply:
    result = certificates.reject_certificate(
        deps.services, actor, command.text("name"), command.text("reason")
    )
    name = escape(result.certificate.name)
    reason = escape(result.reason or "")
    text = f":x: Certificate *{name}* rejected. {records.mention(result.submitter)} is told why: {reason}"
    notice = f"Your certificate *{name}* was rejected by {records.mention(actor.user_id)}: {reason}"
    return Reply([section(text)], changed=True, notices=((result.submitter, notice),))


def dns_check(command: Command, actor: Actor, deps: Deps) -> Reply:
    """`/cert dns HOSTNAME [ENV]`: the report either way (misconfigured is not an error here)."""
    hostname = command.text("hostname")
    env = environments.environment_for(deps.services, hostname, command.text("environment") or None)
    try:
        report = dns.run_check(
            deps.services, hostname, env.default_host, nameservers=None, timeout=None
        ).to_dict()
    except ServiceError as error:
        if error.code != "dns_misconfigured" or "dns_report" not in error.details:
            raise
        report = error.details["dns_report"]
    return Reply(dns_blocks(report, env.name))


def assign(command: Command, actor: Actor, deps: Deps) -> Reply:
    """Show what will be assigned and ask for the CNAME confirmation."""
    cert = certificates.show_certificate(deps.services, command.text("certificate"))
    env = environments.show_environment(deps.services, command.text("environment"))
    return Reply(
        confirm.assign_prompt_blocks(
            certificate=cert.name,
            environment=env.name,
            hostname=command.text("hostname"),
            default_host=env.default_host,
            is_lifetime=env.is_lifetime,
        )
    )


def renew(command: Command, actor: Actor, deps: Deps) -> Reply:
    """Show where the renewal goes and ask for the confirmation."""
    name = command.text("name")
    targets = renewals.renewal_plan(deps.services, name)
    return Reply(confirm.renew_prompt_blocks(name, [t.to_dict() for t in targets]))


def ticket_open(command: Command, actor: Actor, deps: Deps) -> Reply:
    result = tickets.open_ticket(
        deps.services, actor, command.text("certificate"), command.text("hostname")
    )
    headline = f":memo: {escape(result.message)}"
    blocks = records.ticket_blocks(result.ticket.to_dict(), headline, result.support_text)
    return Reply(blocks, changed=not result.existing)  # the draft already open: no change


def ticket_update(command: Command, actor: Actor, deps: Deps) -> Reply:
    result = tickets.update_ticket(
        deps.services,
        actor,
        tickets.ticket_id(command.text("id")),
        command.text("state"),
        case_number=command.text("case") or None,
    )
    headline = f"{records.mention(actor.user_id)}: {escape(result.message)}"
    blocks = records.ticket_blocks(result.ticket.to_dict(), headline)
    blocks += [section(f":warning: {escape(w)}") for w in result.warnings]
    if result.reminders:
        blocks.append(confirm.reminders_block(result.reminders))
    return Reply(blocks, in_channel=True, changed=True)


def ticket_list(command: Command, actor: Actor, deps: Deps) -> Reply:
    views = tickets.list_tickets(deps.services)
    return Reply(records.ticket_list_blocks([t.to_dict() for t in views]))


SUBCOMMANDS: dict[str, Subcommand] = {
    "list": cert_list,
    "show": cert_show,
    "expiring": expiring,
    "env add": env_add,
    "env list": env_list,
    "env sync": env_sync,
    "approve": approve,
    "reject": reject,
    "dns": dns_check,
    "assign": assign,
    "renew": renew,
    "ticket open": ticket_open,
    "ticket update": ticket_update,
    "ticket list": ticket_list,
}
