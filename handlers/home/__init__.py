"""The App Home tab and its buttons."""

from __future__ import annotations

from slack_bolt import App

from handlers.common.deps import Deps
from handlers.common.ids import HomeId
from handlers.home import buttons, tab


def register(app: App, deps: Deps) -> None:
    # Other features republish the Home after a change through these (no import of home/).
    deps.show_home = lambda client, actor: tab.show(client, actor, deps)
    deps.publish_home = lambda client, actor: tab.publish(client, actor, deps)
    app.event("app_home_opened")(tab.app_home_opened)
    app.action(HomeId.REFRESH)(buttons.refresh)
    app.action(HomeId.HELP)(buttons.show_help)
    app.action(HomeId.VALIDATE)(buttons.open_validate)
    app.action(HomeId.ASSIGN)(buttons.open_assign)
    app.action(HomeId.EXPIRING)(buttons.expiring)
