"""ZIP archives, read in memory only and bounded against zip bombs.

Limits are checked twice: on the sizes the headers declare (free), and on the bytes
actually produced while decompressing in chunks (headers can lie). Nothing is ever
written to disk: member names are only labels, so an absolute or `..` path is harmless
to us, but it is flagged because another tool extracting the same archive would write
outside its folder.
"""

from __future__ import annotations

import copy
import io
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.pipeline.findings import PASSWORD_CODES, Finding, Secret, Severity, finding
from bot.pipeline.material import InputFile, Material, Passwords
from bot.pipeline.readers.limits import ArchiveLimits

if TYPE_CHECKING:  # pyzipper (with pycryptodomex) costs ~30-100 ms to import: only for a ZIP
    import pyzipper

CHUNK = 64 * 1024
EOCD_MAGIC = b"PK\x05\x06"
EOCD_SEARCH = 22 + 65535  # the record, and a comment of at most 64 KiB
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
JUNK_PREFIXES = ("__MACOSX/",)
JUNK_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini", ".gitkeep"}
# Members named like certificate material are errors when unreadable; others (a
# README.txt, the CA's instructions.pdf) are only mentioned.
MATERIAL_SUFFIXES = (
    ".pem", ".crt", ".cer", ".cert", ".der", ".key", ".p7b", ".p7c", ".p7", ".pfx", ".p12",
    ".ca-bundle", ".bundle", ".chain", ".csr", ".zip",
)  # fmt: skip
OFFICE_MARKERS = ("[Content_Types].xml",)
ZIP_PASSWORD_HINT = "Give the ZIP password (--zip-password-file or the prompt)."

ReadMember = Callable[[InputFile, Passwords, "ArchiveBudget", int], Material]


class ArchiveTooLarge(Exception):
    """A limit was passed; the message is safe to show (sizes and names only)."""


def is_zip(data: bytes) -> bool:
    return data[:4] in ZIP_MAGIC


@dataclass
class ArchiveBudget:
    """What this upload has used so far, shared by every file and nested archive."""

    limits: ArchiveLimits
    used: int = 0  # uncompressed bytes
    certificates: int = 0  # certificates read, every file and member together

    def spend(self, amount: int, where: str) -> None:
        self.used += amount
        if self.used > self.limits.max_total_bytes:
            raise ArchiveTooLarge(
                f"{where}: the archive expands to more than "
                f"{_mib(self.limits.max_total_bytes)} in total"
            )


@dataclass
class _Member:
    info: pyzipper.ZipInfo
    label: str  # "archive.zip:path/in/zip"
    unsafe: bool = False
    findings: list[Finding] = field(default_factory=list)


def read_zip(
    name: str,
    data: bytes,
    passwords: Passwords,
    budget: ArchiveBudget,
    depth: int,
    read_member: ReadMember,
) -> Material:
    """Read every member of the ZIP `data` through `read_member`; never raises."""
    material = Material()
    limits = budget.limits
    try:
        if len(data) > limits.max_archive_bytes:
            raise ArchiveTooLarge(
                f"{name}: the archive is larger than {_mib(limits.max_archive_bytes)}"
            )
        if depth > limits.max_depth:
            raise ArchiveTooLarge(f"{name}: archives nested more than {limits.max_depth} deep")
        if declared_entries(data) > limits.max_members:  # before parsing every entry
            raise ArchiveTooLarge(f"{name}: the archive has more than {limits.max_members} entries")
        import pyzipper

        with pyzipper.AESZipFile(io.BytesIO(data)) as archive:
            members = _plan(name, archive.infolist(), limits)
            if _is_office_document(archive.namelist()):
                return _unrecognized(name, "this is an Office document, not a certificate archive")
            locked = False  # after one password failure, the other encrypted members agree
            for member in members:
                material.findings += member.findings
                if locked and member.info.flag_bits & 0x1:
                    continue
                content = _read_member(archive, member, passwords, budget)
                if isinstance(content, Finding):
                    material.findings.append(content)
                    locked = locked or content.code in PASSWORD_CODES
                    continue
                member_material = read_member(
                    InputFile(member.label, content), passwords, budget, depth + 1
                )
                _soften_unrelated(member, member_material)
                material.extend(member_material)
    except ArchiveTooLarge as exc:
        return Material(findings=[finding("archive_too_large", str(exc))])
    except Exception:  # BadZipFile, NotImplementedError, zlib.error, OSError, ...
        return _unrecognized(name, "this ZIP archive is damaged or uses an unsupported format")
    return material


def declared_entries(data: bytes) -> int:
    """The entry count in the end-of-central-directory record (0 when not found)."""
    end = data.rfind(EOCD_MAGIC, max(0, len(data) - EOCD_SEARCH))
    if end < 0 or end + 12 > len(data):
        return 0
    return int(struct.unpack_from("<H", data, end + 10)[0])


