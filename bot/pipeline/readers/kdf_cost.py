"""The declared cost of every password derivation, read from the ASN.1 before any is run.

An encrypted key or PKCS#12 file names its own key-derivation cost: PBKDF2 and PKCS#12-KDF
iteration counts, scrypt's N, r and p, and the MAC's iterations. cryptography and OpenSSL
run whatever the file says, whatever the password (a wrong one too), and loading a
PKCS#8 key holds Python's global lock for the whole derivation: a 4 KB file that claims
2,147,483,647 iterations stalls every thread of the bot for minutes. So every path that
can reach a derivation (PEM and DER keys, PKCS#12 key bags, encrypted certificate bags
and MACs, the same inside ZIPs, on the terminal and in Slack) asks this module first, and
a file over the cap is refused at once, with or without a password.

The cap, and why (measured 2026-12 on OpenSSL 3.0.19 and cryptography 51, plus the
published defaults of other exporters):

- OpenSSL `pkcs8 -topk8` and `pkcs12 -export` (also `-legacy`): 2,048 iterations for the
  key, the certificates and the MAC; `pkcs8 -scrypt`: N=16384, r=8, p=1.
- cryptography: 2,048 (PKCS#8, `BestAvailableEncryption`); PKCS#12 20,000 for the key and
  certificates, 2,048 for the MAC.
- Windows (`Export-PfxCertificate`, certutil; AES-256/SHA-256 and the legacy 3DES form):
  2,000. macOS Keychain export: OpenSSL-style legacy 3DES/RC2-40 at about 2,048.
- Java keytool: 10,000 for key, certificates and MAC (since JDK 8u301/11.0.12/17); older
  JDKs 50,000 for the key and certificates and 100,000 for the MAC.
- Bouncy Castle: 51,200 until 1.85; 600,000 from 1.86 (OWASP's figure for
  PBKDF2-HMAC-SHA256), which caps its own reader at 5,000,000.

The cap is 1,000,000 iterations per derivation: above every writer's default (1.7 times
the highest, 500 times OpenSSL's), while a file at the cap costs about 0.3-1.8 s of one
worker's CPU (PBKDF2-SHA-256 to SHA-512; `bench/bench_rejects.py` prints it) instead of
minutes. scrypt is capped at 64 MiB of memory (128·N·r, four times OpenSSL's default) and
N·r·p at 2^22 (32 times OpenSSL's default work). A KDF, PRF or cipher this module does
not know is refused too (`unsupported_encryption`): its cost cannot be read, so it is
never handed to the library blind. Traditional `Proc-Type` PEM keys have no cost to read
(OpenSSL's EVP_BytesToKey, one MD5 round).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from asn1crypto import algos, core, keys
from asn1crypto import pkcs12 as asn1_pkcs12

MAX_KDF_ITERATIONS = 1_000_000
MAX_SCRYPT_MEMORY = 64 * 1024 * 1024  # bytes: 128 * N * r
MAX_SCRYPT_WORK = 1 << 22  # N * r * p; OpenSSL's default is 2^14 * 8 * 1 = 2^17
MAX_SAFE_DEPTH = 4  # SafeContents nested inside SafeContents bags

SCRYPT_OID = "1.3.6.1.4.1.11591.4.11"
PBKDF2_PRFS = {"sha1", "sha224", "sha256", "sha384", "sha512", "sha512_224", "sha512_256"}
PBES2_CIPHERS = {
    "aes128_cbc": "AES-128-CBC",
    "aes192_cbc": "AES-192-CBC",
    "aes256_cbc": "AES-256-CBC",
    "tripledes_3key": "3DES-CBC",
    "des": "DES-CBC",
    "rc2": "RC2-CBC",
}
LEGACY_SCHEMES = {  # PKCS#12 PBE (RFC 7292 appendix C) and PKCS#5 PBES1
    "pkcs12_sha1_tripledes_3key": ("PKCS#12-KDF (SHA-1)", "3DES"),
    "pkcs12_sha1_tripledes_2key": ("PKCS#12-KDF (SHA-1)", "2-key 3DES"),
    "pkcs12_sha1_rc2_128": ("PKCS#12-KDF (SHA-1)", "RC2-128"),
    "pkcs12_sha1_rc2_40": ("PKCS#12-KDF (SHA-1)", "RC2-40"),
    "pkcs12_sha1_rc4_128": ("PKCS#12-KDF (SHA-1)", "RC4-128"),
    "pkcs12_sha1_rc4_40": ("PKCS#12-KDF (SHA-1)", "RC4-40"),
    "pbes1_md5_des": ("PBKDF1 (MD5)", "DES"),
    "pbes1_sha1_des": ("PBKDF1 (SHA-1)", "DES"),
    "pbes1_md5_rc2": ("PBKDF1 (MD5)", "RC2-64"),
    "pbes1_sha1_rc2": ("PBKDF1 (SHA-1)", "RC2-64"),
}
MAC_DIGESTS = {"md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sha512_224", "sha512_256"}

COST_TOO_HIGH = "kdf_cost_too_high"
UNSUPPORTED = "unsupported_encryption"


class ScryptParams(core.Sequence):
    """RFC 7914 section 7.1 (asn1crypto does not know scrypt)."""

    _fields = [  # noqa: RUF012 - asn1crypto's declaration style
        ("salt", core.OctetString),
        ("cost_parameter", core.Integer),
        ("block_size", core.Integer),
        ("parallelization_parameter", core.Integer),
        ("key_length", core.Integer, {"optional": True}),
    ]


@dataclass(frozen=True)
class Refusal:
    """Why a part of a file is refused before any password is tried (no secret in it)."""

    code: str  # COST_TOO_HIGH or UNSUPPORTED
    scheme: str  # e.g. "PBKDF2-HMAC-SHA256 with 2,147,483,647 iterations and AES-256-CBC"

    def message(self, what: str) -> str:
        """The finding's message; `what` names the part ("the private key")."""
        if self.code == COST_TOO_HIGH:
            return (
                f"the password protection of {what} declares {self.scheme}, over certops' "
                f"cap of {MAX_KDF_ITERATIONS:,} iterations (64 MiB for scrypt): the file is "
                "refused without trying any password, because deriving the key from it "
                "could take minutes"
            )
        return (
            f"the password protection of {what} uses {self.scheme}, which certops does not "
            "read: its cost cannot be checked, so the file is refused without trying any "
            "password"
        )


