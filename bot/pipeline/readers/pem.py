"""PEM text: every block, by its label, whatever surrounds it.

The block parser is our own because cryptography's loaders reject `TRUSTED CERTIFICATE`,
skip keys silently when loading certificates, and cannot say which block is broken.
Bag Attributes, `subject=` lines and other text between blocks are ignored.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

from cryptography import x509

from bot.pipeline.material import Passwords
from bot.pipeline.readers.asn1 import first_element_length
from bot.pipeline.readers.keys import KeyStatus, key_problem, load_pem_key
from bot.pipeline.readers.outcome import FileOutcome
from bot.pipeline.readers.pkcs7 import count_pkcs7_certificates, load_pkcs7_certificates

BEGIN = re.compile(r"-----BEGIN ([A-Z0-9 #._-]{1,64})-----")
CERTIFICATE_BEGIN = re.compile(r"-----BEGIN (?:TRUSTED |X509 |X\.509 )?CERTIFICATE-----")
HEADER = re.compile(r"^([A-Za-z0-9-]+):\s*(.*)$")

CERTIFICATE_LABELS = {"CERTIFICATE", "X509 CERTIFICATE", "X.509 CERTIFICATE"}
TRUSTED_LABEL = "TRUSTED CERTIFICATE"
REQUEST_LABELS = {"CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"}
PKCS7_LABELS = {"PKCS7", "PKCS #7 SIGNED DATA", "CMS"}
KEY_LABELS = {
    "PRIVATE KEY",
    "RSA PRIVATE KEY",
    "EC PRIVATE KEY",
    "DSA PRIVATE KEY",
    "ENCRYPTED PRIVATE KEY",
}
# Blocks that travel with keys and certificates and say nothing about them.
HARMLESS_LABELS = {"EC PARAMETERS", "DH PARAMETERS", "X509 CRL"}


@dataclass(frozen=True)
class PemBlock:
    label: str
    index: int  # 1-based position in the file, for messages
    headers: dict[str, str] = field(default_factory=dict)
    body: str = field(default="", repr=False)  # base64 text, whitespace removed
    complete: bool = True  # False when the END line is missing

    def der(self) -> bytes | None:
        try:
            return base64.b64decode(self.body, validate=True)
        except (binascii.Error, ValueError):
            return None

    def canonical_pem(self) -> bytes:
        """The block re-wrapped in the form every PEM loader accepts."""
        lines = [f"-----BEGIN {self.label}-----"]
        if self.headers:
            lines += [f"{k}: {v}" for k, v in self.headers.items()] + [""]
        lines += [self.body[i : i + 64] for i in range(0, len(self.body), 64)]
        lines.append(f"-----END {self.label}-----")
        return ("\n".join(lines) + "\n").encode("ascii", "replace")

    @property
    def what(self) -> str:
        return f"block {self.index} ({self.label})"


def has_pem_block(text: str) -> bool:
    return BEGIN.search(text) is not None


def parse_blocks(text: str) -> list[PemBlock]:
    """Every BEGIN/END block in `text`, in order; an unterminated one is marked incomplete."""
    blocks: list[PemBlock] = []
    position = 0
    while match := BEGIN.search(text, position):
        label = match.group(1)
        end_marker = f"-----END {label}-----"
        end = text.find(end_marker, match.end())
        next_begin = BEGIN.search(text, match.end())
        if end < 0 or (next_begin and next_begin.start() < end):
            blocks.append(PemBlock(label, len(blocks) + 1, complete=False))
            position = match.end()
            continue
        headers, body = _split_headers(text[match.end() : end])
        blocks.append(PemBlock(label, len(blocks) + 1, headers, body))
        position = end + len(end_marker)
    return blocks


def _split_headers(inner: str) -> tuple[dict[str, str], str]:
    headers: dict[str, str] = {}
    body: list[str] = []
    for raw in inner.splitlines():
        line = raw.strip()
        match = HEADER.match(line) if not body else None
        if match:
            headers[match.group(1)] = match.group(2)
        elif line:
            body.append(line)
    return headers, "".join("".join(body).split())


def read_pem(outcome: FileOutcome, text: str, passwords: Passwords) -> None:
    """Read every block of a PEM file into `outcome`.

    The certificates are counted by their BEGIN lines before any block is parsed: a file
    over the caps is refused whole, at the cost of one regular-expression scan.
    """
    if not outcome.admit(sum(1 for _ in CERTIFICATE_BEGIN.finditer(text))):
        return
    blocks = parse_blocks(text)
    ignored: list[PemBlock] = []
    for block in blocks:
        if not block.complete:
            outcome.add_finding(
                "unrecognized_file", f"{block.what} is cut off (no END line): the file is truncated"
            )
        elif block.label in CERTIFICATE_LABELS or block.label == TRUSTED_LABEL:
            _read_certificate(outcome, block)
        elif block.label in REQUEST_LABELS:
            _read_request(outcome, block)
        elif block.label in PKCS7_LABELS:
            _read_pkcs7(outcome, block)
        elif block.label in KEY_LABELS:
            _read_key(outcome, block, passwords.key)
        else:
            ignored.append(block)
    read_anything = outcome.certificates or outcome.saw_key or outcome.saw_request
    if not read_anything and not outcome.findings:
        labels = ", ".join(sorted({b.label for b in ignored})) or "none"
        outcome.add_finding(
            "unrecognized_file",
            f"holds no certificate or private key (PEM blocks found: {labels})",
        )


def _read_certificate(outcome: FileOutcome, block: PemBlock) -> None:
    der = block.der()
    if der is not None and block.label == TRUSTED_LABEL:
        length = first_element_length(der)  # the certificate, without OpenSSL's trust data
        der = der[:length] if length else None
    cert = _load_certificate(der)
    if cert is not None:
        outcome.certificates.append(cert)
        return
    # Some Windows tools wrap a PKCS#7 bundle in a CERTIFICATE label.
    certs = _load_pkcs7(outcome, der) if der else None
    if certs:
        outcome.certificates.extend(certs)
        return
    if any(f.code == "too_many_certificates" for f in outcome.findings):
        return
    outcome.add_finding("unrecognized_file", f"{block.what} is not a readable certificate")


def _load_certificate(der: bytes | None) -> x509.Certificate | None:
    if not der:
        return None
    try:
        return x509.load_der_x509_certificate(der)
    except Exception:  # ValueError mostly; any failure means a damaged certificate
        return None


def _read_request(outcome: FileOutcome, block: PemBlock) -> None:
    der = block.der()
    try:
        x509.load_der_x509_csr(der or b"")
    except Exception:
        outcome.add_finding("unrecognized_file", f"{block.what} is not a readable request")
        return
    outcome.saw_request = True
    outcome.add_finding(
        "certificate_request",
        "this is a certificate signing request (CSR), not a certificate",
    )


def _load_pkcs7(outcome: FileOutcome, der: bytes) -> list[x509.Certificate] | None:
    """The bundle's certificates when the caps allow them (counted before parsing)."""
    if not outcome.admit(count_pkcs7_certificates(der)):
        return []
    certs = load_pkcs7_certificates(der)
    if certs and not outcome.admit(len(certs)):  # a SET asn1crypto could not count
        return []
    return certs


