"""`/cert validate`: the modal that mirrors LifeTime's upload wizard.

Step one picks the format (PEM / PFX / "I don't know": a ZIP); step two asks for that
format's fields with `file_input` elements. On submit the files are downloaded, checked
by the pipeline and saved through the certificates service. What can be pinned on a field
(a taken name, a wrong password, a key that does not match, a Domain not covered) is
shown on that field when the answer comes within Slack's 3 seconds; otherwise, and for
everything else, the modal turns into the result.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.pipeline.hostnames import InvalidHostname, normalize
from bot.pipeline.material import InputFile, Passwords
from bot.services import certificates, names
from bot.services.actors import Actor
from bot.services.errors import ServiceError
from bot.slack_files import DownloadError
from handlers import home
from handlers.blocks import validate_modal as views
from handlers.blocks.base import checked_message, context, escape, fallback_text, section
from handlers.blocks.uploads import (
    FORM_PASSWORD_HINT,
    failure_blocks,
    finding_blocks,
    message_view,
    saved_next_blocks,
    verdict_blocks,
)
from handlers.deps import Deps
from handlers.files import FileSource
from handlers.modal_budget import Outcome, race
from handlers.uploads_check import password_field
from handlers.uploads_payloads import input_values, metadata_of

log = logging.getLogger("certops.validate_modal")

PASSWORD_CODES = frozenset({"password_required", "wrong_password"})
# Which field a finding is about, by format ("*" for every format).
FIELD_OF_CODE: dict[str, dict[str, str]] = {
    "name_taken": {"*": "name"},
    "domain_mismatch": {"*": "domain"},
    "invalid_domain": {"*": "domain"},
    "key_mismatch": {"pem": "key", "pfx": "pfx", "zip": "zip"},
    "no_private_key": {"pem": "key", "pfx": "pfx", "zip": "zip"},
    "no_certificate": {"pem": "certificate", "pfx": "pfx", "zip": "zip"},
    "no_leaf_certificate": {"pem": "certificate", "pfx": "pfx", "zip": "zip"},
    "certificate_request": {"pem": "certificate"},
    "chain_incomplete": {"pem": "chain"},
    "archive_too_large": {"zip": "zip"},
}
LOCKED_CONSEQUENCES = frozenset({"no_certificate", "no_leaf_certificate", "no_private_key"})


def open_modal(
    client: WebClient,
    trigger_id: str,
    user_id: str,
    deps: Deps,
    *,
    channel_id: str | None = None,
    domain: str = "",
    name: str = "",
    renews: str | None = None,
) -> str | None:
    """Open step one (the format). None: opened; no text answer is needed.

    `domain` and `name` prefill step two; `renews` names the certificate this one renews
    (the Renew button of an expiry warning opens the form this way).
    """
    prefill = {"domain": domain, "name": name, "renews": renews or ""}
    metadata = json.dumps({"channel": channel_id or "", **prefill})
    client.views_open(trigger_id=trigger_id, view=views.format_view(metadata))
    return None


def register(app: App, deps: Deps) -> None:
    def on_format(ack: Ack, view: dict[str, Any]) -> None:
        fmt = selected_value(view, "format") or "pem"
        if fmt not in views.SLOTS:
            fmt = "pem"
        meta = {**metadata_of(view), "format": fmt}
        next_view = views.fields_view(
            fmt,
            json.dumps(meta),
            domain=str(meta.get("domain") or ""),
            name=str(meta.get("name") or ""),
            renews=str(meta.get("renews") or ""),
        )
        ack(response_action="update", view=next_view)

    def on_fields(ack: Ack, view: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        submission = Submission.of(view)
        errors = submission.quick_errors()
        if errors:
            ack(response_action="errors", errors=errors)
            return
        actor: Actor = context["actor"]
        race(
            ack,
            client,
            str(view.get("id", "")),
            lambda: submission.run(client, actor, deps),
            message_view("Validating", views.working_blocks()),
            pool=deps.work,
            key=actor.user_id,
            budget=deps.settings.modal_budget_seconds,
            quota=deps.submissions,
        )

    app.view(views.VIEW_FORMAT)(on_format)
    app.view(views.VIEW_FIELDS)(on_fields)


class SlotDownloadError(Exception):
    """A file of one form field could not be had: the error goes on that field."""

    def __init__(self, slot: str, message: str) -> None:
        super().__init__(message)
        self.slot = slot
        self.message = message


class Submission:
    """What the second step's form holds: texts, file objects by slot, the checkbox."""

    def __init__(
        self,
        fmt: str,
        meta: dict[str, Any],
        texts: dict[str, str],
        files: dict[str, list[dict[str, Any]]],
        manual: bool,
    ) -> None:
        self.fmt, self.meta, self.texts, self.files, self.manual = fmt, meta, texts, files, manual

    @classmethod
    def of(cls, view: Mapping[str, Any]) -> Submission:
        meta = metadata_of(view)
        fmt = str(meta.get("format") or "pem")
        if fmt not in views.SLOTS:
            fmt = "pem"
        return cls(fmt, meta, input_values(view), file_values(view), selected_box(view))

    def quick_errors(self) -> dict[str, str]:
        """The checks that need no download: Domain syntax, the name, missing files."""
        errors: dict[str, str] = {}
        domain = self.texts.get("domain", "")
        try:
            normalize(domain, allow_wildcard=True)
        except InvalidHostname as error:
            errors["domain"] = f"Not a host name or *.wildcard: {error}"
        try:
            names.check_certificate_name(self.texts.get("name", ""))
        except ServiceError as error:
            errors["name"] = error.message
        for slot in views.SLOTS[self.fmt]:
            if not slot.optional and not self.files.get(slot.block_id):
                errors[slot.block_id] = "Attach the file here."
        return errors

    def passwords(self) -> Passwords:
        return Passwords(
            key=self.texts.get("password", "").encode() or None,
            zip=self.texts.get("zip_password", "").encode() or None,
        )

    def download(self, source: FileSource) -> list[InputFile]:
        inputs: list[InputFile] = []
        ends = time.monotonic() + source.deadline  # one deadline for the whole form
        for slot in views.SLOTS[self.fmt]:
            for file in self.files.get(slot.block_id, []):
                label = "private key" if slot.block_id == "key" else None
                try:
                    inputs.append(source.fetch(file, label, ends=ends))
                except DownloadError as error:
                    raise SlotDownloadError(slot.block_id, error.message) from None
        return inputs

    def run(self, client: WebClient, actor: Actor, deps: Deps) -> Outcome:
        try:
            inputs = self.download(FileSource(client, deps.settings))
        except SlotDownloadError as error:
            late = message_view("Not validated", failure_blocks(error.message))
            return Outcome(errors={error.slot: error.message}, late_view=late)
        name = self.texts.get("name", "")
        try:
            with deps.work.cpu():  # one check at a time: see bot/work_pool.CPU_SLOTS
                result = certificates.submit_certificate(
                    deps.services,
                    actor,
                    inputs,
                    self.passwords(),
                    name=name,
                    domain=self.texts.get("domain") or None,
                    manual=self.manual,
                    notes=self.texts.get("notes") or None,
                    renews=str(self.meta.get("renews") or "") or None,
                )
        except ServiceError as error:
            return self.refusal(error)
        return self.saved(client, actor, deps, result)

    def refusal(self, error: ServiceError) -> Outcome:
        report = error.details.get("report")
        if error.code == "name_taken":
            late = message_view("Not saved", failure_blocks(error.message))
            return Outcome(errors={"name": error.message}, late_view=late)
        if error.code != "certificate_invalid" or not isinstance(report, dict):
            return Outcome(view=message_view("Not saved", failure_blocks(error.message)))
        result = message_view(
            "Invalid",
            [
                *verdict_blocks(report, FORM_PASSWORD_HINT),
                context(
                    "Not saved. Fix what is listed and submit again, or tick *Submit it for "
                    "manual validation* to have an admin review it."
                ),
            ],
        )
        errors = self.field_errors(report)
        if errors is None:
            return Outcome(view=result)
        return Outcome(errors=errors, late_view=result)

    def field_errors(self, report: Mapping[str, Any]) -> dict[str, str] | None:
        """Every error of the report on a field of this form, or None if one has no field."""
        errors: dict[str, str] = {}
        findings = [f for f in report.get("findings", []) if f.get("severity") == "error"]
        locked = any(f.get("code") in PASSWORD_CODES for f in findings)
        for finding in findings:
            code = str(finding.get("code"))
            if locked and code in LOCKED_CONSEQUENCES:
                continue  # what a locked file could not give: the password says it all
            if code in PASSWORD_CODES:
                field = password_field(finding, has_zip=self.fmt == "zip")
            else:
                by_format = FIELD_OF_CODE.get(code, {})
                field = by_format.get(self.fmt) or by_format.get("*") or ""
            if not field:
                return None
            errors.setdefault(field, str(finding.get("message", code))[:2000])
        return errors or None

    def saved(
        self, client: WebClient, actor: Actor, deps: Deps, result: certificates.SubmitResult
    ) -> Outcome:
        name = result.certificate.name
        status = "waiting for manual validation by an admin" if result.manual else "validated"
        head = f":floppy_disk: Saved *{escape(name)}*: {status}."
        reminder = (
            "The files you attached stay in your Slack files: delete the one holding the "
            "private key (Files → the file → Delete)."
        )
        view = message_view(
            "Saved",
            [
                section(head),
                *verdict_blocks(result.report, FORM_PASSWORD_HINT)[1:],
                context(reminder),
            ],
        )

        def tell() -> None:
            message = checked_message(
                [
                    section(head),
                    *finding_blocks(result.report.get("findings", [])),
                    *saved_next_blocks(name, result.manual),
                ]
            )
            try:
                channel = str(client.conversations_open(users=actor.user_id)["channel"]["id"])
                client.chat_postMessage(
                    channel=channel, text=fallback_text(message), blocks=message
                )
            except SlackApiError as error:  # saved, and the modal says so: not an error
                log.warning("saved-message not posted: %s", error.response.get("error"))
            home.publish(client, actor, deps)

        return Outcome(view=view, after=tell)


def selected_value(view: Mapping[str, Any], block_id: str) -> str | None:
    element = ((view.get("state") or {}).get("values") or {}).get(block_id, {}).get(
        views.CHOICE_ACTION
    ) or {}
    option = element.get("selected_option") or {}
    value = option.get("value") if isinstance(option, dict) else None
    return str(value) if value else None


def selected_box(view: Mapping[str, Any]) -> bool:
    element = ((view.get("state") or {}).get("values") or {}).get(views.MANUAL, {}).get(
        views.CHOICE_ACTION
    ) or {}
    return any(o.get("value") == views.MANUAL for o in element.get("selected_options") or [])


def file_values(view: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The file objects of every `file_input`, by block id."""
    found: dict[str, list[dict[str, Any]]] = {}
    for block_id, elements in ((view.get("state") or {}).get("values") or {}).items():
        element = (elements or {}).get(views.FILE_ACTION) or {}
        files = element.get("files")
        if isinstance(files, list):
            found[block_id] = [f for f in files if isinstance(f, dict)]
    return found
