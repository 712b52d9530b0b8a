"""Encrypted keys and PFX files whose declared KDF cost is patched into the DER.

A file that really took 2,147,483,647 iterations to write would take minutes to make;
patching the INTEGER in a normal file costs nothing, and the readers must refuse it from
the declared count alone (the MAC or padding no longer matter: nothing is derived).

    patch_pkcs8(der, iterations)           # an EncryptedPrivateKeyInfo (DER)
    patch_pfx(data, key=..., certs=..., mac=...)  # any of the three parts of a PFX
    HUGE = 2**31 - 1
"""

from __future__ import annotations

from asn1crypto import algos, cms, keys
from asn1crypto import pkcs12 as asn1_pkcs12

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
