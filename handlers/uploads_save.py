"""Saving what was checked in a DM: Save and Submit for manual validation, and Assign.

The buttons under a verdict carry file ids and flags; the save modal asks for the unique
name and the Domain (prefilled from the certificate) and, when the files were locked,
the password again (none is kept between steps). On submit the files are downloaded
again and handed to the certificates service, which decides everything; its refusals
are put on the fields they concern.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.pipeline.material import Passwords
from bot.services import certificates, names
from bot.services.actors import Actor
from bot.services.errors import ServiceError
from bot.settings import DEFAULT_MODAL_BUDGET_SECONDS
from bot.slack_files import DownloadError
from handlers import assign_modal, home
from handlers.blocks import uploads as blocks
from handlers.blocks.base import checked_message, escape, fallback_text, section
from handlers.deps import Deps
from handlers.files import FileSource
from handlers.modal_budget import Outcome, race
from handlers.uploads_check import PASSWORD_CODES, password_field
from handlers.uploads_payloads import button_value, dm_of, input_values, metadata_of

log = logging.getLogger("certops.uploads")


@dataclass
class SaveFlow:
    deps: Deps
    budget: float = DEFAULT_MODAL_BUDGET_SECONDS

    def open_save(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        value = button_value(body)
        metadata = json.dumps(
            {
                "files": value.get("files", []),
                "zip": bool(value.get("zip")),
                "pw": bool(value.get("pw")),
                "manual": bool(value.get("manual")),
                "channel": dm_of(body, client),
            }
        )
        view = blocks.save_view(
            metadata,
            name=str(value.get("name") or ""),
            domain=str(value.get("domain") or ""),
            manual=bool(value.get("manual")),
            password=bool(value.get("pw")),
            has_zip=bool(value.get("zip")),
        )
        client.views_open(trigger_id=str(body.get("trigger_id", "")), view=view)

    def submit_save(
        self, ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext
    ) -> None:
        view = body.get("view") or {}
        meta = metadata_of(view)
        values = input_values(view)
        actor: Actor = context["actor"]
        try:  # the naming rule, before any download
            names.check_certificate_name(values.get("name", ""))
        except ServiceError as error:
            ack(response_action="errors", errors={"name": error.message})
            return
        working = blocks.message_view(
            "Saving", [section(":hourglass_flowing_sand: Checking and saving…")]
        )
        race(
            ack,
            client,
            str(view.get("id", "")),
            lambda: self._save(client, actor, meta, values),
            working,
            pool=self.deps.work,
            key=actor.user_id,
            budget=self.budget,
            quota=self.deps.submissions,
        )

    def _save(
        self, client: WebClient, actor: Actor, meta: Mapping[str, Any], values: Mapping[str, str]
    ) -> Outcome:
        manual = bool(meta.get("manual"))
        passwords = Passwords(
            key=values.get("password", "").encode() or None,
            zip=values.get("zip_password", "").encode() or None,
        )
        try:
            inputs = FileSource(client, self.deps.settings).fetch_ids(
                [str(i) for i in meta.get("files") or []]
            )
            with self.deps.work.cpu():  # one check at a time: see bot/work_pool.CPU_SLOTS
                result = certificates.submit_certificate(
                    self.deps.services,
                    actor,
                    inputs,
                    passwords,
                    name=values.get("name", ""),
                    domain=values.get("domain") or None,
                    manual=manual,
                )
        except DownloadError as error:
            return Outcome(
                view=blocks.message_view("Not saved", blocks.failure_blocks(error.message))
            )
        except ServiceError as error:
            return save_refusal(
                error, has_password_field=bool(meta.get("pw")), has_zip=bool(meta.get("zip"))
            )
        saved = result.certificate
        status = "waiting for manual validation by an admin" if result.manual else "validated"
        text = f":floppy_disk: Saved *{escape(saved.name)}* ({status})."
        done = [section(text)]
        channel = str(meta.get("channel") or "")

        def tell() -> None:
            message = checked_message(
                [section(text), *blocks.saved_next_blocks(saved.name, result.manual)]
            )
            try:
                client.chat_postMessage(
                    channel=channel, text=fallback_text(message), blocks=message
                )
            except SlackApiError as error:  # saved, and the modal says so: not an error
                log.warning("saved-message not posted: %s", error.response.get("error"))
            home.publish(client, actor, self.deps)

        return Outcome(view=blocks.message_view("Saved", done), after=tell)

    def open_assign(
        self, ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext
    ) -> None:
        ack()
        actor: Actor = context["actor"]
        value = button_value(body)
        hint = assign_modal.open_modal(
            client,
            str(body.get("trigger_id", "")),
            actor.user_id,
            self.deps,
            channel_id=dm_of(body, client),
            certificate=str(value.get("certificate") or "") or None,
        )
        if hint:
            message = checked_message([section(hint)])
            client.chat_postMessage(
                channel=dm_of(body, client), text=fallback_text(message), blocks=message
            )


SAVE_FIELDS = {
    "name_taken": "name",
    "invalid_input": "name",
    "domain_mismatch": "domain",
    "invalid_domain": "domain",
}


def save_refusal(error: ServiceError, *, has_password_field: bool, has_zip: bool) -> Outcome:
    """A refused save: on the field it concerns when there is one, else in the modal."""
    late = blocks.message_view("Not saved", blocks.failure_blocks(error.message))
    if error.code in {"name_taken", "invalid_input"}:
        return Outcome(errors={"name": error.message}, late_view=late)
    report = error.details.get("report")
    if error.code == "certificate_invalid" and isinstance(report, dict):
        failed = [f for f in report.get("findings", []) if f.get("severity") == "error"]
        codes = [str(f.get("code")) for f in failed]
        errors: dict[str, str] = {}
        for item in failed:
            if has_password_field and item.get("code") in PASSWORD_CODES:
                field_id = password_field(item, has_zip=has_zip)
                errors[field_id] = "This password does not open the files."
        if any(SAVE_FIELDS.get(c) == "domain" for c in codes):
            errors["domain"] = "The certificate does not cover this Domain."
        late = blocks.message_view(
            "Not saved",
            [
                section(":x: Not saved: it is invalid."),
                *blocks.finding_blocks(report["findings"], blocks.FORM_PASSWORD_HINT),
            ],
        )
        if errors:
            return Outcome(errors=errors, late_view=late)
        return Outcome(view=late)
    return Outcome(view=late)


def register(app: App, deps: Deps) -> SaveFlow:
    flow = SaveFlow(deps, budget=deps.settings.modal_budget_seconds)
    app.action(blocks.ACTION_SAVE)(flow.open_save)
    app.action(blocks.ACTION_MANUAL)(flow.open_save)
    app.action(blocks.ACTION_ASSIGN)(flow.open_assign)
    app.view(blocks.VIEW_SAVE)(flow.submit_save)
    return flow
