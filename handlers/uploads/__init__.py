"""Files dropped in a DM: collect, check, answer; the password and save forms; the DM's
other messages."""

from __future__ import annotations

from slack_bolt import App

from handlers.common.deps import Deps
from handlers.common.ids import UploadId
from handlers.uploads import dm, intake, save


def register(app: App, deps: Deps) -> None:
    """Listen for uploads and the upload flow's buttons and modals. For a request the first
    matching listener wins: the DM's catch-all `message` listener comes last."""
    # The submissions being collected, per app (found by the listeners through `deps`).
    deps.feature_state[intake.Intake] = intake.Intake(
        deps, window=deps.settings.upload_window_seconds
    )
    app.event({"type": "message", "subtype": "file_share"})(intake.on_file_share)
    app.event("message", matchers=[intake.looks_like_password])(intake.on_password_text)
    app.action(UploadId.PASSWORD)(intake.open_password)
    app.view(UploadId.PASSWORD_MODAL)(intake.submit_password)
    app.action(UploadId.SAVE)(save.open_save)
    app.action(UploadId.MANUAL)(save.open_save)
    app.view(UploadId.SAVE_MODAL)(save.submit_save)
    app.event("message")(dm.on_message)
