"""PKCS#7 (.p7b) certificate bundles, PEM or DER."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the libraries load when a PKCS#7 input comes, not at start-up
    from cryptography import x509


def load_pkcs7_certificates(der: bytes) -> list[x509.Certificate] | None:
    """The certificates of a DER PKCS#7 SignedData, in set order; None if not PKCS#7.

    `openssl crl2pkcs7` output is BER-encoded; cryptography reads it with a UserWarning
    about the fallback, which says nothing the user can act on.
    """
    from cryptography.hazmat.primitives.serialization import pkcs7

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return list(pkcs7.load_der_pkcs7_certificates(der))
        except Exception:  # ValueError for non-PKCS#7; anything else is damaged input too
            return None


def count_pkcs7_certificates(der: bytes) -> int:
    """How many certificates the SignedData's SET holds, from the structure alone.

    Only the members' headers are read, no certificate is parsed: the count is checked
    against the caps before `load_pkcs7_certificates` parses them all. 0 when the
    structure cannot be read this way (the caller counts what the library returns).
    """
    from asn1crypto import cms

    try:
        info = cms.ContentInfo.load(der)
        if info["content_type"].native != "signed_data":
            return 0
        certificates = info["content"]["certificates"]
        return len(certificates) if certificates is not None else 0
    except Exception:
        return 0


def looks_like_pkcs7(der: bytes) -> bool:
    """A ContentInfo starts with the pkcs7-signedData OID (1.2.840.113549.1.7.2)."""
    return b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02" in der[:24]
