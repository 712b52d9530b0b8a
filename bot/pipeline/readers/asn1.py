"""Just enough DER (and base64) to find where a certificate or key really is."""

from __future__ import annotations

import base64
import binascii
import re

BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
MAX_BARE_BASE64 = 1024 * 1024  # certificate material is far smaller


def first_element_length(der: bytes) -> int | None:
    """Length in bytes of the first DER element (tag, length and value), or None.

    `TRUSTED CERTIFICATE` blocks hold a certificate followed by OpenSSL's trust data: the
    certificate is exactly the first element.
    """
    if len(der) < 2 or der[0] & 0x1F == 0x1F:  # multi-byte tags never start these
        return None
    first = der[1]
    if first < 0x80:
        header, length = 2, first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or len(der) < 2 + count:
            return None  # indefinite or absurd lengths
        header, length = 2 + count, int.from_bytes(der[2 : 2 + count], "big")
    total = header + length
    return total if total <= len(der) else None


def strip_trailing_padding(der: bytes) -> bytes:
    """DER with the newlines or zero bytes some tools append after it removed."""
    length = first_element_length(der)
    if length and length < len(der) and not der[length:].strip(b"\r\n\t \x00"):
        return der[:length]
    return der


def bare_base64(text: str) -> bytes | None:
    """The DER inside base64 text that has lost its BEGIN/END lines, if it is that."""
    if len(text) > MAX_BARE_BASE64 or not BASE64.fullmatch("".join(text[:128].split())):
        return None  # cheap refusal before joining a large binary file's "lines"
    compact = "".join(text.split())
    if len(compact) < 64 or not BASE64.fullmatch(compact):
        return None
    try:
        der = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None
    return der if der[:1] == b"\x30" else None
