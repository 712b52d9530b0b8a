"""Which reader a file goes to, decided by its bytes alone (never by its name)."""

from __future__ import annotations

from bot.pipeline.findings import finding
from bot.pipeline.material import InputFile, InputSummary, Material, Passwords
from bot.pipeline.readers.archive import ArchiveBudget, is_zip, read_zip
from bot.pipeline.readers.asn1 import bare_base64, strip_trailing_padding
from bot.pipeline.readers.der import read_der
from bot.pipeline.readers.keys import is_library_panic
from bot.pipeline.readers.outcome import FileOutcome
from bot.pipeline.readers.pem import has_pem_block, read_pem
from bot.pipeline.readers.text import decode_text

# Formats people upload by mistake, named so that the message says what it was.
SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xfe\xed\xfe\xed", "a Java KeyStore (JKS)"),
    (b"\xce\xce\xce\xce", "a Java KeyStore (JCEKS)"),
    (b"\xd0\xcf\x11\xe0", "an Office document"),
    (b"%PDF", "a PDF document"),
    (b"ssh-", "an SSH public key"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"\x1f\x8b", "a gzip file"),
)
TEXT_HINTS: tuple[tuple[str, str], ...] = (
    ("-----BEGIN PGP", "a PGP key or message"),
    ("-----BEGIN OPENSSH PRIVATE KEY", "an OpenSSH key"),
)


def read_file(
    file: InputFile, passwords: Passwords, budget: ArchiveBudget, depth: int = 0
) -> Material:
    """Everything in one file (or ZIP member); never raises for any bytes."""
    try:
        return _read(file, passwords, budget, depth)
    except Exception:  # the last line of defence: bad input gets a message, not a traceback
        return _unreadable(file)
    except BaseException as exc:  # a panic in cryptography's Rust core on damaged input
        if is_library_panic(exc):
            return _unreadable(file)
        raise


def _unreadable(file: InputFile) -> Material:
    return Material(
        inputs=[InputSummary(file.name, "unrecognized")],
        findings=[finding("unrecognized_file", f"{file.name}: this file could not be read")],
    )


def _read(file: InputFile, passwords: Passwords, budget: ArchiveBudget, depth: int) -> Material:
    data = file.data
    if is_zip(data):
        material = Material(inputs=[InputSummary(file.name, "zip")])
        material.extend(read_zip(file.name, data, passwords, budget, depth, read_file))
        return material
    outcome = FileOutcome(file.name, certificates_before=budget.certificates)
    _read_content(outcome, data, passwords)
    budget.certificates += len(outcome.certificates)
    return outcome.to_material()


def _read_content(outcome: FileOutcome, data: bytes, passwords: Passwords) -> None:
    if not data.strip(b" \t\r\n\x00"):
        outcome.add_finding("unrecognized_file", "the file is empty")
        return
    text = decode_text(data)
    if text is not None and has_pem_block(text):
        hint = _text_hint(text)
        if hint:
            outcome.add_finding("unrecognized_file", f"this is {hint}, not a certificate or key")
        else:
            read_pem(outcome, text, passwords)
        return
    if text is not None and (der := bare_base64(text)) is not None:
        data = der  # base64 pasted without its BEGIN/END lines
    data = strip_trailing_padding(data)
    # The PKCS#12 reader (asn1crypto's CMS and PKCS#12 modules) loads with the first
    # binary file: a PEM set never needs it (issue 16).
    from bot.pipeline.readers.pkcs12 import parse_pfx, read_pfx

    pfx = parse_pfx(data)
    if pfx is not None:
        read_pfx(outcome, pfx, data, passwords)
    elif not read_der(outcome, data, passwords):
        outcome.add_finding("unrecognized_file", _unknown_message(data))


def _text_hint(text: str) -> str | None:
    """Name a foreign PEM-like file, unless it also holds something we read."""
    for marker, what in TEXT_HINTS:
        if marker in text and "-----BEGIN CERTIFICATE" not in text:
            return what
    return None


def _unknown_message(data: bytes) -> str:
    for magic, what in SIGNATURES:
        if data.startswith(magic):
            return f"this is {what}, not a certificate, key, PKCS#7, PKCS#12 or ZIP file"
    if data[:1] == b"\x30":
        return "this binary (DER) data is truncated, damaged or of an unsupported type"
    return "not a certificate, key, PKCS#7, PKCS#12 or ZIP file (or it is damaged)"
