"""Choosing the leaf among the uploaded certificates, and the checks on the leaf itself.

People upload whatever their CA sent them: the leaf with its bundle, a fullchain, two
renewals of the same name, a CA's ZIP. The leaf is the certificate the private key
belongs to, CA flag or not (`openssl req -x509` marks a self-signed certificate CA:TRUE,
and the person means it all the same: it is then judged, `self_signed` or `leaf_is_ca`,
rather than called missing); failing that, the one covering the Domain field; failing
that, the only non-CA certificate. When that still leaves a choice, guessing would validate the wrong
certificate, so it is an error that names the candidates.

The leaf checks follow what browsers do rather than what the strictest verifier does: a
critical subjectAltName is a warning, the common name is never a host name; each rule
where that differs from `cryptography`'s WebPKI policy is named (see `leaf_rules`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, SignatureAlgorithmOID

from bot.pipeline import hostnames
from bot.pipeline.findings import Finding, Severity, finding
from bot.pipeline.keys import key_fits_certificate
from bot.pipeline.leaf_rules import (
    critical_extension_findings,
    end_entity_findings,
    san_syntax_findings,
)

EXPIRING_SOON_DAYS = 30
MAX_PUBLIC_VALIDITY_DAYS = 398

WEAK_SIGNATURES = {
    SignatureAlgorithmOID.RSA_WITH_MD5: "MD5",
    SignatureAlgorithmOID.RSA_WITH_SHA1: "SHA-1",
    SignatureAlgorithmOID._RSA_WITH_SHA1: "SHA-1",
    SignatureAlgorithmOID.ECDSA_WITH_SHA1: "SHA-1",
    SignatureAlgorithmOID.DSA_WITH_SHA1: "SHA-1",
}
_WEAK_DOTTED = {
    "1.2.840.113549.1.1.2": "MD2",
    "1.2.840.113549.1.1.3": "MD4",
}


def label(cert: x509.Certificate) -> str:
    """A short name for a certificate in messages: its CN, else its subject."""
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if cns and isinstance(cns[0].value, str):
        return f"the certificate '{cns[0].value}'"
    subject = cert.subject.rfc4514_string()
    return f"the certificate '{subject}'" if subject else f"the certificate {cert.serial_number:X}"


def labels(certs: list[x509.Certificate]) -> list[str]:
    """Labels for several certificates, told apart by date and serial when they share a
    name (a renewal beside the old certificate, two orders for the same host)."""
    plain = [label(c) for c in certs]
    shown = [
        f"{text} (valid until {c.not_valid_after_utc:%Y-%m-%d}, serial {c.serial_number:X})"
        if plain.count(text) > 1
        else text
        for text, c in zip(plain, certs, strict=True)
    ]
    return shown


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except (x509.ExtensionNotFound, ValueError):
        return False


def dns_names(cert: x509.Certificate) -> list[str]:
    """The DNS names of the subjectAltName, as written in the certificate."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except (x509.ExtensionNotFound, ValueError):
        return []
    return list(san.value.get_values_for_type(x509.DNSName))


