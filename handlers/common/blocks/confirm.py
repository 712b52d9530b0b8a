"""Assign and renew: the confirmation prompt before, the announcement after."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from handlers.common.blocks.base import Blocks, actions, button, context, escape, section
from handlers.common.blocks.dns import dns_blocks, dns_summary
from handlers.common.blocks.records import mention
from handlers.common.ids import AssignId


def assign_prompt_blocks(
    *, certificate: str, environment: str, hostname: str, default_host: str, is_lifetime: bool
) -> Blocks:
    value = json.dumps(
        {"certificate": certificate, "environment": environment, "hostname": hostname}
    )
    text = (
        f"Assign *{escape(certificate)}* to *{escape(environment)}* as *{escape(hostname)}*?\n"
        f"Before you confirm, the DNS must hold `{escape(hostname)} CNAME {escape(default_host)}` "
        "(a CNAME, not an A record, and not the load balancer's address). "
        "I'll check it, then the change takes about 5 minutes."
    )
    if is_lifetime:
        text += (
            "\n_This is LifeTime: it changes only through a support ticket (`/cert ticket open`)._"
        )
    return [
        section(text),
        actions(
            button(
                "I have created the CNAME: assign",
                AssignId.CONFIRM,
                value=value,
                style="primary",
            ),
            button("Cancel", AssignId.CANCEL),
            block_id="assign_confirm",
        ),
    ]


def renew_prompt_blocks(name: str, targets: Sequence[Mapping[str, Any]]) -> Blocks:
    lines = [
        f"• *{escape(str(t['environment']))}* · {escape(str(t['hostname']))} "
        f"(now {escape(str(t['old_certificate']))}): "
        + ("support ticket" if t.get("is_lifetime") else "assign")
        for t in targets
    ]
    return [
        section(
            f"Renew with *{escape(name)}* everywhere the old certificate serves:\n"
            + "\n".join(lines)
        ),
        context("The CNAME records stay as they are; I check each one before the change."),
        actions(
            button(
                "Renew now",
                AssignId.RENEW_CONFIRM,
                value=json.dumps({"name": name}),
                style="primary",
            ),
            button("Cancel", AssignId.CANCEL),
            block_id="renew_confirm",
        ),
    ]


def reminders_block(reminders: Sequence[str]) -> dict[str, Any]:
    return section("*Remember*\n" + "\n".join(f"• {escape(r)}" for r in reminders))


def assignment_done_blocks(result: Mapping[str, Any], actor: str) -> Blocks:
    a = result["assignment"]
    blocks: Blocks = [
        section(
            f":white_check_mark: {mention(actor)} assigned *{escape(a['certificate'])}* to "
            f"*{escape(a['environment'])}* as *{escape(a['hostname'])}*. The platform applies "
            "it within about 5 minutes."
        )
    ]
    report = result.get("dns_report")
    if report:
        blocks.append(context(dns_summary(report)))
    replaced = result.get("replaced")
    if replaced:
        blocks.append(
            context(
                f"It replaces *{escape(replaced['certificate'])}* ({escape(replaced['hostname'])})."
            )
        )
    blocks += [section(f":warning: {escape(w)}") for w in result.get("warnings") or []]
    if result.get("reminders"):
        blocks.append(reminders_block(result["reminders"]))
    if result.get("superseded"):
        names = ", ".join(f"*{escape(n)}*" for n in result["superseded"])
        blocks.append(context(f"No longer in use, marked superseded: {names}"))
    return blocks


def renewal_done_blocks(result: Mapping[str, Any], actor: str) -> Blocks:
    head = ":white_check_mark:" if result.get("ok") else ":warning:"
    blocks: Blocks = [
        section(
            f"{head} {mention(actor)} renewed *{escape(result['renews'])}* with "
            f"*{escape(result['certificate'])}*:"
        )
    ]
    for outcome in result.get("outcomes") or []:
        target, data = outcome["target"], outcome["result"]
        where = f"*{escape(target['environment'])}* · {escape(target['hostname'])}"
        if outcome.get("ok"):
            what = "support ticket opened" if target.get("is_lifetime") else "assigned"
            blocks.append(section(f"• {where}: {what}"))
            blocks += _ticket_next_step(data)
        else:
            blocks.append(section(f"• {where}: :x: {escape(str(data.get('message', 'refused')))}"))
            if data.get("dns_report"):
                blocks += dns_blocks(data["dns_report"])
    return blocks


def _ticket_next_step(data: Mapping[str, Any]) -> Blocks:
    """A renewal's new LifeTime ticket is useless without its next step and the text to
    paste into the support case: both, as `/cert ticket open` gives them."""
    if not data.get("ticket"):
        return []
    blocks: Blocks = []
    if data.get("message"):
        blocks.append(context(escape(str(data["message"]))))
    if data.get("support_text"):
        blocks.append(section(f"```{escape(str(data['support_text']))}```"))
    return blocks
