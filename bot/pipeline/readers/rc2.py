"""RC2-CBC decryption (RFC 2268) in pure Python, for the 40-bit keys of legacy PKCS#12.

`openssl pkcs12 -legacy`, Windows' legacy export and macOS encrypt the certificates with
RC2-40, which cryptography does not offer (its RC2 takes 128-bit keys only). Decrypting
that block ourselves lets the PFX reader look inside before OpenSSL does: a key hidden in
it declares a KDF cost of its own. Certificate blocks are a few KB: milliseconds.
"""

from __future__ import annotations

import struct

# RFC 2268 section 2: a permutation of 0..255 derived from the digits of pi.
PITABLE = bytes.fromhex(
    "d978f9c419ddb5ed28e9fd794aa0d89dc67e37832b76538e624c6488448bfba2"
    "179a59f587b34f1361456d8d09817d32bd8f40eb86b77b0bf09521225c6b4e82"
    "54d66593ce60b21c7356c014a78cf1dc1275ca1f3bbee4d1423dd430a33cb626"
    "6fbf0eda4669075727f21d9bbc944303f811c7f690ef3ee706c3d52fc8661ed7"
    "08e8eade8052eef784aa72ac354d6a2a961ad2715a1549744b9fd05e0418a4ec"
    "c2e0416e0f51cbcc2491af50a1f47039997c3a8523b8b47afc02365b25559731"
    "2d5dfa98e38a92ae05df2910676cbac9d300e6cfe19ea82c6316013f58e289a9"
    "0d38341bab33ffb0bb480c5fb9b1cd2ec5f3db47e5a59c770aa62068fe7fc1ad"
)
BLOCK = 8
MASK = 0xFFFF
SHIFTS = (1, 2, 3, 5)


def expand_key(key: bytes, effective_bits: int) -> list[int]:
    """The 64 16-bit subkeys K[0..63] (RFC 2268 section 2)."""
    length = len(key)
    if not 1 <= length <= 128 or not 1 <= effective_bits <= 1024:
        raise ValueError("RC2 key or effective key length out of range")
    expanded = bytearray(key) + bytearray(128 - length)
    for i in range(length, 128):
        expanded[i] = PITABLE[(expanded[i - 1] + expanded[i - length]) & 0xFF]
    t8 = (effective_bits + 7) // 8
    tm = 0xFF >> (8 * t8 - effective_bits)
    expanded[128 - t8] = PITABLE[expanded[128 - t8] & tm]
    for i in range(127 - t8, -1, -1):
        expanded[i] = PITABLE[expanded[i + 1] ^ expanded[i + t8]]
    return list(struct.unpack("<64H", bytes(expanded)))


def _decrypt_block(k: list[int], block: bytes) -> bytes:
    r = list(struct.unpack("<4H", block))
    j = 63
    for rounds, mash_after in ((5, True), (6, True), (5, False)):
        for _ in range(rounds):  # r-mixing rounds, undone in reverse (section 4.1)
            for i in (3, 2, 1, 0):
                s = SHIFTS[i]
                r[i] = ((r[i] >> s) | (r[i] << (16 - s))) & MASK
                mix = (r[i - 1] & r[i - 2]) + ((~r[i - 1] & MASK) & r[i - 3])
                r[i] = (r[i] - k[j] - mix) & MASK
                j -= 1
        if mash_after:  # r-mashing round (section 4.2)
            for i in (3, 2, 1, 0):
                r[i] = (r[i] - k[r[i - 1] & 63]) & MASK
    return struct.pack("<4H", *r)


def decrypt_cbc(key: bytes, effective_bits: int, iv: bytes, ciphertext: bytes) -> bytes:
    """RC2-CBC decryption, padding left on; ValueError for a length that cannot be CBC."""
    if len(iv) != BLOCK or not ciphertext or len(ciphertext) % BLOCK:
        raise ValueError("RC2-CBC needs an 8-byte IV and whole blocks")
    k = expand_key(key, effective_bits)
    out = bytearray()
    previous = iv
    for start in range(0, len(ciphertext), BLOCK):
        block = ciphertext[start : start + BLOCK]
        plain = _decrypt_block(k, block)
        out += bytes(a ^ b for a, b in zip(plain, previous, strict=True))
        previous = block
    return bytes(out)
