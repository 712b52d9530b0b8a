"""Turning uploaded bytes into text, whatever editor or OS wrote them.

Windows tools write UTF-16 with a BOM, Notepad adds a UTF-8 BOM, mail clients add CRLF:
all of them are still PEM. Non-text bytes give `None` so that DER can be tried.
"""

from __future__ import annotations

UTF8_BOM = b"\xef\xbb\xbf"
UTF16_LE_BOM = b"\xff\xfe"
UTF16_BE_BOM = b"\xfe\xff"


def decode_text(data: bytes) -> str | None:
    """The text of `data` if it is text (UTF-8/ASCII, or UTF-16 with or without BOM)."""
    encoding = _utf16_encoding(data)
    if encoding:
        try:
            return data.decode(encoding).lstrip("\ufeff")
        except UnicodeDecodeError:
            return None
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
    # latin-1 never fails: PEM is ASCII, and junk around the blocks must not hide them.
    return data.decode("latin-1")


def _utf16_encoding(data: bytes) -> str | None:
    if data.startswith(UTF16_LE_BOM):
        return "utf-16-le"
    if data.startswith(UTF16_BE_BOM):
        return "utf-16-be"
    # Without a BOM, ASCII text in UTF-16 has a zero byte in every other position.
    head = data[:64]
    if len(head) >= 8 and len(head) % 2 == 0:
        if all(b == 0 for b in head[1::2]) and all(head[0::2]):
            return "utf-16-le"
        if all(b == 0 for b in head[0::2]) and all(head[1::2]):
            return "utf-16-be"
    return None
