"""PKCS#7 (.p7b) certificate bundles, PEM or DER."""

from __future__ import annotations

import warnings

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs7


def load_pkcs7_certificates(der: bytes) -> list[x509.Certificate] | None:
    """The certificates of a DER PKCS#7 SignedData, in set order; None if not PKCS#7.

    `openssl crl2pkcs7` output is BER-encoded; cryptography reads it with a UserWarning
    about the fallback, which says nothing the user can act on.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return list(pkcs7.load_der_pkcs7_certificates(der))
        except Exception:  # ValueError for non-PKCS#7; anything else is damaged input too
            return None


def looks_like_pkcs7(der: bytes) -> bool:
    """A ContentInfo starts with the pkcs7-signedData OID (1.2.840.113549.1.7.2)."""
    return b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02" in der[:24]
