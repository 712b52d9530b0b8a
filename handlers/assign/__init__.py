"""Assigning a certificate: the form, the confirmations of `/cert assign` and `/cert renew`
(and of the renewal offer in an expiry warning's thread), and the result message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App

from handlers.assign import confirmations, form
from handlers.common.deps import Deps
from handlers.common.ids import AssignId, with_legacy


def register(app: App, deps: Deps) -> None:
    deps.forms.assign = form.open_modal  # opened by commands/ and home/
    app.view(AssignId.MODAL)(form.on_submit)
    app.action(AssignId.PICK)(form.on_pick)
    _actions(app, AssignId.OPEN, form.open_from_button)
    _actions(app, AssignId.CONFIRM, confirmations.assign_confirm)
    _actions(app, AssignId.RENEW_CONFIRM, confirmations.renew_confirm)
    _actions(app, AssignId.CANCEL, confirmations.cancel)


def _actions(app: App, ident: AssignId, listener: Callable[..., Any]) -> None:
    """One listener for the id and for its old values (buttons of earlier messages)."""
    for value in with_legacy(ident):
        app.action(value)(listener)
