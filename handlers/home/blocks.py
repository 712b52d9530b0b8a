"""The App Home tab: environments, certificates soonest-expiring first, open tickets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from handlers.common.blocks.base import (
    actions,
    button,
    checked_view,
    context,
    divider,
    escape,
    header,
    section,
)
from handlers.common.blocks.records import (
    certificate_line,
    environment_line,
    soonest_first,
    ticket_line,
)
from handlers.common.ids import HomeId

Record = Mapping[str, Any]


MAX_CERTIFICATES = 30
MAX_ENVIRONMENTS = 30


def _with_days_left(env: Record, days_by_cert: Mapping[str, int | None]) -> dict[str, Any]:
    data = dict(env)
    current = env.get("current") or {}
    if current.get("certificate") in days_by_cert:
        data["days_left"] = days_by_cert[current["certificate"]]
    return data


def home_view(
    environments: Sequence[Record],
    certificates: Sequence[Record],
    *,
    user_id: str,
    is_admin: bool,
) -> dict[str, Any]:
    """The Home view for one person (admins see that they are admins)."""
    days_by_cert = {str(c["name"]): c.get("days_left") for c in certificates}
    role = "You are an admin." if is_admin else "Admins approve certificates and assign them."
    blocks: list[dict[str, Any]] = [
        header("certops: your certificates on OutSystems Cloud"),
        context(f"Hi <@{user_id}>. {role} Type `/cert help` anywhere for every command."),
        actions(
            button("Validate files", HomeId.VALIDATE, style="primary"),
            button("Assign a certificate", HomeId.ASSIGN),
            button("Expiring soon", HomeId.EXPIRING),
            button("Help", HomeId.HELP),
            button("Refresh", HomeId.REFRESH),
            block_id="home_actions",
        ),
        divider(),
        header("Environments"),
    ]
    if environments:
        shown = environments[:MAX_ENVIRONMENTS]
        blocks += [section(environment_line(_with_days_left(e, days_by_cert))) for e in shown]
        if len(environments) > len(shown):
            blocks.append(context(f"…and {len(environments) - len(shown)} more: `/cert env list`"))
    else:
        blocks.append(section("None yet. An admin adds one with `/cert env add`."))
    blocks += [divider(), header("Certificates, soonest expiry first")]
    if certificates:
        ordered = soonest_first(certificates)
        blocks += [section(certificate_line(c)) for c in ordered[:MAX_CERTIFICATES]]
        if len(ordered) > MAX_CERTIFICATES:
            blocks.append(context(f"…and {len(ordered) - MAX_CERTIFICATES} more: `/cert list`"))
    else:
        blocks.append(section("None yet. Drop certificate files into a DM with me to start."))
    tickets = [t for e in environments for t in e.get("open_tickets") or []]
    blocks += [divider(), header("Open support tickets")]
    if tickets:
        blocks += [section(ticket_line(t)) for t in tickets[:20]]
    else:
        blocks.append(section("None open."))
    return checked_view({"type": "home", "blocks": blocks})


def unavailable_view(problem: str) -> dict[str, Any]:
    """The Home tab when the record cannot be read: what is wrong, and a way to retry."""
    return checked_view(
        {
            "type": "home",
            "blocks": [
                header("certops"),
                section(f":warning: I can't show the record right now: {escape(problem)}."),
                actions(button("Refresh", HomeId.REFRESH), block_id="home_actions"),
            ],
        }
    )
