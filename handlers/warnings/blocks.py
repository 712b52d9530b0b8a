"""Block Kit of the expiry warnings, as pure functions (rendered and checked in tests).

The warning names the certificate, where it serves (environments and hostnames), the
days left and the expiry date, with the buttons Renew, Snooze 1 day, Snooze 7 days and
Acknowledge. Every button's value carries the certificate id and the channel, so a click
needs no lookup of which message it came from.
"""

from __future__ import annotations

import json

from bot.services import served as outcomes
from bot.services.expiry import DueWarning, RenewedNotice
from bot.services.served import ServedChange
from handlers.common.blocks.base import (
    Blocks,
    actions,
    button,
    checked_message,
    context,
    escape,
    fields,
    header,
    section,
)
from handlers.common.blocks.confirm import renew_prompt_blocks
from handlers.common.blocks.digest import days_text
from handlers.common.blocks.records import OBSERVED_NOTE
from handlers.common.ids import ServedAction, WarningId

BLOCK_WARNING_ACTIONS = "certops_warning_actions"


def _value(warning: DueWarning) -> str:
    return json.dumps(
        {
            "certificate_id": warning.certificate_id,
            "certificate": warning.certificate,
            "domain": warning.domain,
            "channel": warning.channel,
        },
        separators=(",", ":"),
    )


def _where(warning: DueWarning) -> str:
    if not warning.placements:
        return "no environment (not assigned anywhere)"
    return "\n".join(
        f"• *{escape(p.environment)}*"
        + (f" · {escape(p.hostname)}" if p.hostname else "")
        + (" (LifeTime)" if p.is_lifetime else "")
        for p in warning.placements
    )


def headline(warning: DueWarning) -> str:
    name = escape(warning.certificate)
    if warning.is_expired:
        return f":rotating_light: <!here> Certificate *{name}* has EXPIRED"
    if warning.is_reminder:
        return f":alarm_clock: Snooze over: certificate *{name}* — {escape(warning.label)}"
    when = f"in {days_text(warning.days_left)}" if warning.days_left > 0 else "in less than a day"
    icon = ":warning:" if warning.days_left <= 7 else ":hourglass_flowing_sand:"
    return f"{icon} Certificate *{name}* expires {when}"


def warning_blocks(warning: DueWarning, note: str | None = None) -> Blocks:
    """The warning message (new, updated in place, or a reminder in its thread)."""
    days = "expired" if warning.is_expired else str(warning.days_left)
    blocks: Blocks = [
        section(headline(warning)),
        fields(
            [
                ("Certificate", escape(warning.certificate)),
                ("Expires", f"{warning.not_after:%Y-%m-%d %H:%M} UTC"),
                ("Days left", days),
                ("Names", escape(", ".join(warning.sans) or warning.domain)),
            ]
        ),
        section("*Serves*\n" + _where(warning)),
    ]
    if warning.is_expired:
        blocks.insert(0, header(f"Expired: {escape(warning.certificate)}"))
        blocks.append(
            section(
                ":fire: Browsers now refuse these hostnames. Renew and put the new "
                "certificate in place now."
            )
        )
    if warning.observed:
        blocks.append(context(OBSERVED_NOTE))
    value = _value(warning)
    blocks.append(
        actions(
            button("Renew", WarningId.RENEW, value=value, style="primary"),
            button("Snooze 1 day", WarningId.SNOOZE_1, value=value),
            button("Snooze 7 days", WarningId.SNOOZE_7, value=value),
            button("Acknowledge", WarningId.ACKNOWLEDGE, value=value),
            block_id=BLOCK_WARNING_ACTIONS,
        )
    )
    blocks.append(context(note or f"Threshold: {escape(warning.label)}."))
    return checked_message(blocks)


def warning_text(warning: DueWarning) -> str:
    """The text beside the blocks: what a notification and mobile show, so it is escaped
    like the blocks (a name stored before the naming rule may hold `<!channel>`)."""
    name = escape(warning.certificate)
    if warning.is_expired:
        return f"Certificate {name} has expired"
    return f"Certificate {name} expires in {warning.days_left} days"


def renewed_text(notice: RenewedNotice) -> str:
    """The notification text of a warning that became 'renewed'."""
    return f"Certificate {escape(notice.certificate)} is renewed by {escape(notice.renewed_by)}"


def renewal_offer_text(notice: RenewedNotice) -> str:
    """The notification text of the one-step renewal offer."""
    return f"Put {escape(notice.renewed_by)} where {escape(notice.certificate)} serves?"


