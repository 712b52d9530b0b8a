"""PKCS#12 files re-encoded in BER, as old Java keytool and some Windows tools write them.

BER allows indefinite lengths (a constructed element ends with two zero bytes) and
OCTET STRINGs split into chunks. `outer_ber` re-encodes only the PFX around its content
(the MAC, computed over the content octets, stays valid); `inner_ber` also re-encodes the
AuthenticatedSafe and the unencrypted SafeContents, and computes the MAC again.
"""

from __future__ import annotations

import hashlib
import hmac

from asn1crypto import cms
from asn1crypto import pkcs12 as asn1_pkcs12

from bot.pipeline.readers.pkcs12_mac import MAC_KEY_ID, bmp_password, pkcs12_kdf


def to_ber(der: bytes, chunk: int = 0) -> bytes:
    """Every constructed element with an indefinite length; OCTET STRINGs over `chunk`
    bytes (when given) split into a constructed string of chunks."""
    out = b""
    pos = 0
    while pos < len(der):
        tag, value, pos = _read_tlv(der, pos)
        if tag & 0x20:
            out += bytes([tag, 0x80]) + to_ber(value, chunk) + b"\0\0"
        elif tag == 0x04 and chunk and len(value) > chunk:
            parts = b"".join(_tlv(0x04, value[i : i + chunk]) for i in range(0, len(value), chunk))
            out += b"\x24\x80" + parts + b"\0\0"
        else:
            out += _tlv(tag, value)
    return out


def outer_ber(der_pfx: bytes, chunk: int = 500) -> bytes:
    return to_ber(der_pfx, chunk)


def inner_ber(der_pfx: bytes, password: bytes | None, chunk: int = 200) -> bytes:
    """AuthenticatedSafe and plain SafeContents in BER too; MAC recomputed (None: no MAC)."""
    pfx = asn1_pkcs12.Pfx.load(der_pfx)
    infos = b""
    for info in pfx.authenticated_safe:
        if info["content_type"].native == "data":
            inner = to_ber(info["content"].native, chunk)
            octets = _chunked(inner, chunk)
            infos += b"\x30\x80" + info["content_type"].dump() + b"\xa0\x80" + octets + b"\0\0\0\0"
        else:
            infos += to_ber(info.dump(), chunk)
    content = b"\x30\x80" + infos + b"\0\0"
    fields: dict[str, object] = {
        "version": "v3",
        "auth_safe": cms.ContentInfo({"content_type": "data", "content": content}),
    }
    mac_data = pfx["mac_data"]
    if password is not None and mac_data.native:
        name = mac_data["mac"]["digest_algorithm"]["algorithm"].native
        salt, rounds = mac_data["mac_salt"].native, mac_data["iterations"].native
        size = hashlib.new(name).digest_size
        key = pkcs12_kdf(name, bmp_password(password), salt, MAC_KEY_ID, rounds, size)
        mac_data["mac"]["digest"] = hmac.new(key, content, name).digest()
        fields["mac_data"] = mac_data
    return to_ber(asn1_pkcs12.Pfx(fields).dump(force=True), chunk)


def _chunked(value: bytes, chunk: int) -> bytes:
    parts = b"".join(_tlv(0x04, value[i : i + chunk]) for i in range(0, len(value), chunk))
    return b"\x24\x80" + parts + b"\0\0"


def _read_tlv(data: bytes, pos: int) -> tuple[int, bytes, int]:
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    return tag, data[pos : pos + length], pos + length


def _tlv(tag: int, value: bytes) -> bytes:
    size = len(value)
    if size < 0x80:
        return bytes([tag, size]) + value
    encoded = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(encoded)]) + encoded + value
