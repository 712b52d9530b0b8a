"""Just enough DER to find where the first element ends."""

from __future__ import annotations


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
