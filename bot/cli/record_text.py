"""Text renderings of the services' results for `certops env|cert|assign|ticket|audit`.

Short and scannable: the outcome first, then what to do next, then the reminders. The
JSON form (`--json`) is the services' `to_dict()` and holds everything.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # types only: a command imports the services it runs, no others
    from bot.services.adoption import AdoptResult
    from bot.services.assignments import AssignResult
    from bot.services.audit import AuditEntry
    from bot.services.certificates import ReviewResult, SubmitResult
    from bot.services.environment_sync import SyncResult
    from bot.services.errors import ServiceError
    from bot.services.renewals import RenewalResult
    from bot.services.supersession import RenewalTarget
    from bot.services.tickets import TicketResult
    from bot.services.views import AssignmentView, CertificateView, EnvironmentView, TicketView


def _findings(report: dict[str, Any] | None, indent: str = "  ") -> list[str]:
    lines = []
    for f in (report or {}).get("findings", []):
        lines.append(f"{indent}{f['severity'].upper():<7} {f['code']}: {f['message']}")
        if f.get("hint"):
            lines.append(f"{indent}        -> {f['hint']}")
    for number, fix in enumerate((report or {}).get("fixes", []), 1):
        lines.append(f"{indent}fix {number}. {fix}")
    return lines


def print_refusal(prog: str, error: ServiceError) -> None:
    """One clear line, then the report that explains it (if any), on stderr."""
    print(f"{prog}: refused ({error.code}): {error.message}", file=sys.stderr)
    for key in ("report", "dns_report"):
        lines = _findings(error.details.get(key))
        if lines:
            print("\n".join(lines), file=sys.stderr)


def _assignment_line(a: AssignmentView) -> str:
    return (
        f"{a.environment}: {a.hostname} <- {a.certificate} ({a.state}, active from {a.active_at})"
    )


def _environment(e: EnvironmentView) -> str:
    kind = " [LifeTime]" if e.is_lifetime else ""
    lines = [f"{e.name}{kind}  default host {e.default_host}"]
    lines.append(f"  hostname:    {e.hostname or '(none)'}")
    if e.lifetime_key:
        lines.append(f"  LifeTime:    {e.environment_type or '?'}, key {e.lifetime_key}")
    if e.current:
        c = e.current
        lines.append(f"  certificate: {c.certificate} ({c.state}, active from {c.active_at})")
    if e.channel:
        lines.append(f"  channel:     {e.channel}")
    for t in e.open_tickets:
        lines.append(f"  ticket {t.id}: {t.certificate} for {t.hostname} ({t.state})")
    return "\n".join(lines)


def _certificate(c: CertificateView) -> str:
    lines = [f"{c.name}  {c.status}  {c.domain or ''}".rstrip()]
    lines.append(f"  names:       {', '.join(c.sans) or '(none)'}")
    lines.append(f"  valid until: {_until(c, 'days left')}")
    lines.append(f"  key:         {c.key_type or '?'} {c.key_bits or ''}".rstrip())
    lines.append(f"  issuer:      {c.issuer or '?'}")
    lines.append(f"  SHA-256:     {c.fingerprint_sha256 or '?'}")
    if c.status == "observed":
        lines.append(f"  observed:    by {c.submitted_by} at {c.submitted_at}, as served")
        lines.append("               (public parts only, no key: renew by submitting the new")
        lines.append(f"               certificate with its key, --renews {c.name})")
    else:
        lines.append(f"  submitted:   {c.submitted_by} at {c.submitted_at} ({c.submitted_format})")
    if c.renews:
        lines.append(f"  renews:      {c.renews}")
    if c.renewed_by:
        lines.append(f"  renewed by:  {', '.join(c.renewed_by)}")
    if c.reviewed_by:
        reason = f": {c.review_reason}" if c.review_reason else ""
        lines.append(f"  reviewed:    by {c.reviewed_by} at {c.reviewed_at}{reason}")
    for a in c.assignments:
        lines.append(f"  on {_assignment_line(a)}")
    for s in c.served:
        why = f" ({s['detail']})" if s.get("detail") else ""
        lines.append(
            f"  served:      {s['hostname']}: {s['outcome']}{why}, probed {s['checked_at']}"
        )
    if c.report and c.report.get("verdict"):  # an observed certificate was never validated
        lines.append(f"  validation:  {c.report.get('verdict')}")
        lines += _findings(c.report, "    ")
    return "\n".join(lines)


def _certificate_line(c: CertificateView) -> str:
    line = f"{c.name:<24} {c.status:<15} {', '.join(c.sans)[:50]:<50} until {_until(c, 'days')}"
    return line + _served_summary(c.served)


def _served_summary(served: list[dict[str, Any]]) -> str:
    """`  served ok`, or the hostnames that drifted: what the probe saw last."""
    if not served:
        return ""
    drift = [f"{s['hostname']} {s['outcome']}" for s in served if s.get("outcome") != "ok"]
    return f"  served: {'; '.join(drift)}" if drift else "  served ok"


def _until(c: CertificateView, unit: str) -> str:
    """A certificate that could not be read has no expiry: say so, never 'None'."""
    if c.not_after is None:
        return "? (no readable certificate)"
    return f"{c.not_after} ({c.days_left} {unit})"


def _offer(targets: list[RenewalTarget], name: str) -> list[str]:
    if not targets:
        return []
    lines = ["", f"It renews a certificate in use; put {name} on all of them in one step:"]
    for t in targets:
        how = "a new LifeTime ticket" if t.is_lifetime else "assign"
        lines.append(f"  {t.environment}: {t.hostname} ({how})")
    lines.append(f"  certops cert renew {name} --cname-confirmed")
    return lines


def _submit(r: SubmitResult) -> str:
    c = r.certificate
    if r.manual:
        head = f"Stored {c.name} as pending_manual: an admin must approve it before it is assigned."
    else:
        head = f"Stored {c.name} as validated: it can be assigned."
    lines = [
        head,
        f"  names: {', '.join(c.sans) or '(none)'}; valid until {_until(c, 'days left')}",
    ]
    lines += _findings(r.report)
    lines += _offer(r.renewal_targets, c.name)
    return "\n".join(lines)


def _review(r: ReviewResult) -> str:
    lines = [f"{r.certificate.name} is {r.decision} by {r.reviewer}; tell {r.submitter}."]
    if r.reason:
        lines.append(f"  reason: {r.reason}")
    lines += _offer(r.renewal_targets, r.certificate.name)
    return "\n".join(lines)


def _reminders(items: list[str]) -> list[str]:
    return ["", "Remember:"] + [f"  - {item}" for item in items] if items else []


def _assign(r: AssignResult) -> str:
    a = r.assignment
    lines = [
        f"Assigned {a.certificate} to {a.environment} as {a.hostname}: {a.state} until "
        f"{a.active_at} (about 5 minutes), then active."
    ]
    if r.replaced:
        lines.append(f"  replaced: {r.replaced.certificate} ({r.replaced.hostname})")
    if r.superseded:
        lines.append(f"  superseded: {', '.join(r.superseded)}")
    lines.append(f"  DNS check: {a.dns_verdict}")
    lines += [f"  WARNING: {w}" for w in r.warnings]
    lines += _reminders(r.reminders)
    return "\n".join(lines)


def _adopt(r: AdoptResult) -> str:
    c = r.certificate
    if not r.changed:
        head = f"{r.hostname} on {r.environment} already serves {c.name} ({c.status}): unchanged."
    elif r.reused:
        head = (
            f"Adopted {r.hostname} on {r.environment}: it serves {c.name} ({c.status}), on record."
        )
    else:
        head = f"Adopted {r.hostname} on {r.environment} as {c.name} (observed, public parts only)."
    lines = [
        head,
        f"  served by:    {r.served_by}",
        f"  subject:      {c.subject or '?'}",
        f"  names:        {', '.join(c.sans) or '(none)'}",
        f"  valid until:  {_until(c, 'days left')}",
        f"  SHA-256:      {c.fingerprint_sha256 or '?'}",
    ]
    if r.next_warning:
        lines.append(f"  next warning: {r.next_warning['at']} ({r.next_warning['label']})")
    if r.replaced:
        lines.append(f"  replaced:     {r.replaced.certificate} ({r.replaced.hostname})")
    if r.superseded:
        lines.append(f"  superseded:   {', '.join(r.superseded)}")
    if c.status == "observed":
        lines += ["", "certops holds no key for it: to renew, submit the new certificate with"]
        lines.append(
            f"its key (certops cert submit FILES --renews {c.name}), then certops cert renew."
        )
    return "\n".join(lines)


def _ticket_result(r: TicketResult) -> str:
    t = r.ticket
    lines = [f"Ticket {t.id}: {t.certificate} for {t.hostname} on {t.environment} ({t.state})"]
    lines.append(r.message)
    if r.dns_report:
        lines.append(f"  DNS check: {r.dns_report.get('verdict')}")
    lines += [f"  WARNING: {w}" for w in r.warnings]
    if r.support_text:
        lines += ["", "----- paste into the support case -----", r.support_text, "-----"]
    lines += _reminders(r.reminders)
    return "\n".join(lines)


def _ticket(t: TicketView) -> str:
    case = f", case {t.case_number}" if t.case_number else ""
    return f"{t.id}  {t.state:<15} {t.certificate} for {t.hostname} on {t.environment}{case}"


def _renewal(r: RenewalResult) -> str:
    lines = [f"Renewal {r.certificate} (renews {r.renews}):"]
    for o in r.outcomes:
        t = o.target
        if o.ok:
            what = "ticket opened" if t.is_lifetime else "assigned"
            lines.append(f"  {t.environment}: {t.hostname}: {what}")
            lines += _renewal_next_steps(o.result)
        else:
            lines.append(
                f"  {t.environment}: {t.hostname}: refused ({o.result.get('code')}): "
                f"{o.result.get('message')}"
            )
    first = next((o.result for o in r.outcomes if o.ok and o.result.get("reminders")), None)
    if first:
        lines += _reminders(first["reminders"])
    return "\n".join(lines)


def _renewal_next_steps(result: dict[str, Any]) -> list[str]:
    """What a person must still do for one target: the DNS warning of an assignment, or a
    new ticket's next step and the text to paste into its support case."""
    lines = [f"    WARNING: {w}" for w in result.get("warnings") or []]
    if result.get("ticket") and result.get("message"):
        lines.append(f"    {result['message']}")
    if result.get("support_text"):
        lines += ["", "----- paste into the support case -----", result["support_text"], "-----"]
    return lines