def unique(certs: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    """Drop repeated certificates (equal DER), keeping the first of each.

    Equality compares the DER in Rust: cheaper than hashing for the handful of
    certificates an upload holds.
    """
    result: list[x509.Certificate] = []
    for cert in certs:
        if cert not in result:
            result.append(cert)
    return result


# --- the Domain field -------------------------------------------------------------------


@dataclass(frozen=True)
class Domain:
    """The Domain field as typed and its canonical form (None when it is invalid)."""

    given: str
    canonical: str | None
    finding: Finding | None = None


def parse_domain(given: str) -> Domain:
    try:
        return Domain(given, hostnames.normalize(given, allow_wildcard=True))
    except hostnames.InvalidHostname as exc:
        return Domain(given, None, finding("invalid_domain", f"Domain {given!r}: {exc}."))


def domain_findings(cert: x509.Certificate, domain: Domain | None) -> list[Finding]:
    """domain_mismatch when the Domain is not covered; names_covered when no Domain."""
    names = dns_names(cert)
    if domain is None:
        if not names:
            return []
        return [finding("names_covered", "The certificate covers: " + ", ".join(names) + ".")]
    if domain.canonical is None or hostnames.covers(names, domain.canonical):
        return []
    valid = hostnames.normalize_names(names)
    covered = ", ".join(valid) if valid else "no host name at all"
    extra = ""
    if hostnames.is_wildcard(domain.canonical) and any(
        hostnames.san_matches(domain.canonical, n) for n in valid
    ):
        extra = " A wildcard Domain needs the same wildcard in the certificate."
    invalid = [name for name, _ in hostnames.invalid_names(names)]
    if invalid:
        extra += f" Not counted, as they are not valid DNS names: {', '.join(invalid)}."
    return [
        finding(
            "domain_mismatch",
            f"The Domain {domain.given!r} is not covered by {label(cert)}; it covers: "
            f"{covered}.{extra}",
        )
    ]


# --- choosing the leaf --------------------------------------------------------------------


@dataclass
class LeafChoice:
    leaf: x509.Certificate | None
    findings: list[Finding] = field(default_factory=list)
    chosen_by: str = ""  # "key", "domain", "only", "newest" or "" when none


def choose_leaf(
    certs: Sequence[x509.Certificate],
    keys: Sequence[PrivateKeyTypes],
    domain: Domain | None = None,
) -> LeafChoice:
    """Pick the certificate to validate: by key, then by Domain, else the only leaf."""
    certs = unique(certs)
    if not certs:
        return LeafChoice(None, [finding("no_certificate", "No certificate was given.")])
    leaves = [c for c in certs if not is_ca(c)]
    if not leaves:
        keyed = [c for c in certs if any(key_fits_certificate(c, k) for k in keys)]
        if keyed:
            # The key points at a CA certificate: that is the one meant (a self-signed
            # certificate from `openssl req -x509`); the leaf checks say what is wrong.
            # Beside a non-CA certificate a CA's key is rather a wrong file (a private
            # CA's folder): the non-CA certificate stays the leaf then.
            newest = max(keyed, key=lambda c: c.not_valid_after_utc)
            return LeafChoice(newest, [], "key")
        names = "; ".join(label(c) for c in certs)
        return LeafChoice(
            None,
            [
                finding(
                    "no_leaf_certificate",
                    f"Only CA certificates were given ({names}); the certificate issued for "
                    "your domain is missing.",
                )
            ],
        )
    by_key = [c for c in leaves if any(key_fits_certificate(c, k) for k in keys)]
    if len(by_key) == 1:
        return _chosen(by_key[0], leaves, "key")
    pool = by_key or leaves
    if domain is not None and domain.canonical is not None:
        by_domain = [c for c in pool if hostnames.covers(dns_names(c), domain.canonical)]
        if len(by_domain) == 1:
            return _chosen(by_domain[0], leaves, "domain")
        if by_domain:
            pool = by_domain
    if len(pool) == 1:
        return _chosen(pool[0], leaves, "only")
    if by_key:
        # Renewals often reuse the key: the same key fits them all; the newest is meant.
        newest = max(pool, key=lambda c: c.not_valid_after_utc)
        return _chosen(newest, leaves, "newest")
    names = "; ".join(labels(pool))
    return LeafChoice(
        None,
        [
            finding(
                "multiple_leaf_certificates",
                f"{len(pool)} certificates could be the one for your domain ({names}) and "
                "nothing tells them apart.",
            )
        ],
    )


def _chosen(leaf: x509.Certificate, leaves: list[x509.Certificate], how: str) -> LeafChoice:
    others = [c for c in leaves if c is not leaf]
    if not others:
        return LeafChoice(leaf, [], how)
    reason = {
        "key": "the private key",
        "domain": "the Domain",
        "only": "elimination",
        "newest": "the private key (the newest of those it fits)",
    }[how]
    chosen, *ignored = labels([leaf, *others])
    message = (
        f"Several non-CA certificates were given; {chosen} was chosen by {reason}. "
        f"Ignored: {'; '.join(ignored)}."
    )
    return LeafChoice(
        leaf,
        [
            finding(
                "multiple_leaf_certificates",
                message,
                severity=Severity.WARNING,
                hint="Upload only the certificate for this domain and its chain.",
            )
        ],
        how,
    )


# --- checks on the leaf ----------------------------------------------------------------


def days_left(cert: x509.Certificate, now: dt.datetime) -> int:
    return int((cert.not_valid_after_utc - now).total_seconds() // 86400)


def validity_findings(cert: x509.Certificate, now: dt.datetime) -> list[Finding]:
    """expired / not_yet_valid / expiring_soon against `now`."""
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    if now > end:
        return [finding("expired", f"{_cap(label(cert))} expired on {end:%Y-%m-%d %H:%M} UTC.")]
    if now < start:
        return [
            finding(
                "not_yet_valid",
                f"{_cap(label(cert))} is valid only from {start:%Y-%m-%d %H:%M} UTC.",
            )
        ]
    left = days_left(cert, now)
    if left < EXPIRING_SOON_DAYS:
        return [
            finding(
                "expiring_soon",
                f"{_cap(label(cert))} expires in {left} day{'s' if left != 1 else ''}, on "
                f"{end:%Y-%m-%d}.",
            )
        ]
    return []


def validity_length_finding(cert: x509.Certificate, *, private_root: bool) -> Finding | None:
    """validity_too_long over 398 days.

    Browsers cap the lifetime of publicly trusted certificates only; a certificate from
    a private root is still told (info), since it will not pass if moved to a public CA.
    """
    length = cert.not_valid_after_utc - cert.not_valid_before_utc
    days = length.total_seconds() / 86400
    if days <= MAX_PUBLIC_VALIDITY_DAYS:
        return None
    if private_root:
        return finding(
            "validity_too_long",
            f"{_cap(label(cert))} is valid for {days:.0f} days; accepted here because its "
            f"root is private, but browsers reject public certificates valid over "
            f"{MAX_PUBLIC_VALIDITY_DAYS} days.",
            severity=Severity.INFO,
            hint="No action needed for a private CA.",
        )
    return finding(
        "validity_too_long",
        f"{_cap(label(cert))} is valid for {days:.0f} days; browsers reject public "
        f"certificates valid over {MAX_PUBLIC_VALIDITY_DAYS} days.",
    )


def extension_findings(cert: x509.Certificate) -> list[Finding]:
    """no_subject_alt_name, critical_subject_alt_name, no_server_auth."""
    findings: list[Finding] = []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        san = None
    except ValueError:
        san = None
    sans = san.value.get_values_for_type(x509.DNSName) if san is not None else []
    if san is None or not hostnames.normalize_names(sans):
        what = "no subjectAltName" if san is None else "no DNS name in its subjectAltName"
        if sans:
            what = "no valid DNS name in its subjectAltName (see invalid_san_name)"
        findings.append(finding("no_subject_alt_name", f"{_cap(label(cert))} has {what}."))
    elif san.critical and len(cert.subject) > 0:
        findings.append(
            finding(
                "critical_subject_alt_name",
                f"{_cap(label(cert))} marks its subjectAltName critical while its subject is "
                "not empty (RFC 5280 asks for non-critical); browsers accept it.",
            )
        )
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except (x509.ExtensionNotFound, ValueError):
        eku = None
    if eku is not None:
        usages = set(eku)
        if not usages & {
            ExtendedKeyUsageOID.SERVER_AUTH,
            ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
        }:
            names = ", ".join(sorted(_oid_name(u) for u in usages)) or "none"
            findings.append(
                finding(
                    "no_server_auth",
                    f"{_cap(label(cert))} is not for TLS servers: its extended key usage is "
                    f"{names}, without serverAuth.",
                )
            )
    return findings


def signs_itself(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def self_signed_finding(cert: x509.Certificate) -> Finding | None:
    if not signs_itself(cert):
        return None
    return finding(
        "self_signed",
        f"{_cap(label(cert))} is self-signed: it is its own issuer, so no browser trusts it.",
    )


def weak_signature_name(cert: x509.Certificate) -> str | None:
    oid = cert.signature_algorithm_oid
    return WEAK_SIGNATURES.get(oid) or _WEAK_DOTTED.get(oid.dotted_string)


def weak_signature_finding(cert: x509.Certificate) -> Finding | None:
    weak = weak_signature_name(cert)
    if weak is None:
        return None
    return finding("weak_signature", f"{_cap(label(cert))} is signed with {weak}.")


def ca_leaf_finding(cert: x509.Certificate) -> Finding | None:
    """A CA certificate chosen as the leaf (the key belongs to it): self-signed ones are
    `self_signed`'s; any other cannot serve a site (Firefox: "CA certificate used as end
    entity"; `cryptography`'s WebPKI policy refuses it too)."""
    if not is_ca(cert) or signs_itself(cert):
        return None
    return finding(
        "leaf_is_ca",
        f"{_cap(label(cert))} is a CA certificate (basicConstraints CA:TRUE), issued by "
        f"{cert.issuer.rfc4514_string() or 'an empty name'}: browsers refuse a CA "
        "certificate as a site's certificate.",
    )


def leaf_rule_findings(cert: x509.Certificate) -> list[Finding]:
    who = _cap(label(cert))
    found = [*san_syntax_findings(cert, who), *critical_extension_findings(cert, who)]
    if not is_ca(cert):
        found += end_entity_findings(cert, who, signs_itself=signs_itself(cert))
    return found


def check_leaf(cert: x509.Certificate, *, now: dt.datetime) -> list[Finding]:
    """Every check on the leaf alone (no chain, no key, no Domain)."""
    found = [
        *extension_findings(cert),
        *leaf_rule_findings(cert),
        *validity_findings(cert, now),
        self_signed_finding(cert),
        ca_leaf_finding(cert),
        weak_signature_finding(cert),
    ]
    return [f for f in found if f is not None]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _oid_name(oid: x509.ObjectIdentifier) -> str:
    name = getattr(oid, "_name", None)
    return name if isinstance(name, str) and name != "Unknown OID" else oid.dotted_string
