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

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.services import certificates, names, uploads
from bot.services.actors import Actor
from bot.services.errors import ServiceError
from bot.services.uploads import InputFile, Passwords
from handlers.common.blocks.base import checked_message, context, escape, fallback_text, section
from handlers.common.blocks.verdicts import (
    FORM_PASSWORD_HINT,
    failure_blocks,
    finding_blocks,
    message_view,
    saved_next_blocks,
    verdict_blocks,
)
from handlers.common.deps import Deps, deps_of
from handlers.common.files import FileSource
from handlers.common.forms import FormRequest
from handlers.common.modal_budget import Outcome, race
from handlers.common.payloads import (
    PASSWORD,
    dm_channel,
    field_errors,
    file_values,
    input_values,
    metadata_of,
    selected_value,
    ticked,
)
from handlers.common.slack_files import DownloadError
from handlers.validate import blocks as views

log = logging.getLogger("certops.validate_modal")

# Which field a refusal or a finding is about, by format ("*" for every format).
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
    "password_required": {"*": PASSWORD},
    "wrong_password": {"*": PASSWORD},
}


def fields_of(fmt: str) -> dict[str, str]:
    """The code-to-field table of the form of format `fmt` (for `field_errors`)."""
    table = {code: by.get(fmt) or by.get("*") or "" for code, by in FIELD_OF_CODE.items()}
    return {code: field for code, field in table.items() if field}


def open_modal(client: WebClient, request: FormRequest, deps: Deps) -> str | None:
    """Open step one (the format). None: opened; no text answer is needed.

    The request's `domain` and `name` prefill step two; `renews` names the certificate
    this one renews (the Renew button of an expiry warning opens the form this way).
    """
    prefill = {"domain": request.domain, "name": request.name, "renews": request.renews}
    metadata = json.dumps({"channel": request.channel_id, **prefill})
    client.views_open(trigger_id=request.trigger_id, view=views.format_view(metadata))
    return None


def on_format(ack: Ack, view: dict[str, Any]) -> None:
    """Step one submitted: step two, the chosen format's fields."""
    fmt = selected_value(view, "format", views.CHOICE_ACTION) or "pem"
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
    """Step two submitted: the quick checks in the ack, then download, check and save."""
    deps = deps_of(context)
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
        files = file_values(view, views.FILE_ACTION)
        manual = ticked(view, views.MANUAL, views.CHOICE_ACTION, views.MANUAL)
        return cls(fmt, meta, input_values(view), files, manual)

    def quick_errors(self) -> dict[str, str]:
        """The checks that need no download: Domain syntax, the name, missing files."""
        errors: dict[str, str] = {}
        domain = self.texts.get("domain", "")
        try:
            uploads.check_domain(domain)
        except ServiceError as error:
            errors["domain"] = error.message
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
        invalid = error.code == "certificate_invalid" and isinstance(report, dict)
        if not invalid or not isinstance(report, dict):
            late = message_view("Not saved", failure_blocks(error.message))
        else:
            late = message_view(
                "Invalid",
                [
                    *verdict_blocks(report, FORM_PASSWORD_HINT),
                    context(
                        "Not saved. Fix what is listed and submit again, or tick *Submit it "
                        "for manual validation* to have an admin review it."
                    ),
                ],
            )
        table = fields_of(self.fmt) if invalid else {"name_taken": "name"}
        errors = field_errors(error, table, has_zip=self.fmt == "zip")
        if errors is None:
            return Outcome(view=late)
        return Outcome(errors=errors, late_view=late)

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
                client.chat_postMessage(
                    channel=dm_channel(client, actor.user_id),
                    text=fallback_text(message),
                    blocks=message,
                )
            except SlackApiError as error:  # saved, and the modal says so: not an error
                log.warning("saved-message not posted: %s", error.response.get("error"))
            deps.publish_home(client, actor)

        return Outcome(view=view, after=tell)
