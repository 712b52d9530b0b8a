"""The result of a DNS check, as plain data, with its JSON form and its text rendering.

Kept apart from the check itself so that the Slack handlers, the services and the CLI
render one and the same object: the check decides, this module only describes.
Every name in here is already canonical (lower case, A-labels, no trailing dot).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.pipeline.findings import Finding, Severity
from bot.pipeline.hostnames import to_unicode

VERDICT_OK = "ok"
VERDICT_MISCONFIGURED = "misconfigured"
VERDICT_UNKNOWN = "unknown"

# How a nameserver's answer ended (NameserverAnswer.status).
STATUS_ANSWERED = "answered"  # the whole chain was followed to its end
STATUS_INCOMPLETE = "incomplete"  # some answers came, then the budget ran out or it failed
STATUS_NO_ANSWER = "no_answer"  # nothing within the budget
STATUS_FAILED = "failed"  # SERVFAIL, REFUSED, unreachable port...

# Where the chain ended (NameserverAnswer.end).
END_ADDRESSES = "addresses"  # the last name has A/AAAA records
END_NXDOMAIN = "nxdomain"  # the last name does not exist
END_NODATA = "nodata"  # the last name exists but holds no CNAME, A or AAAA
END_LOOP = "loop"  # a name came back in its own chain
END_TOO_LONG = "too_long"  # more hops than the hop limit


@dataclass(frozen=True)
class Hop:
    """One CNAME record: `name` is an alias of `target`, cached for `ttl` seconds."""

    name: str
    target: str
    ttl: int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": "CNAME", "target": self.target, "ttl": self.ttl}


@dataclass(frozen=True)
class Address:
    name: str
    type: str  # "A" or "AAAA"
    address: str
    ttl: int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "address": self.address, "ttl": self.ttl}


@dataclass
class NameserverAnswer:
    """What one nameserver (or the system resolver) said, as far as it got."""

    nameserver: str
    status: str = STATUS_NO_ANSWER
    detail: str = ""
    hops: list[Hop] = field(default_factory=list)
    addresses: list[Address] = field(default_factory=list)
    end: str | None = None
    apex: bool | None = None
    # Negative-caching TTL of the last "does not exist / no data" answer (SOA minimum).
    negative_ttl: int | None = None
    elapsed: float = 0.0

    @property
    def answered(self) -> bool:
        return self.status == STATUS_ANSWERED

    @property
    def learned_anything(self) -> bool:
        return bool(self.hops or self.addresses or self.end)

    def signature(self) -> tuple[object, ...]:
        """What two nameservers must share to agree.

        TTLs are left out (caches count them down), and so are the addresses at the end
        of a chain: a load balancer's name legitimately answers different addresses to
        different resolvers. Addresses held by the hostname itself do count.
        """
        own = tuple(sorted((a.type, a.address) for a in self.addresses)) if not self.hops else ()
        return (tuple((h.name, h.target) for h in self.hops), self.end, self.apex, own)

    def end_text(self) -> str:
        """How the chain ended, in words ('' when it was not followed to its end)."""
        if self.end == END_ADDRESSES:
            shown = ", ".join(a.address for a in self.addresses[:4])
            more = f" (+{len(self.addresses) - 4})" if len(self.addresses) > 4 else ""
            return f"{'A/AAAA' if self.hops else 'A/AAAA at the name'} {shown}{more}"
        return {
            END_NXDOMAIN: "does not exist (NXDOMAIN)",
            END_NODATA: "no CNAME, A or AAAA record",
            END_LOOP: "loops",
            END_TOO_LONG: "too many hops",
        }.get(self.end or "", "")

    def summary(self) -> str:
        """One line: what this nameserver said."""
        if self.status in (STATUS_NO_ANSWER, STATUS_FAILED):
            return self.detail or self.status
        parts: list[str] = []
        if self.hops:
            parts.append(" -> ".join([self.hops[0].name, *[h.target for h in self.hops]]))
        if self.end_text():
            parts.append(self.end_text())
        if self.apex:
            parts.append("zone apex (SOA)")
        if self.status == STATUS_INCOMPLETE:
            parts.append(f"then {self.detail or 'stopped'}")
        return "; ".join(parts) or self.detail or self.status

    def to_dict(self) -> dict[str, Any]:
        return {
            "nameserver": self.nameserver,
            "status": self.status,
            "detail": self.detail,
            "summary": self.summary(),
            "hops": [h.to_dict() for h in self.hops],
            "addresses": [a.to_dict() for a in self.addresses],
            "end": self.end,
            "apex": self.apex,
            "negative_ttl": self.negative_ttl,
            "elapsed": round(self.elapsed, 3),
        }


@dataclass(frozen=True)
class CertificateCoverage:
    names: tuple[str, ...]
    covers: bool

    def to_dict(self) -> dict[str, Any]:
        return {"names": list(self.names), "covers_hostname": self.covers}


@dataclass
class DnsReport:
    """The whole answer to "is HOSTNAME a CNAME to TARGET?"."""

    hostname: str
    target: str
    verdict: str
    findings: list[Finding]
    hops: list[Hop]
    addresses: list[Address]
    nameservers: list[NameserverAnswer]
    fixes: list[str]
    cache_seconds: int | None
    cache_note: str
    timeout: float
    elapsed: float
    certificate: CertificateCoverage | None = None
    # The nameserver whose answer `hops` and `addresses` show: the first that answered
    # fully, else the first that said anything ("" when none did).
    answered_by: str = ""

    @property
    def primary(self) -> NameserverAnswer | None:
        return next((n for n in self.nameservers if n.nameserver == self.answered_by), None)

    @property
    def ok(self) -> bool:
        return self.verdict == VERDICT_OK

    @property
    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    @property
    def expected(self) -> Hop:
        """The record that should exist (its TTL is the owner's choice: 0 here)."""
        return Hop(self.hostname, self.target, 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "hostname": self.hostname,
            "target": self.target,
            "expected": {"name": self.hostname, "type": "CNAME", "target": self.target},
            "findings": [f.to_dict() for f in self.findings],
            "hops": [h.to_dict() for h in self.hops],
            "addresses": [a.to_dict() for a in self.addresses],
            "answered_by": self.answered_by or None,
            "nameservers": [n.to_dict() for n in self.nameservers],
            "fixes": list(self.fixes),
            "cache": {"max_ttl": self.cache_seconds, "note": self.cache_note},
            "certificate": self.certificate.to_dict() if self.certificate else None,
            "timeout": self.timeout,
            "elapsed": round(self.elapsed, 3),
        }


# --- text rendering -------------------------------------------------------------------


def format_duration(seconds: int) -> str:
    """A TTL as a person reads it: '45 s', '5 min', '1 h 30 min', '2 days'."""
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        minutes, rest = divmod(seconds, 60)
        return f"{minutes} min" + (f" {rest} s" if rest else "")
    if seconds < 86400:
        hours, rest = divmod(seconds, 3600)
        return f"{hours} h" + (f" {rest // 60} min" if rest // 60 else "")
    days, rest = divmod(seconds, 86400)
    return f"{days} day{'s' if days > 1 else ''}" + (f" {rest // 3600} h" if rest // 3600 else "")


def _display_name(name: str) -> str:
    """The A-label name, followed by its Unicode form when it is internationalised."""
    if "xn--" not in name:
        return name
    unicode = to_unicode(name)
    return f"{name} ({unicode})" if unicode != name else name


def _record_rows(report: DnsReport) -> list[tuple[str, str, str, str]]:
    rows = [(h.name, "CNAME", h.target, f"TTL {h.ttl}") for h in report.hops]
    rows += [(a.name, a.type, a.address, f"TTL {a.ttl}") for a in report.addresses]
    return rows


def _table(rows: list[tuple[str, str, str, str]], width: list[int]) -> list[str]:
    return [
        f"{r[0].ljust(width[0])}  {r[1].ljust(width[1])}  {r[2].ljust(width[2])}  {r[3]}".rstrip()
        for r in rows
    ]


def _expected_and_found(report: DnsReport) -> tuple[str, list[str]]:
    """The expected record and the records found, in one set of aligned columns."""
    expected = (report.hostname, "CNAME", report.target, "")
    rows = _record_rows(report)
    width = [max(len(r[i]) for r in [expected, *rows]) for i in range(3)]
    primary = report.primary
    found = _table(rows, width)
    if primary is None:
        found.append("(no answer)")
    elif primary.end not in (None, END_ADDRESSES):
        found.append(primary.end_text())
    elif not rows:
        found.append(primary.summary())
    return _table([expected], width)[0], found


_MARK = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "info"}


def render_text(report: DnsReport) -> str:
    """The human report: verdict, expected beside found, nameservers, findings, fixes."""
    out = [f"DNS check for {_display_name(report.hostname)}: {report.verdict.upper()}", ""]
    expected, found = _expected_and_found(report)
    out.append(f"  expected  {expected}")
    out.append(f"  found     {found[0]}")
    out += [f"            {line}" for line in found[1:]]
    if len(report.nameservers) > 1 and report.answered_by:
        out.append(f"            (as answered by {report.answered_by}; each one below)")
    out.append("")
    out.append("Nameservers")
    width = max(len(n.nameserver) for n in report.nameservers) if report.nameservers else 0
    for ns in report.nameservers:
        out.append(f"  {ns.nameserver.ljust(width)}  {ns.summary()}")
    if report.certificate is not None:
        names = ", ".join(report.certificate.names) or "(no DNS names)"
        state = "covers" if report.certificate.covers else "does NOT cover"
        out += ["", f"Certificate  {state} {report.hostname}: {names}"]
    out += ["", "Findings"]
    for f in report.findings:
        out.append(f"  {_MARK[f.severity]:<7}  {f.code}: {f.message}")
    if report.fixes:
        out += ["", "Fixes"]
        out += [f"  {i}. {fix}" for i, fix in enumerate(report.fixes, 1)]
    if report.cache_note:
        out += ["", f"Caches: {report.cache_note}"]
    return "\n".join(out)
