"""`/cert validate`: the two-step form that mirrors LifeTime's upload wizard."""

from __future__ import annotations

from slack_bolt import App

from handlers.common.deps import Deps
from handlers.common.ids import ValidateId
from handlers.validate import form


def register(app: App, deps: Deps) -> None:
    deps.forms.validate = form.open_modal  # opened by commands/, home/ and warnings/
    app.view(ValidateId.FORMAT_MODAL)(form.on_format)
    app.view(ValidateId.FIELDS_MODAL)(form.on_fields)
