"""Verifying the path found: CA rules are enforced, leaf-only problems are let through
(the leaf checks report those)."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID

from bot.pipeline.chain import ChainResult, build_chain
from bot.pipeline.trust import TrustStore
from tests.support.pki import CA, NOW, Issued, ec_key, name


@pytest.fixture(scope="module")
def root() -> CA:
    return CA.root("Verify Root", key=ec_key("P-256", 201))


@pytest.fixture(scope="module")
def inter(root: CA) -> CA:
    return root.intermediate("Verify Intermediate", key=ec_key("P-256", 202))


def codes(result: ChainResult) -> list[str]:
    return [f.code for f in result.findings]


def chain(leaf: Issued, *cas: CA, roots: tuple[CA, ...]) -> ChainResult:
    trust = TrustStore([r.cert for r in roots], include_certifi=False)
    return build_chain(leaf.cert, [ca.cert for ca in cas], trust=trust, now=NOW)


def custom_ca(
    parent: CA,
    cn: str,
    *,
    key_usage: bool = True,
    eku: list[x509.ObjectIdentifier] | None = None,
    index: int,
) -> CA:
    """An intermediate with extensions tests/support/pki.py does not offer."""
    key = ec_key("P-256", index)
    builder = (
        parent._builder(
            name(cn), key.public_key(), NOW - dt.timedelta(days=10), NOW + dt.timedelta(days=400)
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if key_usage:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    return CA(Issued(builder.sign(parent.key, hashes.SHA256()), key))


# --- the CA side is checked strictly -------------------------------------------------------


def test_intermediate_without_ca_true_is_invalid(root: CA) -> None:
    not_ca = root.intermediate("Not A CA", key=ec_key("P-256", 210), ca=False)
    leaf = not_ca.leaf(sans=["notca.example.com"])
    result = chain(leaf, not_ca, roots=(root,))
    assert not result.trusted
    assert codes(result) == ["chain_invalid"]
    assert "“Not A CA” issued “notca.example.com” but is not a CA" in result.findings[0].message


def test_path_length_exceeded_at_the_root() -> None:
    strict_root = CA.root("PathLen Root", key=ec_key("P-256", 211), path_len=0)
    first = strict_root.intermediate("PathLen First", key=ec_key("P-256", 212))
    leaf = first.leaf(sans=["pathlen.example.com"])
    result = chain(leaf, first, roots=(strict_root,))
    assert not result.trusted
    assert codes(result) == ["chain_invalid"]
    message = result.findings[0].message
    assert "Path length exceeded" in message and "PathLen Root" in message


def test_path_length_exceeded_at_an_intermediate(root: CA) -> None:
    capped = root.intermediate("Capped Intermediate", key=ec_key("P-256", 213), path_len=0)
    below = capped.intermediate("Below Capped", key=ec_key("P-256", 214))
    leaf = below.leaf(sans=["deep.example.com"])
    result = chain(leaf, below, capped, roots=(root,))
    assert codes(result) == ["chain_invalid"]
    assert "Capped Intermediate" in result.findings[0].message
    assert "Below Capped" in result.findings[0].message


def test_path_length_respected_is_fine(root: CA) -> None:
    capped = root.intermediate("Capped Zero", key=ec_key("P-256", 215), path_len=0)
    leaf = capped.leaf(sans=["shallow.example.com"])
    result = chain(leaf, capped, roots=(root,))
    assert result.trusted and result.findings == []


def test_name_constraints_violated() -> None:
    constrained = CA.root(
        "Constrained Root", key=ec_key("P-256", 216), permitted_dns=["example.org"]
    )
    inter = constrained.intermediate("Constrained Intermediate", key=ec_key("P-256", 217))
    leaf = inter.leaf(sans=["app.example.com"])
    result = chain(leaf, inter, roots=(constrained,))
    assert not result.trusted
    assert codes(result) == ["chain_invalid"]
    message = result.findings[0].message
    assert "Name constraints violated" in message
    assert "app.example.com" in message and "Constrained Root" in message
    assert "permitted: example.org" in message


def test_name_constraints_respected_is_fine() -> None:
    constrained = CA.root(
        "Permitting Root", key=ec_key("P-256", 218), permitted_dns=["example.com"]
    )
    inter = constrained.intermediate("Permitting Intermediate", key=ec_key("P-256", 219))
    leaf = inter.leaf(sans=["app.example.com"])
    result = chain(leaf, inter, roots=(constrained,))
    assert result.trusted and result.findings == []


def test_expired_intermediate_is_invalid(root: CA) -> None:
    expired = root.intermediate(
        "Expired Intermediate",
        key=ec_key("P-256", 220),
        not_after=NOW - dt.timedelta(days=2),
    )
    leaf = expired.leaf(sans=["old.example.com"])
    result = chain(leaf, expired, roots=(root,))
    assert not result.trusted
    assert codes(result) == ["chain_invalid"]
    expected_day = (NOW - dt.timedelta(days=2)).strftime("%Y-%m-%d")
    assert f"“Expired Intermediate” expired on {expected_day}" in result.findings[0].message


def test_expired_extra_root_is_invalid() -> None:
    old_root = CA.root(
        "Expired Root", key=ec_key("P-256", 221), not_after=NOW - dt.timedelta(days=1)
    )
    inter = old_root.intermediate("Under Expired Root", key=ec_key("P-256", 222))
    leaf = inter.leaf(sans=["x.example.com"])
    result = chain(leaf, inter, roots=(old_root,))
    assert codes(result) == ["chain_invalid"]
    assert "root “Expired Root” expired" in result.findings[0].message


def test_ca_restricted_to_client_auth_cannot_issue_server_certificates(root: CA) -> None:
    client_ca = custom_ca(root, "Client Only CA", eku=[ExtendedKeyUsageOID.CLIENT_AUTH], index=223)
    leaf = client_ca.leaf(sans=["client.example.com"])
    result = chain(leaf, client_ca, roots=(root,))
    assert not result.trusted
    assert codes(result) == ["chain_invalid"]
    assert "serverAuth" in result.findings[0].message
    assert "Client Only CA" in result.findings[0].message


def test_ca_restricted_to_server_auth_is_fine(root: CA) -> None:
    server_ca = custom_ca(root, "Server Only CA", eku=[ExtendedKeyUsageOID.SERVER_AUTH], index=224)
    leaf = server_ca.leaf(sans=["server.example.com"])
    assert chain(leaf, server_ca, roots=(root,)).trusted


def test_ca_without_key_usage_is_accepted_like_browsers_do(root: CA) -> None:
    """RFC 5280 and browsers require keyCertSign only when keyUsage is present."""
    no_ku = custom_ca(root, "No KeyUsage CA", key_usage=False, index=225)
    leaf = no_ku.leaf(sans=["noku.example.com"])
    result = chain(leaf, no_ku, roots=(root,))
    assert result.trusted and result.findings == []


def test_ca_with_key_usage_but_no_cert_sign_is_invalid(root: CA) -> None:
    key = ec_key("P-256", 229)
    builder = (
        root._builder(
            name("Sign-Less CA"),
            key.public_key(),
            NOW - dt.timedelta(days=1),
            NOW + dt.timedelta(days=99),
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(  # digitalSignature only
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
    )
    sign_less = CA(Issued(builder.sign(root.key, hashes.SHA256()), key))
    leaf = sign_less.leaf(sans=["signless.example.com"])
    result = chain(leaf, sign_less, roots=(root,))
    assert not result.trusted
    assert codes(result) == ["chain_invalid"]
    assert "keyCertSign" in result.findings[0].message
    assert "Sign-Less CA" in result.findings[0].message


def test_private_root_without_key_usage_like_openssl_req_x509_makes(root: CA) -> None:
    key = ec_key("P-256", 230)
    subject = name("Bare Private Root")
    bare = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(77)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=999))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    bare_ca = CA(Issued(bare, key))
    inter = bare_ca.intermediate("Under Bare Root", key=ec_key("P-256", 231))
    leaf = inter.leaf(sans=["bare.example.com"])
    uploaded = build_chain(
        leaf.cert, [inter.cert, bare], trust=TrustStore([], include_certifi=False), now=NOW
    )
    assert uploaded.trusted and codes(uploaded) == ["private_root"]
    in_store = chain(leaf, inter, roots=(bare_ca,))
    assert in_store.trusted and in_store.findings == []


# --- leaf-only problems do not break the chain ------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"critical_san": True}, id="critical-san"),
        pytest.param({"eku": [ExtendedKeyUsageOID.CLIENT_AUTH]}, id="client-auth-only"),
        pytest.param({"eku": []}, id="no-eku"),
        pytest.param({"include_san": False}, id="no-san"),
        pytest.param({"sans": ["*.example.com"]}, id="wildcard-only"),
        pytest.param({"not_before": NOW - dt.timedelta(days=400), "days": 90}, id="expired"),
        pytest.param({"not_before": NOW + dt.timedelta(days=10)}, id="not-yet-valid"),
        pytest.param({"ca": True}, id="leaf-with-ca-true"),
    ],
)
def test_leaf_problems_still_give_a_trusted_chain(
    root: CA, inter: CA, kwargs: dict[str, object]
) -> None:
    leaf = inter.leaf(**kwargs)  # type: ignore[arg-type]
    result = chain(leaf, inter, roots=(root,))
    assert result.findings == []
    assert result.trusted


def test_leaf_problems_do_not_hide_a_ca_problem(root: CA) -> None:
    """The client-mode fallback (no SAN) still checks the CA side."""
    not_ca = root.intermediate("Hidden Not CA", key=ec_key("P-256", 226), ca=False)
    leaf = not_ca.leaf(include_san=False)
    result = chain(leaf, not_ca, roots=(root,))
    assert codes(result) == ["chain_invalid"]
    constrained = CA.root("NoSAN Constrained", key=ec_key("P-256", 227), permitted_dns=["a.test"])
    inter = constrained.intermediate("NoSAN Inter", key=ec_key("P-256", 228))
    expired_leaf = inter.leaf(
        sans=["app.example.com"], not_before=NOW - dt.timedelta(days=300), days=30
    )
    result = chain(expired_leaf, inter, roots=(constrained,))
    assert codes(result) == ["chain_invalid"]
    assert "Name constraints violated" in result.findings[0].message


def test_ed25519_ca_is_named_for_its_signature_algorithm(root: CA) -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    ed_ca = root.intermediate("Ed25519 CA", key=ed25519.Ed25519PrivateKey.generate())
    leaf = ed_ca.leaf(sans=["ed.example.com"])
    result = chain(leaf, ed_ca, roots=(root,))
    assert not result.trusted
    assert codes(result) == ["chain_invalid"]
    message = result.findings[0].message
    assert "key type browsers do not accept" in message
    assert "“Ed25519 CA” (key type Ed25519)" in message


def test_sha224_signed_intermediate_is_named(root: CA) -> None:
    odd = root.intermediate("SHA224 CA", key=ec_key("P-256", 232), hash_alg=hashes.SHA224())
    leaf = odd.leaf(sans=["sha224.example.com"])
    result = chain(leaf, odd, roots=(root,))
    assert codes(result) == ["chain_invalid"]
    assert "“SHA224 CA” is signed with ecdsa-with-SHA224" in result.findings[0].message