def _read_pkcs7(outcome: FileOutcome, block: PemBlock) -> None:
    der = block.der()
    certs = _load_pkcs7(outcome, der) if der else None
    if any(f.code == "too_many_certificates" for f in outcome.findings):
        return
    if certs is None:
        outcome.add_finding("unrecognized_file", f"{block.what} is not a readable PKCS#7 bundle")
    elif not certs:
        outcome.add_finding("unrecognized_file", f"{block.what} holds no certificates")
    else:
        outcome.certificates.extend(certs)
        outcome.container = "pkcs7"


def _read_key(outcome: FileOutcome, block: PemBlock, password: bytes | None) -> None:
    if block.der() is None:
        outcome.add_finding("unrecognized_file", f"{block.what} is damaged (bad base64)")
        return
    loaded = load_pem_key(block.canonical_pem(), password)
    if loaded.status is KeyStatus.LOADED and loaded.key is not None:
        outcome.add_key(loaded.key)
        return
    if loaded.status in (KeyStatus.PASSWORD_REQUIRED, KeyStatus.WRONG_PASSWORD, KeyStatus.REFUSED):
        outcome.saw_key = True  # it is a key, only locked
    code, message = key_problem(loaded.status, f"the private key in {block.what}", loaded.refusal)
    outcome.add_finding(code, message)
