"""The leaf's extension rules where certops and `cryptography`'s WebPKI policy differ.

The chain verifier runs `cryptography`'s WebPKI end-entity policy with a few rules
relaxed (see `chain_verify.EE_RELAXED`), because those problems belong to the leaf and
must be reported as such, not as a broken chain. Every relaxed rule is decided here
against what browsers and TLS clients do, so that nothing the library's own policy
refuses passes without a word:

- keyUsage with keyCertSign on a non-CA leaf: Chrome refuses it ("target certificate
  looks like a CA"), so does the WebPKI policy: error `leaf_key_cert_sign`.
- a critical extension that TLS clients do not process (authorityInfoAccess,
  subjectKeyIdentifier, an unknown OID...): OpenSSL fails with "unhandled critical
  extension" and Chrome with "unconsumed critical extension": error `critical_extension`.
  A critical certificatePolicies (or another policy extension) in a leaf is the same
  error: OpenSSL and Chrome process it, but rustls and the WebPKI policy refuse it, and
  no CA marks it critical in a server certificate.
- name constraints in a leaf (critical or not): clients apply name constraints from CA
  certificates only, and OpenSSL accepts such a leaf (critical included); the WebPKI
  policy refuses it: warning `leaf_name_constraints`.
- a non-critical subjectAltName with an empty subject: browsers and OpenSSL accept it;
  RFC 5280 and the WebPKI policy want it critical: warning `non_critical_subject_alt_name`
  (the mirror of `critical_subject_alt_name`).
- no authorityKeyIdentifier: browsers and OpenSSL accept it (they find the issuer by
  name); the WebPKI policy requires it: warning `no_authority_key_id`.
- SAN dNSNames that are not LDH names or A-labels (raw UTF-8, `_`, `w*.`): never matched
  (see `hostnames.normalize(presented=True)`), and named: warning `invalid_san_name`.
"""

from __future__ import annotations

from typing import TypeVar

from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from bot.pipeline.findings import Finding, finding
from bot.pipeline.hostnames import invalid_names

# Extensions a leaf may mark critical: every TLS client processes them (OpenSSL's
# X509_supported_extension, the extensions Chrome's verifier consumes, rustls).
LEAF_PROCESSED_WHEN_CRITICAL = frozenset(
    {
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.KEY_USAGE,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.NAME_CONSTRAINTS,  # ignored in a leaf: `leaf_name_constraints`
    }
)
# A CA may also mark the policy extensions critical (OpenSSL and Chrome process them).
CA_PROCESSED_WHEN_CRITICAL = LEAF_PROCESSED_WHEN_CRITICAL | {
    ExtensionOID.CERTIFICATE_POLICIES,
    ExtensionOID.POLICY_CONSTRAINTS,
    ExtensionOID.POLICY_MAPPINGS,
    ExtensionOID.INHIBIT_ANY_POLICY,
}

_E = TypeVar("_E", bound=x509.ExtensionType)

MAX_NAMED = 10  # invalid SAN entries named in one message


def extension_name(oid: x509.ObjectIdentifier) -> str:
    name = getattr(oid, "_name", None)
    if isinstance(name, str) and name != "Unknown OID":
        return f"{name} ({oid.dotted_string})"
    return oid.dotted_string


def unprocessed_critical(
    cert: x509.Certificate, *, ca: bool = False
) -> list[x509.Extension[x509.ExtensionType]]:
    """The critical extensions clients do not process (each one makes them refuse)."""
    processed = CA_PROCESSED_WHEN_CRITICAL if ca else LEAF_PROCESSED_WHEN_CRITICAL
    try:
        extensions = list(cert.extensions)
    except ValueError:
        return []
    return [e for e in extensions if e.critical and e.oid not in processed]


def _extensions(
    cert: x509.Certificate,
) -> dict[x509.ObjectIdentifier, x509.Extension[x509.ExtensionType]]:
    """The extensions by OID, read once (a lookup that misses raises, which costs more
    than the whole pass over a leaf's handful of extensions)."""
    try:
        return {e.oid: e for e in cert.extensions}
    except ValueError:
        return {}


def _extension(
    extensions: dict[x509.ObjectIdentifier, x509.Extension[x509.ExtensionType]], kind: type[_E]
) -> x509.Extension[_E] | None:
    found = extensions.get(kind.oid)
    return found if found is not None and isinstance(found.value, kind) else None  # type: ignore[return-value]


def critical_extension_findings(cert: x509.Certificate, who: str) -> list[Finding]:
    odd = unprocessed_critical(cert)
    if not odd:
        return []
    names = ", ".join(extension_name(e.oid) for e in odd)
    return [
        finding(
            "critical_extension",
            f"{who} marks {names} critical; a client that does not process a critical "
            "extension must refuse the certificate, as OpenSSL (“unhandled critical "
            "extension”), Chrome and rustls do.",
        )
    ]


def san_syntax_findings(cert: x509.Certificate, who: str) -> list[Finding]:
    san = _extension(_extensions(cert), x509.SubjectAlternativeName)
    if san is None:
        return []
    bad = invalid_names(san.value.get_values_for_type(x509.DNSName))
    if not bad:
        return []
    shown = "; ".join(reason for _, reason in bad[:MAX_NAMED])
    if len(bad) > MAX_NAMED:
        shown += f"; and {len(bad) - MAX_NAMED} more"
    return [
        finding(
            "invalid_san_name",
            f"{who} holds subjectAltName entries that are not valid DNS names (LDH names or "
            f"xn-- A-labels), so they never match a Domain, as in browsers and OpenSSL: "
            f"{shown}.",
        )
    ]


def end_entity_findings(cert: x509.Certificate, who: str, *, signs_itself: bool) -> list[Finding]:
    """The rules for a non-CA leaf: keyCertSign, name constraints, SAN criticality with
    an empty subject, authorityKeyIdentifier."""
    found: list[Finding] = []
    extensions = _extensions(cert)
    usage = _extension(extensions, x509.KeyUsage)
    if usage is not None and usage.value.key_cert_sign:
        found.append(
            finding(
                "leaf_key_cert_sign",
                f"{who} is not a CA, yet its keyUsage asserts keyCertSign (signing "
                "certificates); browsers refuse such a server certificate.",
            )
        )
    constraints = _extension(extensions, x509.NameConstraints)
    if constraints is not None:
        marked = "critical " if constraints.critical else ""
        found.append(
            finding(
                "leaf_name_constraints",
                f"{who} carries {marked}name constraints, which only CA certificates use; "
                "OpenSSL accepts such a server certificate (clients apply name constraints "
                "from CAs only), strict verifiers refuse it.",
            )
        )
    san = _extension(extensions, x509.SubjectAlternativeName)
    if san is not None and not san.critical and len(cert.subject) == 0:
        found.append(
            finding(
                "non_critical_subject_alt_name",
                f"{who} has an empty subject and a non-critical subjectAltName (RFC 5280 "
                "asks for critical); browsers accept it.",
            )
        )
    if not signs_itself and _extension(extensions, x509.AuthorityKeyIdentifier) is None:
        found.append(
            finding(
                "no_authority_key_id",
                f"{who} has no authorityKeyIdentifier; browsers and OpenSSL accept it, "
                "strict verifiers refuse it.",
            )
        )
    return found
