"""Encrypted keys and PFX files whose declared KDF cost is patched into the DER.

A file that really took 2,147,483,647 iterations to write would take minutes to make;
patching the INTEGER in a normal file costs nothing, and the readers must refuse it from
the declared count alone (the MAC or padding no longer matter: nothing is derived).

    patch_pkcs8(der, iterations)           # an EncryptedPrivateKeyInfo (DER)
    patch_pfx(data, key=..., certs=..., mac=...)  # any of the three parts of a PFX
    hide_costly_key_in_certificate_block(pfx, password, iterations)
    HUGE = 2**31 - 1
"""

from __future__ import annotations

from collections.abc import Callable

from asn1crypto import algos, cms, keys
from asn1crypto import pkcs12 as asn1_pkcs12
from Cryptodome.Cipher import ARC2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from bot.pipeline.readers.pkcs12_mac import bmp_password, build_pfx, pkcs12_kdf

HUGE = 2**31 - 1


def _set_iterations(algorithm: algos.EncryptionAlgorithm, iterations: int) -> None:
    if algorithm["algorithm"].native == "pbes2":
        params = algorithm["parameters"]["key_derivation_func"]["parameters"]
        params["iteration_count"] = iterations
    else:
        algorithm["parameters"]["iterations"] = iterations


def patch_pkcs8(der: bytes, iterations: int) -> bytes:
    """`der` (an encrypted PKCS#8 key) with its KDF iteration count replaced."""
    info = keys.EncryptedPrivateKeyInfo.load(der)
    algorithm = info["encryption_algorithm"]
    _set_iterations(algorithm, iterations)
    return keys.EncryptedPrivateKeyInfo(
        {"encryption_algorithm": algorithm, "encrypted_data": info["encrypted_data"].native}
    ).dump(force=True)


def patch_pfx(
    data: bytes, *, key: int | None = None, certs: int | None = None, mac: int | None = None
) -> bytes:
    """The PFX `data` with the key bags', certificate blocks' or MAC's count replaced."""
    pfx = asn1_pkcs12.Pfx.load(data)
    safe = []
    for info in pfx.authenticated_safe:
        kind = info["content_type"].native
        if kind == "encrypted_data" and certs is not None:
            content = info["content"]
            _set_iterations(
                content["encrypted_content_info"]["content_encryption_algorithm"], certs
            )
            info = cms.ContentInfo({"content_type": "encrypted_data", "content": content})
        elif kind == "data" and key is not None:
            info = cms.ContentInfo(
                {"content_type": "data", "content": _patch_bags(info["content"].native, key)}
            )
        safe.append(info)
    content = asn1_pkcs12.AuthenticatedSafe(safe).dump(force=True)
    mac_data = pfx["mac_data"]
    if mac is not None:
        mac_data["iterations"] = mac
    fields = {
        "version": "v3",
        "auth_safe": cms.ContentInfo({"content_type": "data", "content": content}),
    }
    if mac_data.native:
        fields["mac_data"] = mac_data
    return asn1_pkcs12.Pfx(fields).dump(force=True)


def _patch_bags(der: bytes, iterations: int) -> bytes:
    bags = []
    for bag in asn1_pkcs12.SafeContents.load(der):
        if bag["bag_id"].native == "pkcs8_shrouded_key_bag":
            patched = patch_pkcs8(bag["bag_value"].untag().dump(), iterations)
            bag = asn1_pkcs12.SafeBag(
                {
                    "bag_id": "pkcs8_shrouded_key_bag",
                    "bag_value": keys.EncryptedPrivateKeyInfo.load(patched),
                    "bag_attributes": bag["bag_attributes"],
                }
            )
        bags.append(bag)
    return asn1_pkcs12.SafeContents(bags).dump(force=True)


def to_pem(der: bytes, label: str = "ENCRYPTED PRIVATE KEY") -> bytes:
    from asn1crypto import pem

    return bytes(pem.armor(label, der))


__all__ = ["HUGE", "patch_pfx", "patch_pkcs8", "to_pem"]