class _Refused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.scheme)
        self.refusal = refusal


def _unsupported(scheme: str) -> _Refused:
    return _Refused(Refusal(UNSUPPORTED, scheme))


def _hash_label(name: str) -> str:
    """The display name of a hash: sha256 is SHA-256, sha512_224 SHA-512/224, md5 MD5."""
    upper = name.upper().replace("_", "/")
    return upper.replace("SHA", "SHA-", 1) if upper.startswith("SHA") else upper


def _iterations(count: object, kdf: str, cipher: str) -> None:
    if not isinstance(count, int) or count < 1:
        raise _unsupported(f"{kdf} with an invalid iteration count")
    if count > MAX_KDF_ITERATIONS:
        raise _Refused(Refusal(COST_TOO_HIGH, f"{kdf} with {count:,} iterations for {cipher}"))


def encryption_refusal(algorithm: algos.EncryptionAlgorithm) -> Refusal | None:
    """The refusal of a password-based encryption's parameters, or None when acceptable."""
    try:
        _check_encryption(algorithm)
    except _Refused as refused:
        return refused.refusal
    except Exception:  # parameters that do not parse: no cost can be read
        return Refusal(UNSUPPORTED, "damaged encryption parameters")
    return None


def _check_encryption(algorithm: algos.EncryptionAlgorithm) -> None:
    name = algorithm["algorithm"].native
    if name in LEGACY_SCHEMES:
        kdf, cipher = LEGACY_SCHEMES[name]
        _iterations(algorithm["parameters"]["iterations"].native, kdf, cipher)
        return
    if name != "pbes2":
        raise _unsupported(f"an unknown encryption scheme ({name})")
    params = algorithm["parameters"]
    scheme = params["encryption_scheme"]["algorithm"].native
    if scheme not in PBES2_CIPHERS:
        raise _unsupported(f"PBES2 with an unknown cipher ({scheme})")
    cipher = PBES2_CIPHERS[scheme]
    kdf = params["key_derivation_func"]
    kdf_name = kdf["algorithm"].native
    if kdf_name == "pbkdf2":
        prf = kdf["parameters"]["prf"]["algorithm"].native
        if prf not in PBKDF2_PRFS:
            raise _unsupported(f"PBKDF2 with an unknown PRF ({prf})")
        label = f"PBKDF2-HMAC-{_hash_label(prf)}"
        _iterations(kdf["parameters"]["iteration_count"].native, label, cipher)
        return
    if kdf_name == SCRYPT_OID:
        _check_scrypt(kdf["parameters"], cipher)
        return
    raise _unsupported(f"PBES2 with an unknown key derivation ({kdf_name})")


def _check_scrypt(raw: core.Any, cipher: str) -> None:
    params = ScryptParams.load(raw.dump(), strict=True)
    n = params["cost_parameter"].native
    r = params["block_size"].native
    p = params["parallelization_parameter"].native
    if min(n, r, p) < 1:
        raise _unsupported("scrypt with invalid parameters")
    if 128 * n * r > MAX_SCRYPT_MEMORY or n * r * p > MAX_SCRYPT_WORK:
        raise _Refused(Refusal(COST_TOO_HIGH, f"scrypt with N={n:,}, r={r}, p={p} for {cipher}"))