def _plan(name: str, infos: list[pyzipper.ZipInfo], limits: ArchiveLimits) -> list[_Member]:
    """Check the declared sizes of every entry, and choose the members worth reading."""
    if len(infos) > limits.max_members:
        raise ArchiveTooLarge(f"{name}: the archive has more than {limits.max_members} entries")
    declared_total = 0
    members = []
    for info in infos:
        label = f"{name}:{info.filename}"
        _check_declared(label, info, limits)
        declared_total += info.file_size
        if declared_total > limits.max_total_bytes:
            raise ArchiveTooLarge(
                f"{name}: the archive declares more than {_mib(limits.max_total_bytes)} in total"
            )
        if info.is_dir() or _is_junk(info.filename):
            continue
        member = _Member(info, label)
        if is_unsafe_path(info.filename):
            member.unsafe = True
            member.findings.append(
                finding(
                    "archive_unsafe_member",
                    f"{label}: this member's path is absolute or climbs out of the folder "
                    "(it was read in memory, never written)",
                )
            )
        members.append(member)
    return members


def _check_declared(label: str, info: pyzipper.ZipInfo, limits: ArchiveLimits) -> None:
    if info.file_size > limits.max_member_bytes:
        raise ArchiveTooLarge(
            f"{label}: this member declares {_mib(info.file_size)}, over the "
            f"{_mib(limits.max_member_bytes)} limit"
        )
    if info.file_size >= limits.ratio_floor_bytes:
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > limits.max_ratio:
            raise ArchiveTooLarge(
                f"{label}: this member is compressed {ratio:.0f} to 1, over the "
                f"{limits.max_ratio} to 1 limit (a zip bomb?)"
            )


def _read_member(
    archive: pyzipper.AESZipFile, member: _Member, passwords: Passwords, budget: ArchiveBudget
) -> bytes | Finding:
    """The member's bytes, counted chunk by chunk; a Finding if it cannot be opened."""
    info = member.info
    encrypted = bool(info.flag_bits & 0x1)
    password = (passwords.zip or passwords.key or None) if encrypted else None
    if encrypted and not password:
        return finding(
            "password_required",
            f"{member.label}: the archive is encrypted and no ZIP password was given",
            hint=ZIP_PASSWORD_HINT,
            secret=Secret.ZIP,
            input=member.label,
        )
    try:
        return _inflate(archive, info, member.label, password, budget)
    except ArchiveTooLarge:
        raise
    except Exception:  # RuntimeError "Bad password", BadZipFile (CRC), zlib.error, ...
        if encrypted:  # a ZipCrypto check byte passes 1 time in 256: then the CRC fails
            return _wrong_zip_password(member.label, passwords)
        return finding("unrecognized_file", f"{member.label}: this member is damaged")


def _inflate(
    archive: pyzipper.AESZipFile,
    info: pyzipper.ZipInfo,
    label: str,
    password: bytes | None,
    budget: ArchiveBudget,
) -> bytes:
    limits = budget.limits
    cap = min(limits.max_member_bytes, limits.max_total_bytes - budget.used)
    cap = min(cap, max(limits.ratio_floor_bytes, info.compress_size * limits.max_ratio))
    # Let the decompressor run past the declared size, by a margin we stop before, so that
    # a member whose header lies is caught here instead of failing its CRC.
    probe = copy.copy(info)
    probe.file_size = max(cap, info.file_size) + 4 * CHUNK + 1
    out = bytearray()
    with archive.open(probe, pwd=password) as stream:
        while chunk := stream.read(CHUNK):
            out += chunk
            if len(out) > info.file_size:
                raise ArchiveTooLarge(
                    f"{label}: this member expands beyond the size its header declares "
                    f"({info.file_size} bytes): a zip bomb?"
                )
            if len(out) > cap:
                raise ArchiveTooLarge(f"{label}: this member expands beyond the archive limits")
    budget.spend(len(out), label)
    return bytes(out)


def _wrong_zip_password(label: str, passwords: Passwords) -> Finding:
    tried = "the ZIP password" if passwords.zip else "the key password (no ZIP password given)"
    return finding(
        "wrong_password",
        f"{label}: {tried} does not open the archive",
        hint=ZIP_PASSWORD_HINT,
        secret=Secret.ZIP,
        input=label,
    )


def is_unsafe_path(path: str) -> bool:
    """Absolute (`/x`, `\\x`, `C:x`) or climbing (`..`) member paths."""
    if path.startswith(("/", "\\")) or (len(path) > 1 and path[1] == ":"):
        return True
    return ".." in path.replace("\\", "/").split("/")


def _is_junk(path: str) -> bool:
    base = path.replace("\\", "/").rsplit("/", 1)[-1]
    return path.startswith(JUNK_PREFIXES) or base in JUNK_NAMES or base.startswith("._")


def _is_office_document(names: list[str]) -> bool:
    return any(n in OFFICE_MARKERS for n in names)


def _soften_unrelated(member: _Member, material: Material) -> None:
    """An unreadable README in a CA's ZIP is worth a note, not an invalid verdict."""
    if member.info.filename.lower().endswith(MATERIAL_SUFFIXES):
        return
    material.findings[:] = [
        finding("unrecognized_file", f.message, severity=Severity.INFO)
        if f.code == "unrecognized_file" and f.severity is Severity.ERROR
        else f
        for f in material.findings
    ]


def _unrecognized(name: str, message: str) -> Material:
    return Material(findings=[finding("unrecognized_file", f"{name}: {message}")])


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MiB" if size >= 1024 * 1024 else f"{size} bytes"
