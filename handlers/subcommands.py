"""Each `/cert` subcommand: call one service, render its result. No rule lives here.

Every function takes the parsed Command, the Actor and the Deps and returns a Reply;
a refusal from a service (ServiceError) is turned into a short answer by the caller.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.services import certificates, environments
from bot.services.actors import Actor
from handlers.blocks import records
from handlers.blocks.base import escape, section
from handlers.command_parser import Command
from handlers.deps import Deps
from handlers.replies import Reply

Subcommand = Callable[[Command, Actor, Deps], Reply]


def cert_list(command: Command, actor: Actor, deps: Deps) -> Reply:
    views = certificates.list_certificates(deps.services)
    return Reply(records.certificate_list_blocks([v.to_dict(with_report=False) for v in views]))


def cert_show(command: Command, actor: Actor, deps: Deps) -> Reply:
    view = certificates.show_certificate(deps.services, command.text("name"))
    return Reply(records.certificate_blocks(view.to_dict(with_report=False)))


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


def approve(command: Command, actor: Actor, deps: Deps) -> Reply:
    result = certificates.approve_certificate(deps.services, actor, command.text("name"))
    cert = result.certificate.to_dict(with_report=False)
    text = (
        f":white_check_mark: {records.mention(actor.user_id)} approved certificate "
        f"*{escape(cert['name'])}* (submitted by {records.mention(result.submitter)}): "
        "it can now be assigned."
    )
    notice = f"Your certificate *{escape(cert['name'])}* was approved: it can now be assigned."
    return Reply(
        [section(text)], in_channel=True, changed=True, notices=((result.submitter, notice),)
    )


def reject(command: Command, actor: Actor, deps: Deps) -> Reply:
    result = certificates.reject_certificate(
        deps.services, actor, command.text("name"), command.text("reason")
    )
    cert = result.certificate.to_dict(with_report=False)
    text = (
        f":x: Certificate *{escape(cert['name'])}* rejected. "
        f"Reason given to {records.mention(result.submitter)}: {escape(result.reason or '')}"
    )
    notice = (
        f"Your certificate *{escape(cert['name'])}* was rejected by {records.mention(actor.user_id)}: "
        f"{escape(result.reason or '')}"
    )
    return Reply([section(text)], changed=True, notices=((result.submitter, notice),))


SUBCOMMANDS: dict[str, Subcommand] = {
    "list": cert_list,
    "show": cert_show,
    "env add": env_add,
    "env list": env_list,
    "approve": approve,
    "reject": reject,
}
