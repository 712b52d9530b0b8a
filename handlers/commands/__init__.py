"""The `/cert` slash command: the listener, and one function per subcommand."""

from __future__ import annotations

from slack_bolt import App

from handlers.commands.command import cert_command
from handlers.common.deps import Deps

COMMAND = "/cert"


def register(app: App, deps: Deps) -> None:
    app.command(COMMAND)(cert_command)
