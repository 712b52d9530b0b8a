"""What reading one file produced, before it becomes `Material`.

The readers of each format fill a `FileOutcome`; its `kind` is derived from what was
actually found, so the one-word kind in the report always matches the content.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from bot.pipeline.findings import PASSWORD_CODES, Finding, Secret, Severity, finding
from bot.pipeline.material import InputSummary, Material, SourcedCertificate, SourcedKey

# Kinds given by the container, whatever it holds.
CONTAINER_KINDS = ("pkcs7", "pkcs12", "zip")


@dataclass
class FileOutcome:
    """Certificates, keys and findings read from one input (or one ZIP member)."""

    name: str
    certificates: list[x509.Certificate] = field(default_factory=list)
    keys: list[PrivateKeyTypes] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    container: str | None = None  # "pkcs7", "pkcs12" or "zip"
    saw_key: bool = False  # a key was there, even if it could not be opened
    saw_request: bool = False  # a CSR was there

    def add_finding(self, code: str, message: str, severity: Severity | None = None) -> None:
        # Every reader that fills an outcome opens keys and PKCS#12 files: a password it
        # asks for is the key's (the ZIP reader builds its own findings, with Secret.ZIP).
        locked = code in PASSWORD_CODES
        self.findings.append(
            finding(
                code,
                f"{self.name}: {message}",
                severity=severity,
                secret=Secret.KEY if locked else None,
                input=self.name if locked else None,
            )
        )

    def add_key(self, key: PrivateKeyTypes) -> None:
        self.keys.append(key)
        self.saw_key = True

    @property
    def kind(self) -> str:
        return input_kind(
            container=self.container,
            has_certificates=bool(self.certificates),
            has_keys=self.saw_key,
            has_request=self.saw_request,
        )

    def to_material(self) -> Material:
        return Material(
            certificates=[SourcedCertificate(c, self.name) for c in self.certificates],
            keys=[SourcedKey(k, self.name) for k in self.keys],
            inputs=[InputSummary(self.name, self.kind)],
            findings=list(self.findings),
        )


def input_kind(
    *,
    container: str | None = None,
    has_certificates: bool = False,
    has_keys: bool = False,
    has_request: bool = False,
) -> str:
    """The one-word kind of a file, from what it held (see `INPUT_KINDS`).

    A container names itself; a PEM/DER file is named by its content, and a file with
    both certificates and a key is a `bundle`, so that the checks can tell
    "a certificate where the key belongs" from "a combined file".
    """
    if container:
        return container
    if has_certificates and has_keys:
        return "bundle"
    if has_certificates:
        return "certificate"
    if has_keys:
        return "private_key"
    if has_request:
        return "certificate_request"
    return "unrecognized"
