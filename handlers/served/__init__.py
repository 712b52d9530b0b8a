"""What hostnames serve, in Slack (issue 17): the "Adopt" button of a probe's post.

The probe's post (another feature's) carries the button; this feature listens to it.
"""

from __future__ import annotations

from slack_bolt import App

from handlers.common.deps import Deps
from handlers.common.ids import ServedAction
from handlers.served import listeners


def register(app: App, deps: Deps) -> None:
    app.action(ServedAction.ADOPT)(listeners.adopt)
