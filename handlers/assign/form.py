"""`/cert assign` without arguments: the modal that mirrors LifeTime's assign wizard.

Certificate (validated or approved only), environment, hostname (suggested from the
certificate's names once one is picked), and "I have created a CNAME record on my chosen
hostname". On submit the assignments service runs the DNS check; what concerns a field
goes on it, a misconfigured CNAME is shown in the modal (which stays a form, so the person
can fix the record and submit again), and a LifeTime environment turns into the ticket
flow. The announcement in the channel carries the reminders (service URLs, mobile apps,
host header protection). Every rule stays in the services: this only maps their answers.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.services import assignments, certificates, environments, tickets
from bot.services.actors import Actor, actor_for
from bot.services.errors import ServiceError
from handlers.assign import blocks as views
from handlers.assign.post import assignment_ids, follow_in_thread, post_result
from handlers.common.blocks.base import checked_message, escape, fallback_text, section
from handlers.common.blocks.confirm import assignment_done_blocks
from handlers.common.blocks.dns import dns_blocks
from handlers.common.blocks.help import problem_blocks
from handlers.common.blocks.records import mention, ticket_blocks
from handlers.common.blocks.verdicts import message_view
from handlers.common.deps import Deps, deps_of
from handlers.common.errors import best_effort
from handlers.common.forms import ASSIGN_REST, FormRequest
from handlers.common.ids import AssignId
from handlers.common.modal_budget import Outcome, race
from handlers.common.payloads import (
    button_value,
    dm_channel,
    dm_of,
    field_errors,
    input_values,
    json_object,
    selected_value,
    ticked,
)

log = logging.getLogger("certops.assign_modal")

NO_CERTIFICATES = (
    "There is no validated or approved certificate to assign yet: send me the files in a "
    "DM (or use `/cert validate`) first."
)
NO_ENVIRONMENTS = "No environment is recorded yet: an admin adds one with `/cert env add`."
FIELD_OF_CODE = {
    "invalid_input": "hostname",
    "hostname_not_covered": "hostname",
    "certificate_not_assignable": "certificate",
    "certificate_expired": "certificate",
    "not_found": "certificate",
}


class Form:
    """The records the form offers, read once per rendering through the services."""

    def __init__(self, deps: Deps) -> None:
        certs = certificates.assignable_certificates(deps.services)
        self.certificates = [c.to_dict(with_report=False) for c in certs]
        self.environments = [e.to_dict() for e in environments.list_environments(deps.services)]

    def sans_of(self, name: str | None) -> list[str]:
        for cert in self.certificates:
            if cert["name"] == name:
                return [str(s) for s in cert.get("sans") or []]
        return []

    def in_use(self) -> list[str]:
        return [str(e["hostname"]) for e in self.environments if e.get("hostname")]

    def view(
        self, metadata: str, choice: views.Choice, notice: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        return views.assign_view(
            metadata,
            self.certificates,
            self.environments,
            choice,
            covers=self.sans_of(choice.certificate),
            notice=notice or [],
        )


def open_modal(client: WebClient, request: FormRequest, deps: Deps) -> str | None:
    """Open the form; the text to answer with instead when there is nothing to assign.
    The request's `certificate` is chosen already when it may be assigned."""
    actor = actor_for(request.user_id, deps.settings)
    if not actor.is_admin:
        return f"Assigning certificates is for admins only: ask {deps.admin_mentions()}."
    form = Form(deps)
    if not form.certificates:
        return NO_CERTIFICATES
    if not form.environments:
        return NO_ENVIRONMENTS
    wanted = request.certificate
    chosen = wanted if wanted in {c["name"] for c in form.certificates} else None
    choice = views.Choice(
        certificate=chosen,
        hostname=views.suggested_hostname(form.sans_of(chosen), form.in_use()),
    )
    metadata = json.dumps({"channel": request.channel_id})
    client.views_open(trigger_id=request.trigger_id, view=form.view(metadata, choice))
    return None


