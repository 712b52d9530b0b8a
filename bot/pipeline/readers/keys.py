"""Loading private keys cheaply, telling a missing password from a wrong one.

Keys are always loaded with `unsafe_skip_rsa_key_validation=True`: full validation costs
seconds for an 8192-bit key, and the checks prove possession themselves (public-key
equality and a sign/verify probe), so the key size is known before anything expensive.

cryptography's password semantics: `TypeError` when an encrypted key gets no password
(`b""` counts as none) or a plain key gets one; `ValueError` for a wrong password or
undecodable data. A plain key is therefore always tried without a password first, so a
password given to an unencrypted key is simply ignored.

Before any of that, an encrypted PKCS#8 key's declared KDF cost is read from its ASN.1
(`kdf_cost`): over the cap it is refused (`KeyStatus.REFUSED`) whatever the password, so
the library never runs a derivation a file can make last for minutes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from asn1crypto import pem as asn1_pem
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import (
    load_der_private_key,
    load_pem_private_key,
)

from bot.pipeline.readers.asn1 import ber_to_der

if TYPE_CHECKING:
    from bot.pipeline.readers.kdf_cost import Refusal

# The KDF cost rules and our own decryption (asn1crypto's key, algorithm and PKCS#12
# modules) load with the first encrypted PKCS#8 key: a plain key never needs them, and
# `certops validate` of a PEM set started 20 ms sooner without them (issue 16).


class KeyStatus(Enum):
    LOADED = "loaded"
    PASSWORD_REQUIRED = "password_required"
    WRONG_PASSWORD = "wrong_password"
    UNSUPPORTED = "unsupported"  # parsed as a key, but an algorithm cryptography lacks
    REFUSED = "refused"  # encrypted with a KDF cost over the cap, or one we cannot read
    INVALID = "invalid"  # not a key at all


@dataclass(frozen=True)
class KeyLoad:
    status: KeyStatus
    key: PrivateKeyTypes | None = field(default=None, repr=False)
    encrypted: bool = False
    refusal: Refusal | None = None  # why, when REFUSED


Loader = Callable[..., PrivateKeyTypes]


def load_pem_key(pem: bytes, password: bytes | None) -> KeyLoad:
    if not _dek_info_is_sound(pem):
        return KeyLoad(KeyStatus.INVALID, encrypted=True)
    der = _pem_der(pem)
    return (
        _refused(der) or _own_decrypt(der, password) or _load(load_pem_private_key, pem, password)
    )


def _pem_der(pem: bytes) -> bytes:
    """The DER of an `ENCRYPTED PRIVATE KEY` block (empty for any other label)."""
    try:
        label, _, der = asn1_pem.unarmor(pem)
    except Exception:
        return b""
    return der if label == "ENCRYPTED PRIVATE KEY" else b""


def _refused(der: bytes) -> KeyLoad | None:
    if not der:
        return None
    from bot.pipeline.readers.kdf_cost import encrypted_key_refusal

    refusal = encrypted_key_refusal(der)
    return KeyLoad(KeyStatus.REFUSED, encrypted=True, refusal=refusal) if refusal else None


# IV lengths (bytes) of the ciphers OpenSSL writes in a traditional key's DEK-Info header.
_DEK_IV_BYTES = {
    "AES-128-CBC": 16,
    "AES-192-CBC": 16,
    "AES-256-CBC": 16,
    "DES-EDE3-CBC": 8,
    "DES-CBC": 8,
}
_DEK_INFO = re.compile(
    rb"^DEK-Info:[ \t]*([A-Za-z0-9-]+)[ \t]*,[ \t]*(\S*)[ \t]*\r?$", re.MULTILINE
)


def _dek_info_is_sound(pem: bytes) -> bool:
    """A traditional encrypted key whose IV does not fit its cipher is damaged.

    Checked here because the library does not check it: an IV shorter than the cipher's
    makes cryptography's Rust core panic (a PanicException, not a ValueError).
    """
    header = _DEK_INFO.search(pem)
    if header is None:
        return True
    cipher, iv = header.group(1).decode("ascii").upper(), header.group(2)
    try:
        iv_bytes = bytes.fromhex(iv.decode("ascii"))
    except ValueError:
        return False
    expected = _DEK_IV_BYTES.get(cipher)
    return expected is None or len(iv_bytes) == expected


def load_der_key(der: bytes, password: bytes | None) -> KeyLoad:
    return (
        _refused(der) or _own_decrypt(der, password) or _load(load_der_private_key, der, password)
    )


def _own_decrypt(der: bytes, password: bytes | None) -> KeyLoad | None:
    """An encrypted PKCS#8 key decrypted by us (None: a scheme the library decrypts).

    cryptography's loaders hold the interpreter's lock for the whole derivation: at a
    million iterations every other thread of the bot waited 0.3-1 s (measured).
    `PBKDF2HMAC.derive` releases it, and our PKCS#12 KDF is Python, which lets other
    threads in every few milliseconds. Without a password there is nothing to derive:
    the library answers "password required" at once.
    """
    if not der or not password:
        return None
    from asn1crypto import keys as asn1_keys

    from bot.pipeline.readers.pbe import decrypt, decrypts

    try:
        info = asn1_keys.EncryptedPrivateKeyInfo.load(der, strict=True)
        algorithm = info["encryption_algorithm"]
        ciphertext = info["encrypted_data"].native
    except Exception:
        return None
    if not decrypts(algorithm):
        return None
    for plain in decrypt(algorithm, ciphertext, password):
        loaded = _load(load_der_private_key, _as_der(plain), None)
        if loaded.status in (KeyStatus.LOADED, KeyStatus.UNSUPPORTED):
            return KeyLoad(loaded.status, loaded.key, encrypted=True)
    return KeyLoad(KeyStatus.WRONG_PASSWORD, encrypted=True)


def _load(loader: Loader, data: bytes, password: bytes | None) -> KeyLoad:
    try:
        return KeyLoad(KeyStatus.LOADED, _call(loader, data, None))
    except TypeError:
        pass  # encrypted: needs a password
    except UnsupportedAlgorithm:
        return KeyLoad(KeyStatus.UNSUPPORTED)
    except ValueError:
        return KeyLoad(KeyStatus.INVALID)
    if not password:
        return KeyLoad(KeyStatus.PASSWORD_REQUIRED, encrypted=True)
    try:
        return KeyLoad(KeyStatus.LOADED, _call(loader, data, password), encrypted=True)
    except ValueError:
        return KeyLoad(KeyStatus.WRONG_PASSWORD, encrypted=True)
    except UnsupportedAlgorithm:
        return KeyLoad(KeyStatus.UNSUPPORTED, encrypted=True)
    except TypeError:
        return KeyLoad(KeyStatus.INVALID, encrypted=True)


def _call(loader: Loader, data: bytes, password: bytes | None) -> PrivateKeyTypes:
    try:
        return loader(data, password, unsafe_skip_rsa_key_validation=True)
    except Exception:
        raise
    except BaseException as exc:
        if is_library_panic(exc):
            raise ValueError("the key could not be read") from None
        raise


def _as_der(data: bytes) -> bytes:
    """A decrypted key written in BER (some PKCS#12 exporters) re-encoded as DER."""
    try:
        return ber_to_der(data)
    except ValueError:
        return data  # not ASN.1 at all: the loader says so


def is_library_panic(exc: BaseException) -> bool:
    """A Rust panic inside cryptography (pyo3's PanicException derives from BaseException,
    so `except Exception` lets it through): damaged input, never a reason to crash."""
    return type(exc).__name__ == "PanicException"


def key_problem(status: KeyStatus, what: str, refusal: Refusal | None = None) -> tuple[str, str]:
    """The finding code and message for a key that did not load (`what` names it)."""
    if status is KeyStatus.REFUSED and refusal is not None:
        return refusal.code, refusal.message(what)
    if status is KeyStatus.PASSWORD_REQUIRED:
        return "password_required", f"{what} is encrypted and no password was given"
    if status is KeyStatus.WRONG_PASSWORD:
        return "wrong_password", f"the password does not open {what}"
    if status is KeyStatus.UNSUPPORTED:
        return "unrecognized_file", f"{what} uses an algorithm or cipher that is not supported"
    return "unrecognized_file", f"{what} could not be read (damaged or not a key)"
