"""Every action and callback id the bot's Block Kit carries: one StrEnum per feature,
one prefix per feature.

The ids are the contract between a rendered button and its listener, and a button of one
feature is sometimes rendered by another (the "Assign" under a saved certificate, the
renewal offer in an expiry warning's thread): so they live here, and no feature imports
another to name one. Each feature's `register` lists the ids it listens to.

Messages already posted keep their buttons for months (expiry warnings, DM verdicts,
confirmation prompts): an id that was renamed keeps its old value in `LEGACY`, registered
beside the new one, so a click on an old message still works after an upgrade.
"""

from __future__ import annotations

from enum import StrEnum


class HomeId(StrEnum):
    VALIDATE = "home_validate"
    ASSIGN = "home_assign"
    EXPIRING = "home_expiring"
    HELP = "home_help"
    REFRESH = "home_refresh"


class UploadId(StrEnum):
    PASSWORD = "upload_password"
    SAVE = "upload_save"
    MANUAL = "upload_manual"
    PASSWORD_MODAL = "upload_password_modal"
    SAVE_MODAL = "upload_save_modal"


class ValidateId(StrEnum):
    FORMAT_MODAL = "validate_format"
    FIELDS_MODAL = "validate_fields"


class AssignId(StrEnum):
    MODAL = "assign_modal"
    PICK = "assign_pick_certificate"
    CONFIRM = "assign_confirm"
    RENEW_CONFIRM = "assign_renew_confirm"
    CANCEL = "assign_cancel"
    # The "Assign" button under a verdict or a saved certificate: opens the assign form.
    OPEN = "assign_open"


class WarningId(StrEnum):
    RENEW = "certops_warning_renew"
    SNOOZE_1 = "certops_warning_snooze_1"
    SNOOZE_7 = "certops_warning_snooze_7"
    ACKNOWLEDGE = "certops_warning_ack"


class ServedAction(StrEnum):
    """The buttons of a served-certificate change (issue 17): the next step it calls for.
    ADOPT's listener belongs to the adopt feature (`certops adopt`'s Slack side)."""

    ADOPT = "served_adopt"
    DNS_CHECK = "served_dns_check"
    RENEW = "served_renew"


# Old values still carried by posted messages, registered beside the new id.
LEGACY: dict[str, tuple[str, ...]] = {
    AssignId.RENEW_CONFIRM: ("renew_confirm",),
    AssignId.CANCEL: ("confirm_cancel",),
    AssignId.OPEN: ("upload_assign",),
}

FEATURE_IDS: tuple[type[StrEnum], ...] = (
    HomeId,
    UploadId,
    ValidateId,
    AssignId,
    WarningId,
    ServedAction,
)


def with_legacy(ident: str) -> tuple[str, ...]:
    """`ident` and the old values that clicks on earlier messages still carry."""
    return (str(ident), *LEGACY.get(ident, ()))
