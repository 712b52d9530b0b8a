"""Just enough DER (and base64) to find where a certificate or key really is, and BER to DER."""

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


MAX_DEPTH = 64  # PKCS#12 nests about 12 deep; anything far deeper is hostile
STRING_TAGS = {0x24: 0x04}  # a constructed (chunked) OCTET STRING -> a primitive one


def ber_to_der(data: bytes) -> bytes:
    """`data` (one BER element) re-encoded with definite lengths: DER for what we read.

    Some exporters (old Java keytool, Windows) write PKCS#12 in BER: indefinite lengths
    and OCTET STRINGs split into chunks. asn1crypto reads them, but cryptography's key
    and certificate loaders take DER only: the bytes handed to them go through this.
    Already-DER input comes back unchanged. Raises ValueError on malformed input.
    """
    element, end = _element(data, 0, 0)
    if end != len(data):
        raise ValueError("trailing data after the element")
    return element


def _element(data: bytes, pos: int, depth: int) -> tuple[bytes, int]:
    if depth > MAX_DEPTH:
        raise ValueError("nested too deep")
    if pos + 2 > len(data):
        raise ValueError("truncated")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise ValueError("multi-byte tags are not used here")
    length, pos = _length(data, pos + 1)
    if not tag & 0x20:  # primitive: copied as it is
        if length is None or pos + length > len(data):
            raise ValueError("bad primitive length")
        return tlv(tag, data[pos : pos + length]), pos + length
    children = []
    if length is None:  # indefinite: children until the end-of-contents octets
        while data[pos : pos + 2] != b"\0\0":
            child, pos = _element(data, pos, depth + 1)
            children.append(child)
        pos += 2
    else:
        end = pos + length
        if end > len(data):
            raise ValueError("bad constructed length")
        while pos < end:
            child, pos = _element(data, pos, depth + 1)
            children.append(child)
        if pos != end:
            raise ValueError("children overrun their parent")
    if tag in STRING_TAGS:  # chunked string: one primitive string of the chunks' values
        return tlv(STRING_TAGS[tag], b"".join(_value(c) for c in children)), pos
    return tlv(tag, b"".join(children)), pos


def _length(data: bytes, pos: int) -> tuple[int | None, int]:
    if pos >= len(data):
        raise ValueError("truncated")
    first = data[pos]
    if first < 0x80:
        return first, pos + 1
    count = first & 0x7F
    if count == 0:
        return None, pos + 1
    if count > 4 or pos + 1 + count > len(data):
        raise ValueError("absurd length")
    return int.from_bytes(data[pos + 1 : pos + 1 + count], "big"), pos + 1 + count


def tlv(tag: int, value: bytes) -> bytes:
    """One DER element: `tag`, the definite length, `value`."""
    size = len(value)
    if size < 0x80:
        return bytes([tag, size]) + value
    encoded = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(encoded)]) + encoded + value


def _value(element: bytes) -> bytes:
    """The value of a DER element made by `tlv` (the chunks of a BER string)."""
    first = element[1]
    header = 2 if first < 0x80 else 2 + (first & 0x7F)
    return element[header:]
