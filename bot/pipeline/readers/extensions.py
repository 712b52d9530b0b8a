"""A certificate whose one extension is malformed, told apart from a damaged file.

cryptography loads such a certificate (extensions are parsed on first access) and then
raises on `.extensions`: a subjectAltName that is not valid DER, basicConstraints twice,
a name constraint with a bad netmask, an SCT list of the wrong length. OpenSSL opens the
file, so the person holds a real certificate: they need to hear which extension is
broken (their CA must re-issue it), not "this is not a certificate". The extension is
found by trying each one alone, with cryptography's own parser, in a copy of the
certificate that holds only that extension (its signature does not matter to parsing).
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from bot.pipeline.readers.asn1 import tlv

MAX_EXTENSIONS = 64  # real certificates hold about ten
TBS_FIELDS = (
    "version",
    "serial_number",
    "signature",
    "issuer",
    "validity",
    "subject",
    "subject_public_key_info",
)
NAMES = {
    "2.5.29.14": "subjectKeyIdentifier",
    "2.5.29.15": "keyUsage",
    "2.5.29.17": "subjectAltName",
    "2.5.29.18": "issuerAltName",
    "2.5.29.19": "basicConstraints",
    "2.5.29.30": "nameConstraints",
    "2.5.29.31": "cRLDistributionPoints",
    "2.5.29.32": "certificatePolicies",
    "2.5.29.33": "policyMappings",
    "2.5.29.35": "authorityKeyIdentifier",
    "2.5.29.36": "policyConstraints",
    "2.5.29.37": "extKeyUsage",
    "2.5.29.54": "inhibitAnyPolicy",
    "1.3.6.1.5.5.7.1.1": "authorityInfoAccess",
    "1.3.6.1.5.5.7.1.24": "TLS Feature",
    "1.3.6.1.4.1.11129.2.4.2": "signedCertificateTimestampList (SCT)",
    "1.3.6.1.4.1.11129.2.4.3": "CT precertificate poison",
}


def malformed_extension(cert: x509.Certificate) -> str | None:
    """None when every extension parses; else which one is malformed, and how.

    E.g. "subjectAltName extension (2.5.29.17) is malformed" or "basicConstraints
    extension (2.5.29.19) appears twice". "an extension is malformed" when the culprit
    cannot be singled out.
    """
    try:
        cert.extensions  # noqa: B018 - cryptography parses them on first access
        return None
    except Exception:  # ValueError, DuplicateExtension, UnsupportedGeneralNameType...
        pass
    try:
        return _diagnose(cert.public_bytes(Encoding.DER))
    except Exception:  # asn1crypto cannot walk it either: say what we know
        return "an extension is malformed"


def _diagnose(der: bytes) -> str:
    # asn1crypto only for a broken certificate: a sound one (nearly all) never loads it.
    from asn1crypto import x509 as asn1_x509

    certificate = asn1_x509.Certificate.load(der)
    tbs = certificate["tbs_certificate"]
    fields = b"".join(tbs[name].dump() for name in TBS_FIELDS)
    extensions = list(tbs["extensions"])[:MAX_EXTENSIONS]
    seen: set[str] = set()
    for extension in extensions:
        oid = extension["extn_id"].dotted
        if oid in seen:
            return f"{_name(oid)} extension ({oid}) appears twice"
        seen.add(oid)
    signature_algorithm = certificate["signature_algorithm"].dump()
    for extension in extensions:
        if not _parses_alone(fields, extension.dump(), signature_algorithm):
            oid = extension["extn_id"].dotted
            return f"{_name(oid)} extension ({oid}) is malformed"
    return "an extension is malformed"


def _parses_alone(fields: bytes, extension: bytes, signature_algorithm: bytes) -> bool:
    """Whether cryptography parses a copy of the certificate that holds only `extension`."""
    from asn1crypto import core

    wrapped = tlv(0xA3, tlv(0x30, extension))
    tbs = tlv(0x30, fields + wrapped)
    fake = tlv(0x30, tbs + signature_algorithm + core.BitString(()).dump())
    try:
        x509.load_der_x509_certificate(fake).extensions  # noqa: B018
    except Exception:
        return False
    return True


def _name(oid: str) -> str:
    return NAMES.get(oid, "an unnamed")
