"""Saving what was checked in a DM: Save, and Submit for manual validation.

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
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.services import certificates, names
from bot.services.actors import Actor
from bot.services.errors import ServiceError
from bot.services.uploads import Passwords
from handlers.common.blocks.base import checked_message, escape, fallback_text, section
from handlers.common.blocks.verdicts import (
    FORM_PASSWORD_HINT,
    failure_blocks,
    finding_blocks,
    message_view,
    saved_next_blocks,
)
from handlers.common.deps import Deps, deps_of
from handlers.common.files import FileSource
from handlers.common.modal_budget import Outcome, race
from handlers.common.payloads import (
    PASSWORD,
    button_value,
    dm_of,
    field_errors,
    input_values,
    metadata_of,
)
from handlers.common.slack_files import DownloadError
from handlers.uploads import blocks

log = logging.getLogger("certops.uploads")

# A refusal's code, or a finding's, and the field of the save form it goes on.
SAVE_FIELDS = {
    "name_taken": "name",
    "invalid_input": "name",
    "domain_mismatch": "domain",
    "invalid_domain": "domain",
}
PASSWORD_FIELDS = {"password_required": PASSWORD, "wrong_password": PASSWORD}
SAVE_SAYS = {
    "password": "This password does not open the files.",
    "zip_password": "This password does not open the files.",
    "domain": "The certificate does not cover this Domain.",
}


def open_save(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
    """Save or Submit for manual validation: the save modal, with the button's state."""
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


def submit_save(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    deps = deps_of(context)
    view = body.get("view") or {}
    meta = metadata_of(view)
    values = input_values(view)
    actor: Actor = context["actor"]
    try:  # the naming rule, before any download
        names.check_certificate_name(values.get("name", ""))
    except ServiceError as error:
        ack(response_action="errors", errors={"name": error.message})
        return
    working = message_view("Saving", [section(":hourglass_flowing_sand: Checking and saving…")])
    race(
        ack,
        client,
        str(view.get("id", "")),
        lambda: save(client, actor, meta, values, deps),
        working,
        pool=deps.work,
        key=actor.user_id,
        budget=deps.settings.modal_budget_seconds,
        quota=deps.submissions,
    )


def save(
    client: WebClient,
    actor: Actor,
    meta: Mapping[str, Any],
    values: Mapping[str, str],
    deps: Deps,
) -> Outcome:
    """Download again, check and save (on the work pool, raced against the modal budget)."""
    passwords = Passwords(
        key=values.get("password", "").encode() or None,
        zip=values.get("zip_password", "").encode() or None,
    )
    try:
        inputs = FileSource(client, deps.settings).fetch_ids(
            [str(i) for i in meta.get("files") or []]
        )
        with deps.work.cpu():  # one check at a time: see bot/work_pool.CPU_SLOTS
            result = certificates.submit_certificate(
                deps.services,
                actor,
                inputs,
                passwords,
                name=values.get("name", ""),
                domain=values.get("domain") or None,
                manual=bool(meta.get("manual")),
            )
    except DownloadError as error:
        return Outcome(view=message_view("Not saved", failure_blocks(error.message)))
    except ServiceError as error:
        return save_refusal(
            error, has_password_field=bool(meta.get("pw")), has_zip=bool(meta.get("zip"))
        )
    saved = result.certificate
    status = "waiting for manual validation by an admin" if result.manual else "validated"
    text = f":floppy_disk: Saved *{escape(saved.name)}* ({status})."
    channel = str(meta.get("channel") or "")

    def tell() -> None:
        message = checked_message([section(text), *saved_next_blocks(saved.name, result.manual)])
        try:
            client.chat_postMessage(channel=channel, text=fallback_text(message), blocks=message)
        except SlackApiError as error:  # saved, and the modal says so: not an error
            log.warning("saved-message not posted: %s", error.response.get("error"))
        deps.publish_home(client, actor)

    return Outcome(view=message_view("Saved", [section(text)]), after=tell)


def save_refusal(error: ServiceError, *, has_password_field: bool, has_zip: bool) -> Outcome:
    """A refused save: on the fields it concerns when there are some, else in the modal."""
    late = message_view("Not saved", failure_blocks(error.message))
    report = error.details.get("report")
    if error.code == "certificate_invalid" and isinstance(report, dict):
        late = message_view(
            "Not saved",
            [
                section(":x: Not saved: it is invalid."),
                *finding_blocks(report["findings"], FORM_PASSWORD_HINT),
            ],
        )
    table = {**SAVE_FIELDS, **(PASSWORD_FIELDS if has_password_field else {})}
    errors = field_errors(error, table, has_zip=has_zip, every=False, say=SAVE_SAYS)
    if errors and (error.code == "certificate_invalid" or errors.get("name")):
        return Outcome(errors=errors, late_view=late)
    return Outcome(view=late)