def open_from_button(
    ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """The "Assign" button under a verdict or a saved certificate (its value may name the
    certificate); what to say instead of a form goes to the DM."""
    ack()
    deps = deps_of(context)
    actor: Actor = context["actor"]
    channel = dm_of(body, client)
    request = FormRequest(
        str(body.get("trigger_id", "")),
        actor.user_id,
        channel,
        certificate=str(button_value(body).get("certificate") or ""),
    )
    opening = deps.open_modal(client, lambda fast: open_modal(fast, request, deps))

    def tell(text: str) -> None:
        message = checked_message([section(text)])
        client.chat_postMessage(channel=channel, text=fallback_text(message), blocks=message)

    opening.tell_all(tell, ASSIGN_REST)


def on_pick(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """A certificate was picked: suggest a hostname it covers."""
    ack()
    view = body.get("view") or {}
    form = Form(deps_of(context))
    picked = choice_of(view)
    choice = views.Choice(
        certificate=picked.certificate,
        environment=picked.environment,
        hostname=views.suggested_hostname(form.sans_of(picked.certificate), form.in_use()),
        cname=picked.cname,
    )
    client.views_update(
        view_id=str(view.get("id", "")),
        hash=view.get("hash"),
        view=form.view(str(view.get("private_metadata") or "{}"), choice),
    )


def on_submit(ack: Ack, view: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    deps = deps_of(context)
    actor: Actor = context["actor"]
    choice = choice_of(view)
    errors = quick_errors(choice, deps)
    if errors:
        ack(response_action="errors", errors=errors)
        return
    metadata = str(view.get("private_metadata") or "{}")
    race(
        ack,
        client,
        str(view.get("id", "")),
        lambda: run(choice, metadata, client, actor, deps),
        message_view("Assigning", [section(":hourglass_flowing_sand: Checking the DNS…")]),
        pool=deps.work,
        key=actor.user_id,
        budget=deps.settings.modal_budget_seconds,
    )


def quick_errors(choice: views.Choice, deps: Deps) -> dict[str, str]:
    """What needs nothing but the form (no database: this runs before the ack)."""
    errors: dict[str, str] = {}
    if not choice.certificate:
        errors["certificate"] = "Choose a certificate."
    if not choice.environment:
        errors["environment"] = "Choose an environment."
        return errors
    try:
        assignments.check_hostname(choice.hostname)
    except ServiceError as error:
        errors["hostname"] = error.message
    return errors


def environment_errors(
    choice: views.Choice, deps: Deps
) -> tuple[environments.EnvironmentView | None, dict[str, str]]:
    """The chosen environment, or what to say on the form: unknown, or the CNAME unticked.

    Read in the submission's work (`run`, raced against the modal budget), not before the
    ack: a database that hangs must not hold it.
    """
    try:
        env = environments.show_environment(deps.services, choice.environment or "")
    except ServiceError as error:
        return None, {"environment": error.message}
    if not env.is_lifetime and not choice.cname:
        host = assignments.check_hostname(choice.hostname)
        return env, {
            views.CNAME: f"Create the record {host} CNAME {env.default_host} first, then tick this."
        }
    return env, {}


def run(
    choice: views.Choice, metadata: str, client: WebClient, actor: Actor, deps: Deps
) -> Outcome:
    env, errors = environment_errors(choice, deps)
    if env is None or errors:
        notice = problem_blocks(next(iter(errors.values())))
        return Outcome(errors=errors, late_view=form_view(metadata, choice, deps, notice))
    if env.is_lifetime:
        return open_ticket(choice, client, actor, deps)
    try:
        result = assignments.assign_certificate(
            deps.services,
            actor,
            choice.certificate or "",
            env.name,
            choice.hostname,
            cname_confirmed=choice.cname,
        )
    except ServiceError as error:
        return refusal(error, choice, metadata, deps)
    done = assignment_done_blocks(result.to_dict(), actor.user_id)
    channel = str(json_object(metadata).get("channel") or "")

    def announce() -> None:
        # A real message (the DM when the channel refuses, e.g. a private channel the bot
        # is not in): the TLS check answers in its thread.
        try:
            posted = post_result(client, channel or None, actor.user_id, done)
        except SlackApiError as error:
            log.warning("assignment result not posted: %s", error.response.get("error"))
        else:
            follow_in_thread(deps, assignment_ids([result.to_dict()]), posted)
        deps.publish_home(client, actor)

    return Outcome(view=message_view("Assigned", done), after=announce)


def open_ticket(choice: views.Choice, client: WebClient, actor: Actor, deps: Deps) -> Outcome:
    """LifeTime: no assignment, a support ticket with the text to paste into the case."""
    try:
        result = tickets.open_ticket(
            deps.services,
            actor,
            choice.certificate or "",
            choice.hostname,
            environment=choice.environment,
        )
    except ServiceError as error:
        return Outcome(view=message_view("No ticket opened", problem_blocks(error.message)))
    headline = (
        f":memo: {escape(choice.environment or '')} is the LifeTime environment: its hostname "
        f"changes only through a support ticket. {mention(actor.user_id)}, "
        f"{escape(result.message)}"
    )
    blocks = ticket_blocks(result.ticket.to_dict(), headline, result.support_text)

    def tell() -> None:
        """The ticket is open and the modal shows it: the DM and the Home are extras."""
        message = checked_message(blocks)
        best_effort(
            "the ticket's DM",
            lambda: client.chat_postMessage(
                channel=dm_channel(client, actor.user_id),
                text=fallback_text(message),
                blocks=message,
            ),
        )
        deps.publish_home(client, actor)

    return Outcome(view=message_view("Support ticket", blocks), after=tell)


def form_view(
    metadata: str, choice: views.Choice, deps: Deps, notice: list[dict[str, Any]]
) -> dict[str, Any]:
    """The form again with `notice` on top; only the notice when the records cannot be read."""
    try:
        return Form(deps).view(metadata, choice, notice)
    except ServiceError:
        return message_view("Not assigned", notice)


def refusal(error: ServiceError, choice: views.Choice, metadata: str, deps: Deps) -> Outcome:
    form = Form(deps)
    notice = problem_blocks(error.message)
    report = error.details.get("dns_report")
    if isinstance(report, dict):
        notice += dns_blocks(report)
        notice.append(section("Fix the record, then submit again."))
        return Outcome(view=form.view(metadata, choice, notice))
    late = form.view(metadata, choice, notice)
    errors = field_errors(error, FIELD_OF_CODE)
    if errors:
        return Outcome(errors=errors, late_view=late)
    return Outcome(view=late)


def choice_of(view: dict[str, Any]) -> views.Choice:
    return views.Choice(
        certificate=selected_value(view, "certificate", AssignId.PICK),
        environment=selected_value(view, "environment", views.CHOICE_ACTION),
        hostname=input_values(view).get("hostname", ""),
        cname=ticked(view, views.CNAME, views.CHOICE_ACTION, views.CNAME),
    )