def _sync(r: SyncResult) -> str:
    """The same summary `/cert env sync` answers (one renderer, in the service)."""
    from bot.services.environment_sync import summary_lines

    return "\n".join(summary_lines(r))


def _audit(e: AuditEntry) -> str:
    changes = e.changes()
    shown = ", ".join(f"{k}: {b!r} -> {a!r}" for k, (b, a) in list(changes.items())[:4])
    return f"{e.at}  {e.actor:<10} {e.action:<24} {e.entity_type} {e.entity_id}  {shown}"


# The renderer of each result type, by "module.Class": looked up by name so that this
# module imports none of the services (`cert list` would pay for the validation pipeline
# and DNS). tests/test_cli_startup_cost.py checks that every name still exists.
RENDERERS: dict[str, Callable[[Any], str]] = {
    "bot.services.certificates.SubmitResult": _submit,
    "bot.services.certificates.ReviewResult": _review,
    "bot.services.assignments.AssignResult": _assign,
    "bot.services.adoption.AdoptResult": _adopt,
    "bot.services.tickets.TicketResult": _ticket_result,
    "bot.services.renewals.RenewalResult": _renewal,
    "bot.services.views.EnvironmentView": _environment,
    "bot.services.views.CertificateView": _certificate,
    "bot.services.views.TicketView": _ticket,
    "bot.services.views.AssignmentView": _assignment_line,
    "bot.services.audit.AuditEntry": _audit,
    "bot.services.environment_sync.SyncResult": _sync,
}


def _renderer(result: Any) -> Callable[[Any], str] | None:
    for kind in type(result).__mro__:
        found = RENDERERS.get(f"{kind.__module__}.{kind.__qualname__}")
        if found is not None:
            return found
    return None


def render(result: Any) -> str:
    """The text for any service result or list of views."""
    if isinstance(result, list):
        if not result:
            return "(none)"
        if all(_renderer(item) is _certificate and item.report is None for item in result):
            return "\n".join(_certificate_line(item) for item in result)
        return "\n".join(render(item) for item in result)
    renderer = _renderer(result)
    return str(renderer(result)) if renderer is not None else str(result)
