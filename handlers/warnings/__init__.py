"""Expiry warnings in Slack: the scheduler's publishers (publisher.py), the warning's
Block Kit (blocks.py) and its buttons (listeners.py)."""

from __future__ import annotations

from slack_bolt import App

from handlers.common.deps import Deps
from handlers.common.ids import ServedAction, WarningId
from handlers.warnings import listeners


def register(app: App, deps: Deps) -> None:
    app.action(WarningId.SNOOZE_1)(listeners.snooze_1)
    app.action(WarningId.SNOOZE_7)(listeners.snooze_7)
    app.action(WarningId.ACKNOWLEDGE)(listeners.acknowledge)
    app.action(WarningId.RENEW)(listeners.renew)
    # A served-certificate change's buttons (issue 17): Renew opens the same form.
    app.action(ServedAction.RENEW)(listeners.renew)
    app.action(ServedAction.DNS_CHECK)(listeners.served_dns_check)
