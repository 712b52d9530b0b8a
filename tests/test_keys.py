"""Key policy, key/certificate matching and the possession probe (bot/pipeline/keys.py)."""

from __future__ import annotations

import functools

import pytest
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa

from bot.pipeline.findings import Severity
from bot.pipeline.keys import (
    KeyDescription,
    describe_public_key,
    key_fits_certificate,
    key_policy_finding,
    match_key,
    possession_probe,
)
from bot.pipeline.material import SourcedKey
from tests.support.pki import CA, ec_key, rsa_key


@functools.cache
def _dsa_key() -> dsa.DSAPrivateKey:
    return dsa.generate_private_key(1024)


@pytest.fixture(scope="module")
def ca() -> CA:
    return CA.root("Keys Root").intermediate("Keys Inter")


@pytest.mark.parametrize(
    ("key", "code"),
    [
        (lambda: rsa_key(2048), None),
        (lambda: rsa_key(3072), None),
        (lambda: ec_key("P-256"), None),
        (lambda: ec_key("P-384"), None),
        (lambda: rsa_key(1024), "key_too_small"),
        (lambda: ec_key("P-521"), "unsupported_key_type"),
        (ed25519.Ed25519PrivateKey.generate, "unsupported_key_type"),
        (_dsa_key, "unsupported_key_type"),
    ],
    ids=["rsa2048", "rsa3072", "p256", "p384", "rsa1024", "p521", "ed25519", "dsa"],
)
def test_policy(key: object, code: str | None) -> None:
    description = describe_public_key(key().public_key())  # type: ignore[operator]
    found = key_policy_finding(description, "The certificate 'x'")
    assert (found.code if found else None) == code
    if found:
        assert found.severity is Severity.ERROR
        assert description.label in found.message


def test_policy_rsa_over_4096_is_too_large_and_4096_passes() -> None:
    assert key_policy_finding(KeyDescription("RSA", 4096), "k") is None
    found = key_policy_finding(KeyDescription("RSA", 4097), "k")
    assert found is not None and found.code == "key_too_large"
    assert "4097" in found.message and "4096" in found.message


def test_descriptions() -> None:
    assert describe_public_key(rsa_key(2048).public_key()) == KeyDescription("RSA", 2048)
    assert describe_public_key(ec_key("P-384").public_key()) == KeyDescription(
        "ECDSA", 384, "P-384"
    )
    assert describe_public_key(ed25519.Ed25519PrivateKey.generate().public_key()).type == "Ed25519"


def test_fits_by_public_key(ca: CA) -> None:
    leaf = ca.leaf(key=rsa_key(2048))
    assert key_fits_certificate(leaf.cert, rsa_key(2048))
    assert not key_fits_certificate(leaf.cert, rsa_key(2048, index=1))
    assert not key_fits_certificate(leaf.cert, ec_key("P-256", index=7))


def test_probe_passes_for_sound_keys(ca: CA) -> None:
    for key in (rsa_key(2048), ec_key("P-256", index=3), ec_key("P-384")):
        leaf = ca.leaf(key=key)
        assert possession_probe(key, leaf.cert.public_key())


def test_probe_fails_for_a_damaged_key_with_the_right_public_half(ca: CA) -> None:
    """A key whose private exponent is wrong but whose public half was kept: equality with
    the certificate holds, the probe does not."""
    good = rsa_key(2048)
    leaf = ca.leaf(key=good)
    nums = good.private_numbers()
    broken = rsa.RSAPrivateNumbers(
        p=nums.p,
        q=nums.q,
        d=nums.d + 2,
        dmp1=nums.dmp1 ^ 0x10,
        dmq1=nums.dmq1 ^ 0x10,
        iqmp=nums.iqmp,
        public_numbers=nums.public_numbers,
    ).private_key(unsafe_skip_rsa_key_validation=True)
    assert key_fits_certificate(leaf.cert, broken)
    assert not possession_probe(broken, leaf.cert.public_key())
    match = match_key(
        leaf.cert, [SourcedKey(broken, "bad.key")], leaf_label="L", key_policy_ok=True
    )
    assert [f.code for f in match.findings] == ["key_mismatch"]
    assert "damaged" in match.findings[0].message


def test_match_key_outcomes(ca: CA) -> None:
    leaf = ca.leaf(key=rsa_key(2048))
    mine, other = SourcedKey(rsa_key(2048), "key.pem"), SourcedKey(rsa_key(2048, 1), "old.key")

    ok = match_key(leaf.cert, [mine], leaf_label="L", key_policy_ok=True)
    assert ok.key is mine and ok.findings == []

    wrong = match_key(leaf.cert, [other], leaf_label="the certificate 'L'", key_policy_ok=True)
    assert wrong.key is None and [f.code for f in wrong.findings] == ["key_mismatch"]
    assert "old.key" in wrong.findings[0].message and "'L'" in wrong.findings[0].message

    extra = match_key(leaf.cert, [other, mine], leaf_label="L", key_policy_ok=True)
    assert extra.key is mine
    assert [(f.code, f.severity) for f in extra.findings] == [("key_mismatch", Severity.WARNING)]

    none = match_key(leaf.cert, [], leaf_label="L", key_policy_ok=True)
    assert [f.code for f in none.findings] == ["no_private_key"]

    misplaced = match_key(
        leaf.cert, [], leaf_label="L", key_policy_ok=True, misplaced_certificates=["key.pem"]
    )
    assert "key.pem holds a certificate" in misplaced.findings[0].message


def test_probe_skipped_when_policy_failed(ca: CA) -> None:
    """With key_policy_ok=False (an 8192-bit key, say) no private-key operation runs:
    matching is public-key equality only, so even a damaged key raises nothing more."""
    good = rsa_key(2048)
    leaf = ca.leaf(key=good)
    nums = good.private_numbers()
    broken = rsa.RSAPrivateNumbers(
        p=nums.p,
        q=nums.q,
        d=nums.d + 2,
        dmp1=nums.dmp1 ^ 0x10,
        dmq1=nums.dmq1 ^ 0x10,
        iqmp=nums.iqmp,
        public_numbers=nums.public_numbers,
    ).private_key(unsafe_skip_rsa_key_validation=True)
    match = match_key(leaf.cert, [SourcedKey(broken, "k.pem")], leaf_label="L", key_policy_ok=False)
    assert match.key is not None and match.findings == []


def test_ec_key_on_other_curve_does_not_fit(ca: CA) -> None:
    leaf = ca.leaf(key=ec_key("P-256", index=11))
    assert not key_fits_certificate(leaf.cert, ec.generate_private_key(ec.SECP384R1()))
