"""Key policy and proof of possession.

The platform takes RSA 2048-4096 and ECDSA P-256/P-384 keys, nothing else. The readers
load private keys without OpenSSL's RSA validation (seconds for an 8192-bit key), so this
module must never need it: the policy looks only at the type and size, which costs
nothing, and possession is proved by public-key equality with the certificate followed by
a cheap probe of the private half (see `possession_probe`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificatePublicKeyTypes,
    PrivateKeyTypes,
    PublicKeyTypes,
)

from bot.pipeline.findings import Finding, Severity, finding
from bot.pipeline.material import SourcedKey

RSA_MIN_BITS = 2048
RSA_MAX_BITS = 4096
ALLOWED_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384"}
_CURVE_NAMES = {**ALLOWED_CURVES, "secp521r1": "P-521"}

_PROBE = b"certops possession probe"


@dataclass(frozen=True)
class KeyDescription:
    """What the report says about a key: `type` ("RSA", "ECDSA", ...) and `bits`."""

    type: str
    bits: int
    curve: str | None = None

    @property
    def label(self) -> str:
        if self.curve:
            return f"{self.type} {self.curve}"
        return f"{self.type} {self.bits}" if self.bits else self.type


def describe_public_key(key: PublicKeyTypes) -> KeyDescription:
    """Type and size of a public key, read from its parameters only (no validation)."""
    if isinstance(key, rsa.RSAPublicKey):
        return KeyDescription("RSA", key.key_size)
    if isinstance(key, ec.EllipticCurvePublicKey):
        name = key.curve.name
        return KeyDescription("ECDSA", key.curve.key_size, _CURVE_NAMES.get(name, name))
    if isinstance(key, ed25519.Ed25519PublicKey):
        return KeyDescription("Ed25519", 256)
    if isinstance(key, ed448.Ed448PublicKey):
        return KeyDescription("Ed448", 456)
    if isinstance(key, dsa.DSAPublicKey):
        return KeyDescription("DSA", key.key_size)
    return KeyDescription(type(key).__name__.replace("PublicKey", "") or "unknown", 0)


def describe_certificate_key(cert: x509.Certificate) -> KeyDescription:
    """Like describe_public_key, tolerating algorithms cryptography cannot load (GOST...)."""
    try:
        return describe_public_key(cert.public_key())
    except (UnsupportedAlgorithm, ValueError):
        return KeyDescription(f"unknown ({cert.public_key_algorithm_oid.dotted_string})", 0)


def key_policy_finding(key: KeyDescription, where: str) -> Finding | None:
    """The platform's key rule, or None when the key is acceptable.

    `where` names the holder in the message ("the certificate CN=app.example.com").
    """
    if key.type == "RSA":
        if key.bits > RSA_MAX_BITS:
            return finding(
                "key_too_large",
                f"{where} has an RSA {key.bits}-bit key; the platform accepts at most "
                f"{RSA_MAX_BITS} bits.",
            )
        if key.bits < RSA_MIN_BITS:
            return finding(
                "key_too_small",
                f"{where} has an RSA {key.bits}-bit key; at least {RSA_MIN_BITS} bits are needed.",
            )
        return None
    if key.type == "ECDSA" and key.curve in ALLOWED_CURVES.values():
        return None
    return finding(
        "unsupported_key_type",
        f"{where} has a {key.label} key; only RSA (2048-4096 bits) and ECDSA P-256/P-384 "
        "are accepted.",
    )


def _spki(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def certificate_spki(cert: x509.Certificate) -> bytes | None:
    """The certificate's SubjectPublicKeyInfo, or None when its algorithm is unknown."""
    try:
        return _spki(cert.public_key())
    except (UnsupportedAlgorithm, ValueError):
        return None


def private_key_spki(key: PrivateKeyTypes) -> bytes | None:
    try:
        return _spki(key.public_key())
    except (UnsupportedAlgorithm, ValueError, TypeError):
        return None


def key_fits_certificate(cert: x509.Certificate, key: PrivateKeyTypes) -> bool:
    """Public-key equality: the cheap test that a key belongs to a certificate."""
    cert_spki = certificate_spki(cert)
    return cert_spki is not None and cert_spki == private_key_spki(key)