def hide_costly_key_in_certificate_block(data: bytes, password: bytes, iterations: int) -> bytes:
    """The PFX with its key bag moved inside the encrypted certificate block, patched.

    OpenSSL would decrypt that block and then run the key's own KDF: the reader must
    open the block itself and see the key's declared cost first. The block is
    re-encrypted here with independent code (cryptography's AES, pycryptodomex's RC2),
    and the PFX gets a fresh MAC so that only the hidden key's cost is wrong.
    """
    pfx = asn1_pkcs12.Pfx.load(data)
    key_bags, blocks, others = [], [], []
    for info in pfx.authenticated_safe:
        if info["content_type"].native == "encrypted_data":
            blocks.append(info)
            continue
        bags = list(asn1_pkcs12.SafeContents.load(info["content"].native))
        key_bags += [b for b in bags if b["bag_id"].native == "pkcs8_shrouded_key_bag"]
        rest = [b for b in bags if b["bag_id"].native != "pkcs8_shrouded_key_bag"]
        if rest:
            others.append(_data_info(asn1_pkcs12.SafeContents(rest).dump(force=True)))
    (key_bag,) = key_bags
    (block,) = blocks
    patched_bag = asn1_pkcs12.SafeContents.load(
        _patch_bags(asn1_pkcs12.SafeContents([key_bag]).dump(force=True), iterations)
    )[0]
    safe = [*others, _add_to_block(block, password, patched_bag)]
    return build_pfx(safe, password)


def _data_info(der: bytes) -> cms.ContentInfo:
    return cms.ContentInfo({"content_type": "data", "content": der})


def _add_to_block(
    info: cms.ContentInfo, password: bytes, bag: asn1_pkcs12.SafeBag
) -> cms.ContentInfo:
    content = info["content"]
    inner = content["encrypted_content_info"]
    algorithm = inner["content_encryption_algorithm"]
    encrypt, decrypt = _block_cipher(algorithm, password)
    plain = decrypt(inner["encrypted_content"].native)
    bags = [*asn1_pkcs12.SafeContents.load(plain), bag]
    inner["encrypted_content"] = encrypt(asn1_pkcs12.SafeContents(bags).dump(force=True))
    return cms.ContentInfo({"content_type": "encrypted_data", "content": content})


def _block_cipher(
    algorithm: algos.EncryptionAlgorithm, password: bytes
) -> tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]:
    if algorithm["algorithm"].native == "pbes2":
        key = PBKDF2HMAC(
            getattr(hashes, algorithm.kdf_hmac.upper())(),
            algorithm.key_length,
            algorithm.kdf_salt,
            algorithm.kdf_iterations,
        ).derive(password)
        iv = algorithm.encryption_iv

        def aes(data: bytes, enc: bool) -> bytes:
            cipher = Cipher(algorithms.AES(key), modes.CBC(iv))
            op = cipher.encryptor() if enc else cipher.decryptor()
            return op.update(data) + op.finalize()

        return _padded(lambda d: aes(d, True), 16), _unpadded(lambda d: aes(d, False))
    assert algorithm["algorithm"].native == "pkcs12_sha1_rc2_40"
    pw = bmp_password(password)
    salt, rounds = algorithm.kdf_salt, algorithm.kdf_iterations
    key = pkcs12_kdf("sha1", pw, salt, 1, rounds, 5)
    iv = pkcs12_kdf("sha1", pw, salt, 2, rounds, 8)

    def rc2(data: bytes, enc: bool) -> bytes:
        cipher = ARC2.new(key, ARC2.MODE_CBC, iv=iv, effective_keylen=40)
        return bytes(cipher.encrypt(data) if enc else cipher.decrypt(data))

    return _padded(lambda d: rc2(d, True), 8), _unpadded(lambda d: rc2(d, False))


def _padded(encrypt: Callable[[bytes], bytes], block: int) -> Callable[[bytes], bytes]:
    def run(data: bytes) -> bytes:
        pad = block - len(data) % block
        return encrypt(data + bytes([pad]) * pad)

    return run


def _unpadded(decrypt: Callable[[bytes], bytes]) -> Callable[[bytes], bytes]:
    def run(data: bytes) -> bytes:
        plain = decrypt(data)
        return plain[: -plain[-1]]

    return run
