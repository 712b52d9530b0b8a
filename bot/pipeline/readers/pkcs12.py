"""PKCS#12 (.pfx/.p12) files, legacy (RC2/3DES) and modern (AES), without paying for keys.

The walk: parse the PFX with asn1crypto (is it a PFX at all?), read every declared KDF
cost (MAC, key bags, encrypted blocks: `kdf_cost`, refused over the cap before anything
is derived), check the MAC with the password (missing or wrong?), open the key bag
cheaply (`unsafe_skip_rsa_key_validation`: its type and size are known at once), and
decrypt the certificate blocks ourselves (`pbe`), so that a key hidden in one has its
cost checked too. A block we cannot decrypt goes to `load_pkcs12` inside a rebuilt PFX
that holds no key, so OpenSSL never validates the key. An 8192-bit key is therefore read
in milliseconds and the checks reject it at once.

One case still calls `load_pkcs12` on the whole file: a key in an encrypted bag under an
empty password (cryptography cannot decrypt a key with an empty password by itself), or
a key stored inside the encrypted certificate bags. Then the key is validated, which
costs time for large keys; these files are rare.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from asn1crypto import cms
from asn1crypto import pkcs12 as asn1_pkcs12
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12

from bot.pipeline.findings import Severity
from bot.pipeline.material import Passwords
from bot.pipeline.readers.asn1 import ber_to_der
from bot.pipeline.readers.kdf_cost import pfx_refusal
from bot.pipeline.readers.keys import KeyLoad, KeyStatus, key_problem, load_der_key
from bot.pipeline.readers.outcome import FileOutcome
from bot.pipeline.readers.pbe import decrypt, decrypt_empty_password
from bot.pipeline.readers.pkcs12_mac import MacCheck, build_pfx, check_mac

LARGEST_KEY_BITS = 4096  # above this, never let OpenSSL validate the key


def parse_pfx(data: bytes) -> asn1_pkcs12.Pfx | None:
    """The PFX structure if `data` is one (version 3, data or signed content)."""
    try:
        pfx = asn1_pkcs12.Pfx.load(data, strict=True)
        if pfx["version"].native != "v3":
            return None
        if pfx["auth_safe"]["content_type"].native != "data":
            return None
        pfx.native  # noqa: B018 - asn1crypto parses lazily: parse it all now, or raise
        pfx.authenticated_safe  # noqa: B018
    except Exception:  # asn1crypto raises ValueError, TypeError, KeyError... on junk
        return None
    return pfx


@dataclass
class _Walk:
    """What the unencrypted parts of a PFX revealed."""

    certificates: list[x509.Certificate] = field(default_factory=list)
    keys: list[KeyLoad] = field(default_factory=list)
    locked_keys: int = 0  # shrouded keys that need load_pkcs12 (empty password)
    keyless: list[cms.ContentInfo] = field(default_factory=list)  # blocks left to OpenSSL
    room: int = 0  # certificates the caps still allow (see FileOutcome.room)
    opened: int = 0  # encrypted blocks and keys the password decrypted
    cert_bags: int = 0  # counted before any is parsed


def read_pfx(outcome: FileOutcome, pfx: asn1_pkcs12.Pfx, data: bytes, passwords: Passwords) -> None:
    """Read a parsed PFX into `outcome` (certificates, key, password findings)."""
    outcome.container = "pkcs12"
    try:
        _read_pfx(outcome, pfx, data, passwords)
    except Exception:  # a structure that parsed but is inconsistent deeper down
        outcome.add_finding("unrecognized_file", "this PKCS#12 file is damaged")


def _read_pfx(
    outcome: FileOutcome, pfx: asn1_pkcs12.Pfx, data: bytes, passwords: Passwords
) -> None:
    refused = pfx_refusal(pfx)  # before any derivation: ours (the MAC) or OpenSSL's
    if refused is not None:
        what, refusal = refused
        outcome.saw_key = True  # as for a wrong password: the key is probably in there
        outcome.add_finding(refusal.code, refusal.message(what))
        return
    given = passwords.key or None
    password, verdict = _resolve_password(pfx, given)
    if verdict is MacCheck.MISMATCH and not given:
        outcome.saw_key = True
        _password_problem(outcome, given)
        return
    try:
        walk = _walk(pfx, password, outcome.room())
    except TooManyCertificates as too_many:
        outcome.admit(too_many.count)  # adds the finding
        return
    except Exception:
        if verdict is MacCheck.MISMATCH:
            outcome.saw_key = True
            _password_problem(outcome, given)
        else:
            outcome.add_finding("unrecognized_file", "this PKCS#12 file is damaged")
        return
    if verdict is MacCheck.MISMATCH:
        if not walk.opened:  # the password opens nothing inside either: it is wrong
            outcome.saw_key = True
            _password_problem(outcome, given)
            return
        outcome.add_finding(
            "pkcs12_mac_unverified",
            "the password opens this PKCS#12 file's contents but not its integrity check "
            "(MAC), which was written under another password (as `openssl pkcs12 "
            "-twopass` does): the contents were read, their integrity was not verified",
        )
    outcome.certificates.extend(walk.certificates)
    if not _take_keys(outcome, walk.keys, given):
        return
    verified = verdict is MacCheck.OK
    if walk.locked_keys:
        _load_whole(outcome, data, password, given, verified)
    elif walk.keyless:
        _load_keyless(outcome, walk, password, given, verified)
    if not outcome.certificates and not outcome.saw_key and not outcome.findings:
        outcome.add_finding("unrecognized_file", "this PKCS#12 file holds no certificate or key")


def _resolve_password(pfx: asn1_pkcs12.Pfx, given: bytes | None) -> tuple[bytes | None, MacCheck]:
    """The password that opens the PFX: the given one, else an empty one."""
    verdict = check_mac(pfx, given)
    if verdict is MacCheck.MISMATCH and given and check_mac(pfx, None) is MacCheck.OK:
        return None, MacCheck.OK  # a password given to an unprotected file: ignore it
    return given, verdict


class TooManyCertificates(Exception):
    """More certificate bags than the caps allow, counted before any was parsed."""

    def __init__(self, count: int) -> None:
        super().__init__(count)
        self.count = count


def _walk(pfx: asn1_pkcs12.Pfx, password: bytes | None, room: int) -> _Walk:
    walk = _Walk(room=room)
    for info in pfx.authenticated_safe:
        if info["content_type"].native == "data":
            _bags(walk, info["content"].native, password)
            continue
        opened = _open_block(info, password)
        if opened is None:  # a cipher we do not decrypt, or the password is wrong
            walk.keyless.append(info)
        else:  # every bag inside is read like the others: a key's cost is checked
            walk.opened += 1
            _bags(walk, opened, password)
    return walk


def _bags(walk: _Walk, safe_contents: bytes, password: bytes | None) -> None:
    bags = asn1_pkcs12.SafeContents.load(safe_contents)
    walk.cert_bags += sum(1 for bag in bags if bag["bag_id"].native == "cert_bag")
    if walk.cert_bags > walk.room:
        raise TooManyCertificates(walk.cert_bags)
    for bag in bags:
        bag_id = bag["bag_id"].native
        if bag_id == "cert_bag":
            _cert_bag(walk, bag)
        elif bag_id == "key_bag":
            walk.keys.append(load_der_key(ber_to_der(bag["bag_value"].untag().dump()), None))
        elif bag_id == "pkcs8_shrouded_key_bag":
            _shrouded_key(walk, ber_to_der(bag["bag_value"].untag().dump()), password)


def _open_block(info: cms.ContentInfo, password: bytes | None) -> bytes | None:
    """The SafeContents inside an EncryptedData block, decrypted by us; None if we cannot.

    Whatever it holds is then read by `_bags`: a key bag inside has its KDF cost checked
    before anything derives it, which handing the block to OpenSSL would not allow.
    """
    if info["content_type"].native != "encrypted_data":
        return None
    content = info["content"]["encrypted_content_info"]
    ciphertext = content["encrypted_content"].native
    for plain in decrypt(content["content_encryption_algorithm"], ciphertext, password):
        try:
            bags = asn1_pkcs12.SafeContents.load(plain, strict=True)
            bags.native  # noqa: B018 - parse it all: a lucky padding is not a SafeContents
        except Exception:
            continue
        return plain
    return None


def _shrouded_key(walk: _Walk, der: bytes, password: bytes | None) -> None:
    if password:
        loaded = load_der_key(der, password)
        walk.opened += loaded.status is KeyStatus.LOADED
        walk.keys.append(loaded)
        return
    for candidate in decrypt_empty_password(der):  # cryptography refuses b"" passwords
        loaded = load_der_key(candidate, None)
        if loaded.status is KeyStatus.LOADED:
            walk.keys.append(loaded)
            return
    walk.locked_keys += 1


def _cert_bag(walk: _Walk, bag: asn1_pkcs12.SafeBag) -> None:
    value = bag["bag_value"]
    if value["cert_id"].native != "x509":
        return
    der = ber_to_der(bytes(value["cert_value"]))  # the octets, chunked (BER) or not
    walk.certificates.append(x509.load_der_x509_certificate(der))


def _take_keys(outcome: FileOutcome, loads: list[KeyLoad], given: bytes | None) -> bool:
    """Add the loaded keys; False (stop) when one could not be opened."""
    for loaded in loads:
        if loaded.status is KeyStatus.LOADED and loaded.key is not None:
            outcome.add_key(loaded.key)
            continue
        outcome.saw_key = True
        status = loaded.status
        if status is KeyStatus.INVALID and given:
            status = KeyStatus.WRONG_PASSWORD  # no MAC to ask: the key did not decrypt
        code, message = key_problem(status, "the private key in this PKCS#12 file", loaded.refusal)
        outcome.add_finding(code, message)
        return False
    return True


def _load_keyless(
    outcome: FileOutcome,
    walk: _Walk,
    password: bytes | None,
    given: bytes | None,
    verified: bool,
) -> None:
    """Decrypt the certificates through OpenSSL without handing it any key."""
    try:
        loaded = pkcs12.load_pkcs12(build_pfx(walk.keyless, password), password)
    except Exception:
        if _is_large(outcome.keys):
            outcome.add_finding(
                "unrecognized_file",
                "the certificates in this PKCS#12 file could not be decrypted; its key was read",
                severity=Severity.WARNING,
            )
            return
        _failed(outcome, given, verified)
        return
    _take_loaded(outcome, loaded)


def _load_whole(
    outcome: FileOutcome,
    data: bytes,
    password: bytes | None,
    given: bytes | None,
    verified: bool,
) -> None:
    """The rare case OpenSSL must read whole (it validates the key: slow for large ones)."""
    try:
        loaded = pkcs12.load_pkcs12(data, password)
    except Exception:
        _failed(outcome, given, verified)
        return
    outcome.certificates.clear()  # load_pkcs12 returns every certificate again
    _take_loaded(outcome, loaded)


def _take_loaded(outcome: FileOutcome, loaded: pkcs12.PKCS12KeyAndCertificates) -> None:
    certs = ([loaded.cert] if loaded.cert else []) + list(loaded.additional_certs)
    if outcome.admit(len(certs)):  # blocks only OpenSSL could open: counted afterwards
        outcome.certificates.extend(item.certificate for item in certs)
    if loaded.key is not None:
        outcome.add_key(loaded.key)


def _failed(outcome: FileOutcome, given: bytes | None, verified: bool) -> None:
    """OpenSSL refused the file: damaged if the MAC proved the password, else the password."""
    if verified:
        outcome.add_finding("unrecognized_file", "this PKCS#12 file is damaged")
    else:
        _password_problem(outcome, given)


def _password_problem(outcome: FileOutcome, given: bytes | None) -> None:
    if given:
        outcome.add_finding("wrong_password", "the password does not open this PKCS#12 file")
    else:
        outcome.add_finding(
            "password_required", "this PKCS#12 file is protected and no password was given"
        )


def _is_large(keys: list[PrivateKeyTypes]) -> bool:
    return any(isinstance(k, rsa.RSAPrivateKey) and k.key_size > LARGEST_KEY_BITS for k in keys)
