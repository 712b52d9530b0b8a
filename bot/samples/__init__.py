"""Test certificates to try certops with: `certops samples DIR` and the console's `/samples`.

Its own package, not part of the pipeline (which only reads and judges material, never
makes or writes it), the services (no process rule, no database) or a handler (the
terminal command and the console both call it): `write_samples()` is the one entry.

What it writes, under DIR:

- `ca.pem`: the throwaway root. Trusted nowhere until named with `--trust-store` or
  CERTOPS_TRUST_STORE; without it every set ends in `chain_incomplete`.
- `valid/` (cert.pem, key.pem, chain.pem), `valid.pfx` (the same, encrypted with a
  generated password that is returned and printed, never written), `valid.zip`.
- `expiring/`: valid, but it expires in 10 days (`expiring_soon`).
- the broken sets, each failing for one reason: `key-mismatch/`, `missing-intermediate/`,
  `sha1/`, `rsa-8192/`, `expired/`.

Every certificate carries O=certops test material - NOT FOR PRODUCTION in its subject.
The CA keys stay in memory: nobody can issue more under this root.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import secrets
import string
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

from bot.pipeline.hostnames import InvalidHostname, normalize
from bot.samples import pki

DEFAULT_NAME = "app.certops.test"  # .test is reserved (RFC 6761): it never resolves publicly
TRUST_STORE = "ca.pem"
PASSWORD_LENGTH = 20
_PASSWORD_ALPHABET = string.ascii_letters + string.digits  # types and pastes anywhere
EXPIRING_DAYS = 10


class SamplesError(Exception):
    """Samples cannot be written here (or for this name): one line for a person."""


class SamplesNotWritten(SamplesError):
    """The system refused to write a file (permissions, a full disk): one line."""


@dataclass(frozen=True)
class Sample:
    """One set: its files, and what `certops validate` says of them with the trust store."""

    name: str
    files: tuple[Path, ...]
    verdict: str  # "valid" | "invalid", with the trust store (without it: chain_incomplete)
    code: str | None  # the finding the set is there to show; None for a clean valid set
    what: str  # one line for a person
    needs_password: bool = False


@dataclass(frozen=True)
class SampleSet:
    """What `write_samples` wrote. The PFX password is left out of the repr, so logging
    the object cannot leak it."""

    directory: Path
    name: str
    trust_store: Path
    samples: tuple[Sample, ...]
    pfx_password: str = field(repr=False)

    @property
    def files(self) -> list[Path]:
        return [self.trust_store, *(path for sample in self.samples for path in sample.files)]

    def sample(self, name: str) -> Sample:
        return next(sample for sample in self.samples if sample.name == name)


# The files each set writes, relative to DIR: checked before anything is made (refusal).
LAYOUT: dict[str, tuple[str, ...]] = {
    "valid": ("valid/cert.pem", "valid/key.pem", "valid/chain.pem"),
    "valid-pfx": ("valid.pfx",),
    "valid-zip": ("valid.zip",),
    "expiring": ("expiring/cert.pem", "expiring/key.pem", "expiring/chain.pem"),
    "key-mismatch": ("key-mismatch/cert.pem", "key-mismatch/key.pem", "key-mismatch/chain.pem"),
    "missing-intermediate": ("missing-intermediate/cert.pem", "missing-intermediate/key.pem"),
    "sha1": ("sha1/cert.pem", "sha1/key.pem", "sha1/chain.pem"),
    "rsa-8192": ("rsa-8192/cert.pem", "rsa-8192/key.pem", "rsa-8192/chain.pem"),
    "expired": ("expired/cert.pem", "expired/key.pem", "expired/chain.pem"),
}


def planned_files(directory: Path) -> list[Path]:
    """Every file `write_samples` writes in `directory`, the trust store first."""
    return [directory / TRUST_STORE, *(directory / p for paths in LAYOUT.values() for p in paths)]


def existing_samples(directory: Path) -> list[Path]:
    """The sample files already in `directory` (what --force would replace)."""
    return [path for path in planned_files(directory) if path.exists()]


def check_name(name: str) -> str:
    """The host name the leaves are issued for, normalised; SamplesError if it is none."""
    try:
        return normalize(name.strip())
    except InvalidHostname as error:
        raise SamplesError(f"--name: {error}") from None


def new_password() -> str:
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


def write_samples(
    directory: Path,
    name: str = DEFAULT_NAME,
    *,
    force: bool = False,
    now: dt.datetime | None = None,
    progress: Callable[[str], object] | None = None,
) -> SampleSet:
    """Make the PKI and every set, write them under `directory`, say what was written.

    Refuses (SamplesError) a directory that already holds sample files unless `force`,
    and a name that is not a host name. `now` is the moment the dates count from (the
    console passes its moved clock). The 8192-bit key takes seconds the first time in a
    process (pki.large_key): `progress` is told so, once the checks have passed.
    """
    host = check_name(name)
    directory = Path(directory).expanduser()
    if directory.exists() and not directory.is_dir():
        raise SamplesError(f"{str(directory)!r} is a file, not a directory")
    if not force and existing_samples(directory):
        raise SamplesError(
            f"{str(directory)!r} already holds sample files; use --force to replace them"
        )
    if progress is not None:
        slow = "" if pki.large_key.cache_info().currsize else " (the 8192-bit key takes seconds)"
        progress(f"Making the samples{slow}...")
    now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    password = new_password()
    contents = _contents(host, now, password)
    try:
        for relative, data in contents.items():
            _write(directory / relative, data)
    except OSError as error:
        raise SamplesNotWritten(
            f"cannot write the samples in {str(directory)!r}: {error.strerror or error}"
        ) from None
    return SampleSet(
        directory=directory,
        name=host,
        trust_store=directory / TRUST_STORE,
        samples=tuple(_describe(directory, host)),
        pfx_password=password,
    )


def _pem_set(
    leaf: pki.Issued, chain: Iterable[pki.Issued], key: bytes | None = None
) -> list[bytes]:
    """cert.pem, key.pem and (when the set has one) chain.pem, in LAYOUT's order."""
    files = [leaf.pem, key if key is not None else leaf.key_pem]
    chain_pem = b"".join(issued.pem for issued in chain)
    return [*files, chain_pem] if chain_pem else files


