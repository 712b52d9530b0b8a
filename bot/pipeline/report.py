"""The validation report: the verdict, what it rests on, and its two renderings.

`Report.to_dict()` is the JSON contract of DESIGN.md (scripts and the bot's database read
it), `render_text()` is for people, `chain_pem()` is the clean bundle for the upload form.
A report holds certificates (public) and findings; never a key or a password, so it can
be stored, logged and posted as it is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from bot.pipeline.findings import Finding, Severity, has_errors
from bot.pipeline.keys import KeyDescription, describe_certificate_key
from bot.pipeline.leaf import days_left, dns_names, signs_itself
from bot.pipeline.material import InputSummary

_SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
SOURCES = ("uploaded", "trust_store", "fetched")


def fingerprint_sha256(cert: x509.Certificate) -> str:
    """Upper-case hex with colons, as `openssl x509 -fingerprint -sha256` prints it."""
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def serial_hex(cert: x509.Certificate) -> str:
    """Upper-case hex without colons, as `openssl x509 -serial` prints it."""
    text = f"{cert.serial_number:X}"
    return text if len(text) % 2 == 0 else "0" + text


def signature_algorithm_name(cert: x509.Certificate) -> str:
    oid = cert.signature_algorithm_oid
    name = getattr(oid, "_name", None)
    return name if isinstance(name, str) and name != "Unknown OID" else oid.dotted_string


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class ChainEntry:
    """A certificate of the chain above the leaf, and where it came from."""

    cert: x509.Certificate
    source: str  # one of SOURCES

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.cert.subject.rfc4514_string(),
            "issuer": self.cert.issuer.rfc4514_string(),
            "not_after": _iso(self.cert.not_valid_after_utc),
            "fingerprint_sha256": fingerprint_sha256(self.cert),
            "source": self.source,
        }


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Errors first, then warnings, then information; stable within a severity."""
    return sorted(findings, key=lambda f: _SEVERITY_ORDER.get(f.severity, 3))


@dataclass
class Report:
    findings: list[Finding]
    leaf: x509.Certificate | None = None
    chain: list[ChainEntry] = field(default_factory=list)
    inputs: list[InputSummary] = field(default_factory=list)
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    name: str | None = None
    domain: str | None = None

    def __post_init__(self) -> None:
        self.findings = sort_findings(self.findings)

    @property
    def valid(self) -> bool:
        return not has_errors(self.findings)

    @property
    def verdict(self) -> str:
        return "valid" if self.valid else "invalid"

    @property
    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    @property
    def key(self) -> KeyDescription | None:
        return describe_certificate_key(self.leaf) if self.leaf is not None else None

    def certificate_dict(self) -> dict[str, Any] | None:
        cert = self.leaf
        if cert is None:
            return None
        key = describe_certificate_key(cert)
        return {
            "subject": cert.subject.rfc4514_string(),
            "issuer": cert.issuer.rfc4514_string(),
            "serial": serial_hex(cert),
            "sans": dns_names(cert),
            "not_before": _iso(cert.not_valid_before_utc),
            "not_after": _iso(cert.not_valid_after_utc),
            "days_left": days_left(cert, self.now),
            "fingerprint_sha256": fingerprint_sha256(cert),
            "key": {"type": key.type, "bits": key.bits},
            "signature_algorithm": signature_algorithm_name(cert),
        }

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract: verdict, findings, certificate (null without a leaf), chain,
        inputs."""
        return {
            "verdict": self.verdict,
            "findings": [f.to_dict() for f in self.findings],
            "certificate": self.certificate_dict(),
            "chain": [entry.to_dict() for entry in self.chain],
            "inputs": [{"name": i.name, "kind": i.kind} for i in self.inputs],
        }

    def chain_pem(self) -> bytes:
        """The leaf and its chain in order, as PEM: what the upload form wants.

        Self-signed roots are left out, uploaded or not (clients never use a root a
        server sends); fetched issuers stay in.
        """
        if self.leaf is None:
            return b""
        certs = [self.leaf] + [e.cert for e in self.chain if not signs_itself(e.cert)]
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


# --- the human rendering ----------------------------------------------------------------

_SOURCE_TEXT = {"uploaded": "uploaded", "trust_store": "trust store", "fetched": "fetched (AIA)"}


def _verdict_line(report: Report) -> str:
    counts = {s: sum(1 for f in report.findings if f.severity is s) for s in Severity}
    parts = []
    for severity, word in ((Severity.ERROR, "error"), (Severity.WARNING, "warning")):
        if counts[severity]:
            parts.append(f"{counts[severity]} {word}{'s' if counts[severity] != 1 else ''}")
    tail = f" ({', '.join(parts)})" if parts else ""
    subject = f" for {report.domain}" if report.domain else ""
    name = f" [{report.name}]" if report.name else ""
    if report.valid:
        return f"VALID{name}: the certificate can be used{subject}{tail}"
    return f"INVALID{name}: the certificate cannot be used{subject} as it is{tail}"


def _certificate_lines(report: Report) -> list[str]:
    cert = report.leaf
    if cert is None:
        return ["Certificate: none chosen"]
    key = describe_certificate_key(cert)
    left = days_left(cert, report.now)
    names = ", ".join(dns_names(cert)) or "(none)"
    return [
        "Certificate",
        f"  Names:       {names}",
        f"  Subject:     {cert.subject.rfc4514_string()}",
        f"  Issuer:      {cert.issuer.rfc4514_string()}",
        f"  Valid:       {cert.not_valid_before_utc:%Y-%m-%d} to "
        f"{cert.not_valid_after_utc:%Y-%m-%d} ({left} days left)",
        f"  Key:         {key.label}",
        f"  Signature:   {signature_algorithm_name(cert)}",
        f"  Serial:      {serial_hex(cert)}",
        f"  SHA-256:     {fingerprint_sha256(cert)}",
    ]


def _chain_lines(report: Report) -> list[str]:
    if report.leaf is None:
        return []
    if not report.chain:
        return ["Chain: none"]
    lines = ["Chain"]
    for index, entry in enumerate(report.chain, 1):
        source = _SOURCE_TEXT.get(entry.source, entry.source)
        lines.append(
            f"  {index}. {entry.cert.subject.rfc4514_string()} ({source}, until "
            f"{entry.cert.not_valid_after_utc:%Y-%m-%d})"
        )
    return lines


def _finding_lines(report: Report) -> list[str]:
    if not report.findings:
        return ["Findings: none"]
    lines = ["Findings"]
    for f in report.findings:
        lines.append(f"  {str(f.severity).upper():<7} {f.code}: {f.message}")
        if f.hint:
            lines.append(f"          -> {f.hint}")
    return lines


def render_text(report: Report) -> str:
    """The report for a terminal: verdict, certificate, chain, findings with hints."""
    sections = [
        [_verdict_line(report)],
        _certificate_lines(report),
        _chain_lines(report),
        _finding_lines(report),
    ]
    if report.inputs:
        sections.append(["Inputs"] + [f"  {i.name}: {i.kind}" for i in report.inputs])
    return "\n\n".join("\n".join(s) for s in sections if s) + "\n"
