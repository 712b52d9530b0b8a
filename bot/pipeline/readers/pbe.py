"""Decrypting a PKCS#8 key under an empty password, which cryptography will not do.

cryptography treats `b""` as "no password", yet `openssl pkcs12 -export -passout pass:`
encrypts the key under exactly that. Without this, such a PFX could only be read by
`load_pkcs12`, which validates the key (seconds for an 8192-bit RSA key). Only the
schemes OpenSSL writes are handled: PBES2 (PBKDF2 + AES-CBC or 3DES-CBC) and PKCS#12 PBE
with 3DES; anything else returns None and the caller falls back to `load_pkcs12`.
"""

from __future__ import annotations

from asn1crypto import keys
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import BlockCipherAlgorithm, Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from bot.pipeline.readers.kdf_cost import encryption_refusal
from bot.pipeline.readers.pkcs12_mac import pkcs12_kdf

PRFS: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
KEY_ID, IV_ID = 1, 2


def decrypt_empty_password(encrypted_key_info: bytes) -> list[bytes]:
    """Candidate PrivateKeyInfo DER blobs of a key encrypted under an empty password."""
    try:
        info = keys.EncryptedPrivateKeyInfo.load(encrypted_key_info)
        algorithm = info["encryption_algorithm"]
        ciphertext = info["encrypted_data"].native
        if encryption_refusal(algorithm) is not None:  # the caller has refused it already
            return []
        if algorithm.kdf == "pbkdf2":
            return _maybe([_pbes2(algorithm, ciphertext)])
        if algorithm.kdf == "pkcs12_kdf":
            # OpenSSL encodes "" as two zero bytes; some tools use no bytes at all.
            return _maybe([_pkcs12_pbe(algorithm, ciphertext, pw) for pw in (b"\0\0", b"")])
    except Exception:  # unknown scheme or damaged parameters: let OpenSSL decide
        return []
    return []


def _maybe(results: list[bytes | None]) -> list[bytes]:
    return [r for r in results if r]


def _pbes2(algorithm: keys.EncryptionAlgorithm, ciphertext: bytes) -> bytes | None:
    prf = PRFS.get(algorithm.kdf_hmac)
    if prf is None or algorithm.encryption_mode != "cbc":
        return None
    key = PBKDF2HMAC(
        prf(), algorithm.key_length, algorithm.kdf_salt, algorithm.kdf_iterations
    ).derive(b"")
    return _cbc_decrypt(
        _cipher(algorithm.encryption_cipher, key), algorithm.encryption_iv, ciphertext
    )


def _pkcs12_pbe(
    algorithm: keys.EncryptionAlgorithm, ciphertext: bytes, password: bytes
) -> bytes | None:
    if algorithm.encryption_cipher != "tripledes":
        return None
    salt, rounds, hash_name = algorithm.kdf_salt, algorithm.kdf_iterations, algorithm.kdf_hmac
    key = pkcs12_kdf(hash_name, password, salt, KEY_ID, rounds, algorithm.key_length)
    iv = pkcs12_kdf(hash_name, password, salt, IV_ID, rounds, algorithm.encryption_block_size)
    return _cbc_decrypt(TripleDES(key), iv, ciphertext)


def _cipher(name: str, key: bytes) -> BlockCipherAlgorithm | None:
    if name == "aes":
        return algorithms.AES(key)
    if name == "tripledes":
        return TripleDES(key)
    return None


def _cbc_decrypt(cipher: BlockCipherAlgorithm | None, iv: bytes, ciphertext: bytes) -> bytes | None:
    if cipher is None:
        return None
    decryptor = Cipher(cipher, modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(cipher.block_size).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:  # bad padding: not this password
        return None
