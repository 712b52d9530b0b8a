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
from bot.pipeline.readers.extensions import malformed_extension
from bot.pipeline.readers.limits import MAX_CERTIFICATES_PER_FILE, MAX_CERTIFICATES_PER_UPLOAD

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
    certificates_before: int = 0  # read from the upload's earlier files and members

    def room(self) -> int:
        """How many more certificates this file may add (per-file and per-upload caps)."""
        upload_room = MAX_CERTIFICATES_PER_UPLOAD - self.certificates_before
        return min(MAX_CERTIFICATES_PER_FILE, upload_room) - len(self.certificates)

    def admit(self, count: int) -> bool:
        """Whether `count` more certificates, counted from the structure, may be parsed.

        False adds `too_many_certificates` (once per file): the caller reads none of them.
        """
        if count <= self.room():
            return True
        if not any(f.code == "too_many_certificates" for f in self.findings):
            self.add_finding("too_many_certificates", self._too_many(count))
        return False

    def _too_many(self, count: int) -> str:
        total = len(self.certificates) + count
        if total > MAX_CERTIFICATES_PER_FILE:
            return (
                f"this file holds {total:,} certificates, more than the "
                f"{MAX_CERTIFICATES_PER_FILE} certops reads from one file: they were "
                "counted, not read"
            )
        return (
            f"this file holds {total:,} certificates and the upload already "
            f"{self.certificates_before:,}: certops reads at most "
            f"{MAX_CERTIFICATES_PER_UPLOAD} in one upload, so this file's were not read"
        )

    def add_finding(self, code: str, message: str, severity: Severity | None = None) -> None:
        # Every reader that fills an outcome opens keys and PKCS#12 files: a password it
        # asks for is the key's (the ZIP reader builds its own findings, with Secret.ZIP).
        # `input` names the file, so nothing downstream reads it back out of the message.
        locked = code in PASSWORD_CODES
        self.findings.append(
            finding(
                code,
                f"{self.name}: {message}",
                severity=severity,
                secret=Secret.KEY if locked else None,
                input=self.name,
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
        kind = self.kind  # a certificate with a malformed extension is still a certificate
        usable = [c for c in self.certificates if self._usable(c)]
        return Material(
            certificates=[SourcedCertificate(c, self.name) for c in usable],
            keys=[SourcedKey(k, self.name) for k in self.keys],
            inputs=[InputSummary(self.name, kind)],
            findings=list(self.findings),
        )

    def _usable(self, cert: x509.Certificate) -> bool:
        """False (with `malformed_extension`) for a certificate with a broken extension."""
        problem = malformed_extension(cert)
        if problem is None:
            return True
        self.add_finding(
            "malformed_extension",
            f"this is a certificate ({_subject(cert)}), but its {problem}: clients refuse "
            "it and certops cannot check it, so it was left out",
        )
        return False


def _subject(cert: x509.Certificate) -> str:
    try:
        return cert.subject.rfc4514_string() or "an empty subject"
    except Exception:  # a subject cryptography cannot render
        return "its subject cannot be read"


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
