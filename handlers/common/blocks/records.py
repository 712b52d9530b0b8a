"""The record as Block Kit: certificates, environments, assignments, tickets.

Renderers take the services' views as dicts (`view.to_dict()`), so they stay pure and a
test builds their input by hand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.services.mrkdwn import mention
from handlers.common.blocks.base import Blocks, context, divider, escape, fields, header, section

__all__ = ["mention"]  # re-exported: the renderers of other features import it from here

Record = Mapping[str, Any]

STATUS_EMOJI = {
    "validated": ":white_check_mark:",
    "approved": ":white_check_mark:",
    "pending_manual": ":hourglass_flowing_sand:",
    "rejected": ":x:",
    "superseded": ":recycle:",
    "observed": ":eyes:",
}
# How a status reads in a line, where its value alone would not say enough.
STATUS_LABEL = {"observed": "observed (as served, no key)"}
OBSERVED_NOTE = (
    ":eyes: Observed certificate: certops took it in from what the hostname serves and "
    "holds no key for it. Expiry warnings come as for any certificate; renewing means "
    "uploading the new certificate *with its key*, then putting it in place."
)
TICKET_EMOJI = {
    "draft": ":memo:",
    "submitted": ":outbox_tray:",
    "confirmed": ":handshake:",
    "dns_configured": ":globe_with_meridians:",
    "done": ":white_check_mark:",
    "cancelled": ":heavy_multiplication_x:",
}


def day(iso: str | None) -> str:
    """The date part of an ISO-8601 timestamp, or a dash."""
    return iso[:10] if iso else "—"


def days_left_text(days: int | None) -> str:
    if days is None:
        return "no expiry known"
    if days < 0:
        return f":red_circle: expired {-days} day{'s' if days != -1 else ''} ago"
    marker = ":red_circle:" if days < 7 else ":large_orange_circle:" if days < 30 else ""
    return f"{marker} {days} day{'s' if days != 1 else ''} left".strip()


def certificate_line(cert: Record) -> str:
    status = str(cert.get("status", ""))
    emoji = STATUS_EMOJI.get(status, ":grey_question:")
    return (
        f"{emoji} *{escape(str(cert['name']))}* · {escape(str(cert.get('domain') or ''))} · "
        f"{STATUS_LABEL.get(status, status.replace('_', ' '))} · "
        f"expires {day(cert.get('not_after'))} "
        f"({days_left_text(cert.get('days_left'))})"
    ) + served_text(cert.get("served") or [])


def served_text(served: Sequence[Record]) -> str:
    """What the probe saw its hostnames serve: ` · served ✓`, or each one that drifted."""
    if not served:
        return ""
    drift = [s for s in served if s.get("outcome") != "ok"]
    if not drift:
        return " · :white_check_mark: served"
    return " · :warning: " + ", ".join(
        f"{escape(str(s['hostname']))} `{escape(str(s.get('outcome')))}`" for s in drift[:5]
    )


def soonest_first(certs: Sequence[Record]) -> list[Record]:
    """Expiring soonest first; certificates without an expiry last."""
    return sorted(certs, key=lambda c: (c.get("not_after") is None, c.get("not_after") or ""))


def certificate_list_blocks(certs: Sequence[Record], title: str = "Certificates") -> Blocks:
    if not certs:
        return [section(f"*{title}*: none on record. Drop certificate files into a DM with me.")]
    blocks: Blocks = [header(f"{title} ({len(certs)})")]
    blocks += [section(certificate_line(cert)) for cert in soonest_first(certs)]
    return blocks


def certificate_blocks(cert: Record) -> Blocks:
    """One certificate in detail."""
    status = str(cert.get("status", ""))
    sans = ", ".join(escape(str(s)) for s in cert.get("sans") or []) or "—"
    key = f"{cert.get('key_type') or '?'} {cert.get('key_bits') or ''}".strip()
    blocks: Blocks = [
        header(f"Certificate {escape(str(cert['name']))}"),
        section(certificate_line(cert)),
        fields(
            [
                ("Subject", escape(str(cert.get("subject") or "—"))),
                ("Issuer", escape(str(cert.get("issuer") or "—"))),
                ("Names", sans),
                ("Valid", f"{day(cert.get('not_before'))} → {day(cert.get('not_after'))}"),
                ("Key", key),
                ("Format", str(cert.get("submitted_format") or "—")),
                (
                    "Submitted by",
                    f"{mention(cert.get('submitted_by'))} on {day(cert.get('submitted_at'))}",
                ),
                ("SHA-256", f"`{cert.get('fingerprint_sha256') or '—'}`"),
            ]
        ),
    ]
    if status == "observed":
        blocks.append(context(OBSERVED_NOTE))
    if cert.get("review_reason"):
        blocks.append(
            section(
                f"*Review* by {mention(cert.get('reviewed_by'))}: {escape(str(cert['review_reason']))}"
            )
        )
    if cert.get("renews"):
        blocks.append(context(f"Renews *{escape(str(cert['renews']))}*"))
    if cert.get("renewed_by"):
        blocks.append(
            context("Renewed by " + ", ".join(f"*{escape(str(n))}*" for n in cert["renewed_by"]))
        )
    assignments = cert.get("assignments") or []
    if assignments:
        blocks.append(divider())
        blocks += [section(assignment_line(a)) for a in assignments]
    served = cert.get("served") or []
    if served:
        lines = [
            f"• {escape(str(s['hostname']))}: `{escape(str(s.get('outcome')))}`"
            + (f" ({escape(str(s['detail'])[:200])})" if s.get("detail") else "")
            + f" · probed {day(s.get('checked_at'))}"
            for s in served[:10]
        ]
        blocks.append(section("*Served (latest probe)*\n" + "\n".join(lines)))
    return blocks


def assignment_line(assignment: Record) -> str:
    return (
        f"*{escape(str(assignment['environment']))}* · {escape(str(assignment['hostname']))} · "
        f"{escape(str(assignment['certificate']))} · {assignment.get('state', '')}"
    )


def environment_line(env: Record) -> str:
    current = env.get("current") or {}
    hostname = env.get("hostname") or current.get("hostname") or "no custom hostname"
    lifetime = " · LifeTime" if env.get("is_lifetime") else ""
    if env.get("environment_type"):
        lifetime += f" · {escape(str(env['environment_type']))}"
    cert = current.get("certificate") or "no certificate"
    state = (
        f" ({current['state']})" if current.get("state") and current["state"] != "active" else ""
    )
    line = (
        f"*{escape(str(env['name']))}*{lifetime} · {escape(str(hostname))} · "
        f"{escape(str(cert))}{state} · `{escape(str(env.get('default_host', '')))}`"
    )
    if env.get("days_left") is not None or current.get("days_left") is not None:
        line += f" · {days_left_text(env.get('days_left', current.get('days_left')))}"
    return line


def environment_list_blocks(envs: Sequence[Record]) -> Blocks:
    if not envs:
        return [section("*Environments*: none on record. An admin adds one with `/cert env add`.")]
    return [header(f"Environments ({len(envs)})"), *[section(environment_line(e)) for e in envs]]


def environment_added_blocks(env: Record) -> Blocks:
    channel = env.get("channel")
    where = f" Expiry warnings go to {channel_ref(channel)}." if channel else ""
    kind = "LifeTime environment" if env.get("is_lifetime") else "Environment"
    return [
        section(
            f":white_check_mark: {kind} *{escape(str(env['name']))}* recorded, default host "
            f"`{escape(str(env['default_host']))}`.{where}"
        )
    ]


def channel_ref(channel: str) -> str:
    if channel.startswith(("C", "G")) and channel.isalnum():
        return f"<#{channel}>"
    return escape(channel)


def ticket_line(ticket: Record) -> str:
    state = str(ticket.get("state", ""))
    case = f" · case {escape(str(ticket['case_number']))}" if ticket.get("case_number") else ""
    return (
        f"{TICKET_EMOJI.get(state, '')} *#{ticket['id']}* {state.replace('_', ' ')} · "
        f"{escape(str(ticket['environment']))} → {escape(str(ticket['hostname']))} · "
        f"{escape(str(ticket['certificate']))}{case}"
    ).strip()


def ticket_list_blocks(tickets: Sequence[Record], title: str = "Support tickets") -> Blocks:
    if not tickets:
        return [section(f"*{title}*: none.")]
    return [header(f"{title} ({len(tickets)})"), *[section(ticket_line(t)) for t in tickets]]


def ticket_blocks(ticket: Record, headline: str, extra: str | None = None) -> Blocks:
    blocks: Blocks = [section(f"{headline}\n{ticket_line(ticket)}")]
    if extra:
        blocks.append(section(f"```{escape(extra)}```" if "\n" in extra else escape(extra)))
    return blocks
