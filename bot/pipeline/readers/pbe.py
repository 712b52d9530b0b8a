"""Password-based decryption of PKCS#8 keys and PKCS#12 blocks, done by us.

Two reasons not to leave it to the library. cryptography treats `b""` as "no password",
yet `openssl pkcs12 -export -passout pass:` encrypts under exactly that: without this, such
a PFX could only be read by `load_pkcs12`, which validates the key (seconds for an
8192-bit RSA key). And the encrypted certificate block of a PFX may hold a key with a KDF
cost of its own: decrypting the block ourselves lets the reader check that cost before
OpenSSL would run it. Only the schemes exporters write are handled: PBES2 (PBKDF2 with
AES-CBC or 3DES-CBC) and PKCS#12 PBE (3DES, RC2-40/128, RC4); anything else gives no
candidate and the caller falls back to the library (the declared cost is always checked
first, by `kdf_cost`).
"""

from __future__ import annotations

from asn1crypto import algos, keys
from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4, TripleDES
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import BlockCipherAlgorithm, Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from bot.pipeline.readers import rc2
from bot.pipeline.readers.kdf_cost import encryption_refusal
from bot.pipeline.readers.pkcs12_mac import bmp_password, pkcs12_kdf

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
        return decrypt(info["encryption_algorithm"], info["encrypted_data"].native, None)
    except Exception:  # damaged parameters: let OpenSSL decide
        return []


def decrypt(
    algorithm: algos.EncryptionAlgorithm, ciphertext: bytes, password: bytes | None
) -> list[bytes]:
    """Candidate plaintexts under `password` (None or b"": empty); [] when none decrypts.

    An empty PKCS#12 password has two encodings in the wild (two zero bytes, as OpenSSL
    writes it, or no bytes at all): both are tried. A candidate only passed the padding
    check; the caller parses it to be sure.
    """
    if encryption_refusal(algorithm) is not None:  # the caller refuses it before this
        return []
    try:
        if algorithm.kdf == "pbkdf2":
            return _maybe([_pbes2(algorithm, ciphertext, password or b"")])
        if algorithm.kdf == "pkcs12_kdf":
            encoded = [bmp_password(password)] if password else [b"\0\0", b""]
            return _maybe([_pkcs12_pbe(algorithm, ciphertext, pw) for pw in encoded])
    except (ValueError, UnicodeDecodeError):  # unusual parameters or a non-UTF-8 password
        return []
    return []


def decrypts(algorithm: algos.EncryptionAlgorithm) -> bool:
    """Whether `decrypt` handles this scheme itself.

    PBES2 with PBKDF2 and AES or 3DES in CBC mode, and PKCS#12 PBE with 3DES, RC2 or RC4:
    what OpenSSL, Windows, Java and macOS write.
    """
    try:
        if algorithm.kdf == "pkcs12_kdf":
            return algorithm.encryption_cipher in ("tripledes", "rc2", "rc4")
        return (
            algorithm.kdf == "pbkdf2"
            and algorithm.kdf_hmac in PRFS
            and algorithm.encryption_mode == "cbc"
            and algorithm.encryption_cipher in ("aes", "tripledes")
        )
    except Exception:  # another scheme, or parameters asn1crypto cannot read
        return False


def _maybe(results: list[bytes | None]) -> list[bytes]:
    return [r for r in results if r]


def _pbes2(
    algorithm: algos.EncryptionAlgorithm, ciphertext: bytes, password: bytes
) -> bytes | None:
    prf = PRFS.get(algorithm.kdf_hmac)
    if prf is None or algorithm.encryption_mode != "cbc":
        return None
    # PBKDF2HMAC releases the interpreter's lock while it derives (measured): other
    # threads keep running, unlike key loading in cryptography.
    key = PBKDF2HMAC(
        prf(), algorithm.key_length, algorithm.kdf_salt, algorithm.kdf_iterations
    ).derive(password)
    return _cbc_decrypt(
        _cipher(algorithm.encryption_cipher, key), algorithm.encryption_iv, ciphertext
    )


def _pkcs12_pbe(
    algorithm: algos.EncryptionAlgorithm, ciphertext: bytes, password: bytes
) -> bytes | None:
    cipher = algorithm.encryption_cipher
    salt, rounds, hash_name = algorithm.kdf_salt, algorithm.kdf_iterations, algorithm.kdf_hmac
    key = pkcs12_kdf(hash_name, password, salt, KEY_ID, rounds, algorithm.key_length)
    if cipher == "rc4":
        decryptor = Cipher(ARC4(key), mode=None).decryptor()
        return decryptor.update(ciphertext) + decryptor.finalize()
    iv = pkcs12_kdf(hash_name, password, salt, IV_ID, rounds, algorithm.encryption_block_size)
    if cipher == "rc2":
        return _unpad(rc2.decrypt_cbc(key, 8 * len(key), iv, ciphertext), 64)
    if cipher == "tripledes":
        return _cbc_decrypt(TripleDES(key), iv, ciphertext)
    return None


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
    return _unpad(decryptor.update(ciphertext) + decryptor.finalize(), cipher.block_size)


def _unpad(padded: bytes, block_bits: int) -> bytes | None:
    unpadder = padding.PKCS7(block_bits).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:  # bad padding: not this password
        return None