def mac_refusal(mac_data: asn1_pkcs12.MacData) -> Refusal | None:
    """The refusal of a PFX's MAC parameters (PKCS#12-KDF or PBMAC1), or None."""
    try:
        digest = mac_data["mac"]["digest_algorithm"]
        name = digest["algorithm"].native
        if name == "1.2.840.113549.1.5.14":  # PBMAC1 (RFC 9579): PBKDF2 inside
            return _pbmac1_refusal(digest["parameters"])
        if name not in MAC_DIGESTS:
            return Refusal(UNSUPPORTED, f"a MAC with an unknown digest ({name})")
        hmac = f"an HMAC-{_hash_label(name)}"
        _iterations(mac_data["iterations"].native, f"PKCS#12-KDF ({_hash_label(name)})", hmac)
    except _Refused as refused:
        return refused.refusal
    except Exception:
        return Refusal(UNSUPPORTED, "damaged MAC parameters")
    return None


def _pbmac1_refusal(raw: core.Any) -> Refusal | None:
    params = algos.Pbmac1Params.load(raw.dump(), strict=True)
    kdf = params["key_derivation_func"]
    if kdf["algorithm"].native != "pbkdf2":
        return Refusal(UNSUPPORTED, "PBMAC1 with an unknown key derivation")
    prf = kdf["parameters"]["prf"]["algorithm"].native
    if prf not in PBKDF2_PRFS:
        return Refusal(UNSUPPORTED, f"PBMAC1 with an unknown PRF ({prf})")
    label = f"PBMAC1 (PBKDF2-HMAC-{_hash_label(prf)})"
    _iterations(kdf["parameters"]["iteration_count"].native, label, "an HMAC")
    return None


def encrypted_key_refusal(der: bytes) -> Refusal | None:
    """For an EncryptedPrivateKeyInfo (PKCS#8), its refusal; None for anything else."""
    try:
        info = keys.EncryptedPrivateKeyInfo.load(der, strict=True)
        algorithm = info["encryption_algorithm"]
        info["encrypted_data"].native  # noqa: B018 - parse it all now, or it is no EPKI
    except Exception:
        return None  # not an encrypted PKCS#8 key: another reader decides
    return encryption_refusal(algorithm)


def pfx_refusal(pfx: asn1_pkcs12.Pfx) -> tuple[str, Refusal] | None:
    """The first part of a PFX whose declared cost is refused, named, or None.

    Looks at the MAC, every EncryptedData block and every shrouded key bag that is not
    itself encrypted. Keys inside an encrypted block are checked when it is decrypted.
    A structure that does not parse raises (the caller reports a damaged file).
    """
    if pfx["mac_data"].native:
        refusal = mac_refusal(pfx["mac_data"])
        if refusal:
            return "the integrity check (MAC) of this PKCS#12 file", refusal
    try:
        for what, algorithm in _pfx_algorithms(pfx):
            refusal = encryption_refusal(algorithm)
            if refusal:
                return what, refusal
    except _Refused as refused:
        return "this PKCS#12 file", refused.refusal
    return None


def _pfx_algorithms(pfx: asn1_pkcs12.Pfx) -> Iterator[tuple[str, algos.EncryptionAlgorithm]]:
    for info in pfx.authenticated_safe:
        kind = info["content_type"].native
        if kind == "encrypted_data":
            content = info["content"]["encrypted_content_info"]
            yield "the certificates in this PKCS#12 file", content["content_encryption_algorithm"]
        elif kind == "data":
            yield from safe_contents_algorithms(info["content"].native, 0)
        else:  # enveloped (public-key) content: neither we nor cryptography read it
            raise _unsupported(f"{kind} content")


def safe_contents_algorithms(
    der: bytes, depth: int
) -> Iterator[tuple[str, algos.EncryptionAlgorithm]]:
    """Every shrouded key bag's algorithm in a SafeContents, nested bags included."""
    if depth > MAX_SAFE_DEPTH:
        raise ValueError("SafeContents nested too deep")
    for bag in asn1_pkcs12.SafeContents.load(der):
        bag_id = bag["bag_id"].native
        if bag_id == "pkcs8_shrouded_key_bag":
            info = keys.EncryptedPrivateKeyInfo.load(bag["bag_value"].untag().dump())
            yield "the private key in this PKCS#12 file", info["encryption_algorithm"]
        elif bag_id == "safe_contents":
            yield from safe_contents_algorithms(bag["bag_value"].untag().dump(), depth + 1)
