"""The certificate file readers: uploaded bytes in, `Material` out.

    material = read_inputs([InputFile("site.pfx", data)], Passwords(key=b"..."))

Each file is identified by its content, never its name: PEM (certificates, `TRUSTED
CERTIFICATE`, CSRs, PKCS#1/PKCS#8/SEC1 keys, encrypted PKCS#8 and traditional
`Proc-Type` keys, PKCS#7; Bag Attributes text, CRLF, BOM, UTF-16), DER (certificates,
keys, CSRs, PKCS#7), PKCS#12 (legacy and modern encryption) and ZIP (ZipCrypto and AES,
one level of nested ZIPs, bounded by `ArchiveLimits`).

The readers only read: they report what each file is (`Material.inputs`), every
certificate and key with its source, and findings for what could not be read
(`unrecognized_file`, `certificate_request`, `password_required`, `wrong_password`,
`archive_too_large`, `archive_unsafe_member`, `kdf_cost_too_high`,
`unsupported_encryption`, `too_many_certificates`). Judging keys and chains is the
checks' job. Keys are loaded without RSA validation, so their size is known at once
whatever it is. What an input declares it will cost (KDF and MAC iterations, scrypt
memory, certificate counts, archive sizes) is read from its structure and refused past
a cap before the work is done (`kdf_cost`, `limits`).
Nothing read is written anywhere, and no message holds key bytes or passwords.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.pipeline.material import InputFile, Material, Passwords
from bot.pipeline.readers.archive import ArchiveBudget
from bot.pipeline.readers.detect import read_file
from bot.pipeline.readers.limits import ArchiveLimits
from bot.pipeline.readers.outcome import input_kind

__all__ = ["ArchiveLimits", "input_kind", "read_inputs"]

_NO_PASSWORDS = Passwords()
_DEFAULT_LIMITS = ArchiveLimits()


def read_inputs(
    files: Sequence[InputFile],
    passwords: Passwords = _NO_PASSWORDS,
    limits: ArchiveLimits = _DEFAULT_LIMITS,
) -> Material:
    """Read every file; never raises for any content (bad input becomes a finding)."""
    material = Material()
    budget = ArchiveBudget(limits)  # one budget for the whole upload
    for file in files:
        material.extend(read_file(file, passwords, budget))
    return material