def _contents(host: str, now: dt.datetime, password: str) -> dict[str, bytes]:
    """Every file's bytes, by its path under DIR (nothing written yet)."""
    root = pki.ca("certops sample root CA", now)
    intermediate = pki.ca("certops sample intermediate CA", now, issuer=root, path_length=0)
    days = dt.timedelta(days=1)

    def issue(
        not_before: dt.datetime = now - pki.BACKDATE,
        not_after: dt.datetime = now + pki.LEAF_DAYS * days,
        key: rsa.RSAPrivateKey | None = None,
        sha1: bool = False,
    ) -> pki.Issued:
        return pki.leaf(
            intermediate,
            host,
            not_before=not_before,
            not_after=not_after,
            key=key,
            sha1=sha1,
        )

    valid = issue()
    # The hour added keeps "10 days left" true for the hour after the samples were made.
    expiring = issue(now - 80 * days, now + EXPIRING_DAYS * days + pki.BACKDATE)
    sets: dict[str, list[bytes]] = {
        "valid": _pem_set(valid, [intermediate]),
        "valid-pfx": [_pfx(valid, intermediate, host, password)],
        "valid-zip": [_zip(LAYOUT["valid"], _pem_set(valid, [intermediate]))],
        "expiring": _pem_set(expiring, [intermediate]),
        "key-mismatch": _pem_set(issue(), [intermediate], key=pki.key_pem(pki.new_key())),
        "missing-intermediate": _pem_set(issue(), []),
        "sha1": _pem_set(issue(sha1=True), [intermediate]),
        "rsa-8192": _pem_set(issue(key=pki.large_key()), [intermediate]),
        "expired": _pem_set(issue(now - 100 * days, now - 10 * days), [intermediate]),
    }
    contents = {TRUST_STORE: root.pem}
    for set_name, paths in LAYOUT.items():
        contents.update(zip(paths, sets[set_name], strict=True))
    return contents


def _pfx(leaf: pki.Issued, intermediate: pki.Issued, host: str, password: str) -> bytes:
    """The leaf, its key and the intermediate, encrypted as cryptography does best
    (AES-256, PBKDF2 with 20,000 rounds: both openssl and certops read it at once)."""
    return pkcs12.serialize_key_and_certificates(
        host.encode(),
        leaf.key,
        leaf.cert,
        [intermediate.cert],
        BestAvailableEncryption(password.encode()),
    )


def _zip(paths: Iterable[str], datas: Iterable[bytes]) -> bytes:
    """The PEM set as a ZIP (names without the folder, as a CA's download has them)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in zip(paths, datas, strict=True):
            archive.writestr(path.rsplit("/", 1)[-1], data)
    return buffer.getvalue()


def _write(path: Path, data: bytes) -> None:
    """Replace `path` with `data`. Files with a private key (key.pem, the PFX, the ZIP)
    are readable by their owner only: test material, but a key file is a key file.
    Certificates keep the usual mode, so a bot run as another user can read ca.pem."""
    path.parent.mkdir(parents=True, exist_ok=True)
    private = path.name == "key.pem" or path.suffix in {".pfx", ".zip"}
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, 0o600 if private else 0o644)
    if private:
        os.fchmod(fd, 0o600)  # a file replaced with --force keeps no wider mode
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _describe(directory: Path, host: str) -> list[Sample]:
    """Each set with the verdict `certops validate` gives it, trust store named."""
    what = {
        "valid": ("valid", None, f"a valid certificate for {host}: certificate, key, chain"),
        "valid-pfx": ("valid", None, "the same as an encrypted PFX (its password is below)"),
        "valid-zip": ("valid", None, "the same PEM files in a ZIP"),
        "expiring": ("valid", "expiring_soon", f"valid, but expires in {EXPIRING_DAYS} days"),
        "key-mismatch": ("invalid", "key_mismatch", "a key that does not match the certificate"),
        "missing-intermediate": (
            "invalid",
            "chain_incomplete",
            "no intermediate: the chain stops at the leaf",
        ),
        "sha1": ("invalid", "weak_signature", "signed with SHA-1"),
        "rsa-8192": ("invalid", "key_too_large", "an 8192-bit RSA key (the limit is 4096)"),
        "expired": ("invalid", "expired", "expired 10 days ago"),
    }
    return [
        Sample(
            name=set_name,
            files=tuple(directory / path for path in paths),
            verdict=what[set_name][0],
            code=what[set_name][1],
            what=what[set_name][2],
            needs_password=set_name == "valid-pfx",
        )
        for set_name, paths in LAYOUT.items()
    ]