def rsa_private_half_consistent(key: rsa.RSAPrivateKey) -> bool:
    """The RSA probe: the private numbers agree with the public ones.

    n = p*q, e*d = 1 modulo lcm(p-1, q-1), and the CRT values OpenSSL signs with are
    the ones d, p and q imply. A handful of big-integer multiplications (microseconds),
    where a real RSA-2048 signature costs ~0.4 ms and full validation ~50 ms (it tests p
    and q for primality). It catches what a sign/verify probe catches, and also damaged
    CRT values that OpenSSL's own fault check would silently work around.
    """
    nums = key.private_numbers()
    p, q, d = nums.p, nums.q, nums.d
    n, e = nums.public_numbers.n, nums.public_numbers.e
    if p * q != n or p < 3 or q < 3:
        return False
    lam = (p - 1) * (q - 1) // math.gcd(p - 1, q - 1)
    return (
        (e * d) % lam == 1
        and nums.dmp1 == d % (p - 1)
        and nums.dmq1 == d % (q - 1)
        and (nums.iqmp * q) % p == 1
    )


def possession_probe(key: PrivateKeyTypes, public: CertificatePublicKeyTypes) -> bool:
    """Prove that the private half works, not just that its public half was copied.

    A damaged key whose public half is intact passes the equality test and fails here;
    OpenSSL's full RSA validation is never needed. RSA keys are probed by arithmetic
    (see `rsa_private_half_consistent`), ECDSA and Ed25519 keys by signing a fixed
    message and verifying it with the certificate's key (~50 microseconds). Returns False
    for key types the platform rejects anyway, so callers check the policy first.
    """
    try:
        if isinstance(key, rsa.RSAPrivateKey) and isinstance(public, rsa.RSAPublicKey):
            return (
                key.public_key().public_numbers() == public.public_numbers()
                and rsa_private_half_consistent(key)
            )
        if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(
            public, ec.EllipticCurvePublicKey
        ):
            sig = key.sign(_PROBE, ec.ECDSA(hashes.SHA256()))
            public.verify(sig, _PROBE, ec.ECDSA(hashes.SHA256()))
            return True
        if isinstance(key, ed25519.Ed25519PrivateKey) and isinstance(
            public, ed25519.Ed25519PublicKey
        ):
            public.verify(key.sign(_PROBE), _PROBE)
            return True
    except (InvalidSignature, ValueError, UnsupportedAlgorithm):
        return False
    return False


@dataclass
class KeyMatch:
    """The outcome of pairing the given keys with the chosen certificate."""

    key: SourcedKey | None
    findings: list[Finding]


def match_key(
    leaf: x509.Certificate,
    keys: Sequence[SourcedKey],
    *,
    leaf_label: str,
    key_policy_ok: bool,
    misplaced_certificates: Sequence[str] = (),
) -> KeyMatch:
    """Find the key that belongs to `leaf` and prove it works.

    `misplaced_certificates` names inputs that look like the key's place (key.pem,
    privkey.pem, a "private key" slot) but hold a certificate: the message then says so,
    since that is the usual mistake. `key_policy_ok` is False when the leaf's key already
    failed the policy: the probe is skipped (an 8192-bit key costs nothing to reject).
    """
    if not keys:
        message = "No private key was given."
        if misplaced_certificates:
            names = ", ".join(misplaced_certificates)
            message = f"No private key was given: {names} holds a certificate, not a private key."
        return KeyMatch(None, [finding("no_private_key", message)])
    fitting = [k for k in keys if key_fits_certificate(leaf, k.key)]
    others = [k for k in keys if k not in fitting]
    findings: list[Finding] = []
    if not fitting:
        sources = ", ".join(k.source for k in keys)
        return KeyMatch(
            None,
            [
                finding(
                    "key_mismatch",
                    f"The private key ({sources}) does not belong to {leaf_label}.",
                )
            ],
        )
    chosen = fitting[0]
    if key_policy_ok and not possession_probe(chosen.key, leaf.public_key()):
        findings.append(
            finding(
                "key_mismatch",
                f"The private key ({chosen.source}) has {leaf_label}'s public key but cannot "
                "sign with it: the key file is damaged.",
            )
        )
    for extra in others:
        findings.append(
            finding(
                "key_mismatch",
                f"An extra private key ({extra.source}) does not belong to {leaf_label}; "
                "it was ignored.",
                severity=Severity.WARNING,
                hint="Leave out keys that do not belong to this certificate.",
            )
        )
    return KeyMatch(chosen, findings)
