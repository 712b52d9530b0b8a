"""What the readers hand to the checks: certificates and keys with where they came from.

The readers (`bot.pipeline.readers`) turn uploaded bytes into `Material`; the checks
(`bot.pipeline.validate`) turn `Material` into a `Report`. Keeping this boundary as plain
data lets each side be tested alone, and lets the bot re-run the checks without
re-reading files.

Secrets: `Passwords` and private keys live only in memory. Neither has a useful `repr`,
so a stray log line or traceback cannot print them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from bot.pipeline.findings import Finding


@dataclass(frozen=True)
class InputFile:
    """One uploaded file: a display name (never trusted for the format) and its bytes."""

    name: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class Passwords:
    """Passwords for keys/PFX files and for ZIP archives. Bytes, never logged."""

    key: bytes | None = field(default=None, repr=False)
    zip: bytes | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return (
            f"Passwords(key={'<set>' if self.key else None}, zip={'<set>' if self.zip else None})"
        )


@dataclass(frozen=True)
class SourcedCertificate:
    cert: x509.Certificate
    source: str  # e.g. "bundle.zip:certs/leaf.crt" or "fullchain.pem"


@dataclass(frozen=True)
class SourcedKey:
    """A private key as read, loaded without the expensive RSA validation.

    The checks look at its type and size first and prove that it belongs to the
    certificate by public-key equality and a sign/verify probe, so an 8192-bit key costs
    nothing to reject.
    """

    key: PrivateKeyTypes = field(repr=False)
    source: str


# Kinds reported in the JSON `inputs` list.
INPUT_KINDS = (
    "certificate",  # one or more X.509 certificates (PEM/DER/TRUSTED CERTIFICATE)
    "private_key",
    "bundle",  # certificates and a private key in one PEM/DER file
    "pkcs7",
    "pkcs12",
    "zip",
    "certificate_request",
    "unrecognized",
)


@dataclass(frozen=True)
class InputSummary:
    name: str
    kind: str


@dataclass
class Material:
    certificates: list[SourcedCertificate] = field(default_factory=list)
    keys: list[SourcedKey] = field(default_factory=list)
    inputs: list[InputSummary] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def extend(self, other: Material) -> None:
        self.certificates += other.certificates
        self.keys += other.keys
        self.inputs += other.inputs
        self.findings += other.findings
