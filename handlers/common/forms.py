"""The two forms other features open: validate (the Home, `/cert validate`, Renew on an
expiry warning) and assign (the Home, `/cert assign`, the Assign button under a verdict).

Each form's feature sets its opener in `Deps.forms` when it registers, so the features
that open it need no import of it. An opener is called right at the ack (a `trigger_id`
is valid for 3 seconds) through `Deps.open_modal` (one try, a deadline:
`handlers.common.modal_open`); it returns None once it opened the form, or the text to
answer with instead (nothing to assign yet, not an admin).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from slack_sdk import WebClient

if TYPE_CHECKING:
    from handlers.common.deps import Deps

# What to say when Slack did not open the form.
VALIDATE_REST = (
    "Try again in a moment, or send me the files in a direct message: I check them the same way."
)
ASSIGN_REST = (
    "Try again in a moment, or assign in one line: `/cert assign CERTIFICATE ENVIRONMENT HOSTNAME`."
)


@dataclass(frozen=True)
class FormRequest:
    """Who opens a form, from where, and what it is prefilled with."""

    trigger_id: str
    user_id: str
    channel_id: str = ""
    # validate: the Domain, the new name and the certificate it renews (Renew button)
    domain: str = ""
    name: str = ""
    renews: str = ""
    # assign: the certificate chosen already (the Assign button under a saved one)
    certificate: str = ""


FormOpener = Callable[[WebClient, FormRequest, "Deps"], "str | None"]


def _not_registered(client: WebClient, request: FormRequest, deps: Deps) -> str | None:
    return "This form is not available in this version."


@dataclass
class Forms:
    validate: FormOpener = _not_registered
    assign: FormOpener = _not_registered
