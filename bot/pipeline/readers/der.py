"""Binary DER files: a certificate, a key, a CSR or a PKCS#7 bundle.

Each parser is strict and cheap, so trying them in turn identifies the content; PKCS#12
is recognised by the caller before this (it is DER too).
"""

from __future__ import annotations

from cryptography import x509

from bot.pipeline.material import Passwords
from bot.pipeline.readers.keys import KeyStatus, key_problem, load_der_key
from bot.pipeline.readers.outcome import FileOutcome
from bot.pipeline.readers.pkcs7 import (
    count_pkcs7_certificates,
    load_pkcs7_certificates,
    looks_like_pkcs7,
)


def read_der(outcome: FileOutcome, der: bytes, passwords: Passwords) -> bool:
    """Read `der` into `outcome`; False when it is none of the DER formats."""
    cert = _certificate(der)
    if cert is not None:
        if outcome.admit(1):  # one certificate: parsed, then counted against the upload
            outcome.certificates.append(cert)
        return True
    if looks_like_pkcs7(der):
        if not outcome.admit(count_pkcs7_certificates(der)):
            outcome.container = "pkcs7"
            return True
        certs = load_pkcs7_certificates(der)
        if certs is not None and not outcome.admit(len(certs)):  # a SET we could not count
            outcome.container = "pkcs7"
            return True
        if certs is not None:
            outcome.container = "pkcs7"
            if certs:
                outcome.certificates.extend(certs)
            else:
                outcome.add_finding("unrecognized_file", "this PKCS#7 file holds no certificates")
            return True
    if _is_request(der):
        outcome.saw_request = True
        outcome.add_finding(
            "certificate_request",
            "this is a certificate signing request (CSR), not a certificate",
        )
        return True
    loaded = load_der_key(der, passwords.key)
    if loaded.status is KeyStatus.LOADED and loaded.key is not None:
        outcome.add_key(loaded.key)
        return True
    if loaded.status is KeyStatus.INVALID:
        return False
    outcome.saw_key = loaded.status is not KeyStatus.UNSUPPORTED
    code, message = key_problem(loaded.status, "the private key", loaded.refusal)
    outcome.add_finding(code, message)
    return True


def _certificate(der: bytes) -> x509.Certificate | None:
    try:
        return x509.load_der_x509_certificate(der)
    except Exception:
        return None


def _is_request(der: bytes) -> bool:
    try:
        x509.load_der_x509_csr(der)
    except Exception:
        return False
    return True