def renewed_blocks(notice: RenewedNotice) -> Blocks:
    """What a warning becomes once a valid renewal exists (no more buttons)."""
    return checked_message(
        [
            section(
                f":white_check_mark: Certificate *{escape(notice.certificate)}* is renewed by "
                f"*{escape(notice.renewed_by)}*: no more warnings about it."
            )
        ]
    )


def renewal_offer_blocks(notice: RenewedNotice) -> Blocks:
    """The one-step offer: put the renewal on every environment of the old certificate."""
    return checked_message(renew_prompt_blocks(notice.renewed_by, list(notice.targets)))


# -- served-certificate changes (issue 17) --------------------------------------------------

BLOCK_SERVED_ACTIONS = "certops_served_actions"

_SERVED_HEADLINES = {
    outcomes.OK: ":white_check_mark: *{host}* serves the recorded certificate again",
    outcomes.SERVED_OTHER: ":warning: *{host}* serves a certificate that is not the recorded one",
    outcomes.SERVED_EXPIRES_SOONER: (
        ":warning: *{host}* serves a certificate that expires before the recorded one"
    ),
    outcomes.HANDSHAKE_FAILED: ":x: *{host}*: no certificate could be read (handshake failed)",
    outcomes.UNRESOLVABLE: ":x: *{host}* does not resolve",
    outcomes.CNAME_CHANGED: ":x: *{host}*: the DNS check fails where it passed at assignment",
    outcomes.ADDRESS_REFUSED: ":no_entry: *{host}* points at an address the probe does not dial",
    outcomes.NOT_RECORDED: ":mag: *{host}* serves a certificate that certops does not record",
}


def served_value(change: ServedChange) -> str:
    """What every button of the message carries: no lookup of the message is needed."""
    return json.dumps(
        {
            "hostname": change.hostname,
            "environment_id": change.environment_id,
            "environment": change.environment,
            "certificate": change.certificate or "",
            "domain": change.domain or change.hostname,
            "channel": change.channel,
        },
        separators=(",", ":"),
    )


def served_buttons(change: ServedChange) -> list[dict[str, object]]:
    """The next step the outcome calls for: adopt what is served, renew, or check the DNS."""
    value = served_value(change)
    if change.outcome in (outcomes.SERVED_OTHER, outcomes.NOT_RECORDED):
        return [
            button("Adopt the served certificate", ServedAction.ADOPT, value=value, style="primary")
        ]
    if change.outcome == outcomes.SERVED_EXPIRES_SOONER and change.certificate:
        return [button("Renew", ServedAction.RENEW, value=value, style="primary")]
    if change.outcome in (
        outcomes.HANDSHAKE_FAILED,
        outcomes.UNRESOLVABLE,
        outcomes.CNAME_CHANGED,
        outcomes.ADDRESS_REFUSED,
    ):
        return [button("Run the DNS check", ServedAction.DNS_CHECK, value=value)]
    return []


def served_text(change: ServedChange) -> str:
    """The notification text (escaped like the blocks: a name may predate the rules)."""
    return f"{escape(change.hostname)} on {escape(change.environment)}: {change.outcome}"


def served_blocks(change: ServedChange) -> Blocks:
    """The message that says a hostname's outcome changed, with the next step's button."""
    template = _SERVED_HEADLINES.get(change.outcome, "*{host}*: " + escape(change.outcome))
    pairs = [("Environment", escape(change.environment)), ("Outcome", f"`{change.outcome}`")]
    if change.certificate:
        pairs.append(("Recorded", escape(change.certificate)))
    if change.served_not_after is not None:
        pairs.append(("Served expires", f"{change.served_not_after:%Y-%m-%d %H:%M} UTC"))
    if change.served_subject:
        pairs.append(("Served subject", escape(change.served_subject[:200])))
    if change.served_fingerprint:
        pairs.append(("Served SHA-256", f"`{change.served_fingerprint[:23]}…`"))
    blocks: Blocks = [section(template.format(host=escape(change.hostname))), fields(pairs)]
    if change.detail:
        blocks.append(section(f"*Why*\n{escape(change.detail[:500])}"))
    buttons = served_buttons(change)
    if buttons:
        blocks.append(actions(*buttons, block_id=BLOCK_SERVED_ACTIONS))
    blocks.append(context("The served-certificate probe (certops probe) saw this change."))
    return checked_message(blocks)
