"""Building the chain from uploaded certificates: order, duplicates, extras, missing
issuers, private roots, trusted roots (cryptography-made PKI)."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from bot.pipeline.chain import ChainResult, build_chain, signed_by
from bot.pipeline.findings import Severity
from bot.pipeline.trust import TrustStore
from tests.support.pki import CA, NOW, ec_key, self_signed_leaf


@pytest.fixture(scope="module")
def pki() -> dict[str, CA]:
    root = CA.root("Build Root", key=ec_key("P-256", 101))
    inter = root.intermediate(
        "Build Intermediate", key=ec_key("P-256", 102), aia_url="http://ca.example/root.cer"
    )
    sub = inter.intermediate("Build Sub CA", key=ec_key("P-256", 103))
    return {"root": root, "inter": inter, "sub": sub}


def codes(result: ChainResult) -> list[str]:
    return [f.code for f in result.findings]


def subjects(result: ChainResult) -> list[str]:
    return [link.cert.subject.rfc4514_string() for link in result.links]


def only_roots(*cas: CA) -> TrustStore:
    return TrustStore([ca.cert for ca in cas], include_certifi=False)


def test_ordered_chain_is_trusted_without_findings(pki: dict[str, CA]) -> None:
    leaf = pki["inter"].leaf(sans=["ordered.example.com"])
    result = build_chain(
        leaf.cert, [pki["inter"].cert], trust=TrustStore([pki["root"].cert]), now=NOW
    )
    assert result.findings == []
    assert result.trusted and result.anchor == "trust_store"
    assert [link.cert for link in result.links] == [leaf.cert, pki["inter"].cert, pki["root"].cert]
    assert [link.source for link in result.links] == ["uploaded", "uploaded", "trust_store"]
    assert result.served_chain() == [leaf.cert, pki["inter"].cert]


def test_shuffled_chain_is_put_in_order(pki: dict[str, CA]) -> None:
    leaf = pki["sub"].leaf(sans=["shuffled.example.com"])
    uploaded = [pki["root"].cert, pki["inter"].cert, pki["sub"].cert]  # upside down
    result = build_chain(leaf.cert, uploaded, trust=only_roots(pki["root"]), now=NOW)
    assert [link.cert for link in result.links] == [
        leaf.cert,
        pki["sub"].cert,
        pki["inter"].cert,
        pki["root"].cert,
    ]
    assert codes(result) == ["chain_order"]
    order = result.findings[0]
    assert order.severity is Severity.WARNING
    assert "put in order" in order.message
    assert order.message.index("Build Sub CA") < order.message.index("Build Intermediate")
    assert result.trusted


def test_leaf_not_first_is_an_order_change(pki: dict[str, CA]) -> None:
    leaf = pki["inter"].leaf(sans=["late.example.com"])
    result = build_chain(
        leaf.cert,
        [pki["inter"].cert],
        trust=only_roots(pki["root"]),
        now=NOW,
        leaf_is_first=False,
    )
    assert codes(result) == ["chain_order"]


def test_duplicates_are_dropped_and_named(pki: dict[str, CA]) -> None:
    leaf = pki["inter"].leaf(sans=["dup.example.com"])
    uploaded = [pki["inter"].cert, leaf.cert, pki["inter"].cert, pki["inter"].cert]
    result = build_chain(leaf.cert, uploaded, trust=only_roots(pki["root"]), now=NOW)
    assert codes(result) == ["chain_duplicate"]
    message = result.findings[0].message
    assert "Build Intermediate” (2 copies)" in message
    assert "dup.example.com" in message  # the leaf's second copy
    assert [link.cert for link in result.links] == [leaf.cert, pki["inter"].cert, pki["root"].cert]


def test_unrelated_certificates_are_dropped_and_named(pki: dict[str, CA]) -> None:
    other = CA.root("Unrelated Root", key=ec_key("P-256", 110))
    other_leaf = other.leaf(sans=["elsewhere.example.org"])
    leaf = pki["inter"].leaf(sans=["extra.example.com"])
    result = build_chain(
        leaf.cert,
        [other_leaf.cert, pki["inter"].cert, other.cert],
        trust=only_roots(pki["root"]),
        now=NOW,
    )
    assert codes(result) == ["chain_extra_certificates"]
    message = result.findings[0].message
    assert "Unrelated Root" in message and "elsewhere.example.org" in message
    assert result.trusted and len(result.links) == 3


def test_missing_intermediate_names_the_issuer_and_its_aia_url(pki: dict[str, CA]) -> None:
    leaf = pki["sub"].leaf(sans=["gap.example.com"])
    # The sub CA is uploaded, its issuer (the intermediate) is not.
    result = build_chain(leaf.cert, [pki["sub"].cert], trust=only_roots(pki["root"]), now=NOW)
    assert not result.trusted and result.anchor == "none"
    assert codes(result) == ["chain_incomplete"]
    incomplete = result.findings[0]
    assert incomplete.severity is Severity.ERROR
    assert "CN=Build Intermediate" in incomplete.message
    assert [link.cert for link in result.links] == [leaf.cert, pki["sub"].cert]

    # The intermediate names its own issuer's URL: a missing root is named with it.
    untrusted = build_chain(
        leaf.cert, [pki["sub"].cert, pki["inter"].cert], trust=only_roots(), now=NOW
    )
    assert codes(untrusted) == ["chain_incomplete"]
    assert "CN=Build Root" in untrusted.findings[0].message
    assert "http://ca.example/root.cer" in untrusted.findings[0].message
    assert "http://ca.example/root.cer" in untrusted.findings[0].hint


def test_missing_issuer_of_the_leaf_with_its_aia_url(pki: dict[str, CA]) -> None:
    leaf = pki["inter"].leaf(sans=["alone.example.com"], aia_url="http://ca.example/int.der")
    result = build_chain(leaf.cert, [], trust=only_roots(pki["root"]), now=NOW)
    assert codes(result) == ["chain_incomplete"]
    message = result.findings[0].message
    assert "O=certops tests,CN=Build Intermediate" in message
    assert "http://ca.example/int.der" in message


def test_uploaded_private_root_anchors_the_chain_with_a_warning(pki: dict[str, CA]) -> None:
    leaf = pki["inter"].leaf(sans=["private.example.com"])
    result = build_chain(
        leaf.cert, [pki["root"].cert, pki["inter"].cert], trust=only_roots(), now=NOW
    )
    assert result.trusted and result.anchor == "private_root"
    assert [f.code for f in result.findings if f.code != "chain_order"] == ["private_root"]
    assert result.findings[-1].severity is Severity.WARNING
    assert "Build Root" in next(f.message for f in result.findings if f.code == "private_root")
    assert result.links[-1].cert == pki["root"].cert
    assert result.served_chain() == [leaf.cert, pki["inter"].cert]  # no root served


def test_leaf_issued_directly_by_a_trusted_root(pki: dict[str, CA]) -> None:
    leaf = pki["root"].leaf(sans=["direct.example.com"])
    result = build_chain(leaf.cert, [], trust=TrustStore([pki["root"].cert]), now=NOW)
    assert result.findings == [] and result.trusted
    assert [link.source for link in result.links] == ["uploaded", "trust_store"]


def test_uploaded_copy_of_a_trusted_root_is_used_not_dropped(pki: dict[str, CA]) -> None:
    leaf = pki["inter"].leaf(sans=["withroot.example.com"])
    result = build_chain(
        leaf.cert, [pki["inter"].cert, pki["root"].cert], trust=only_roots(pki["root"]), now=NOW
    )
    assert result.findings == []
    assert result.anchor == "trust_store" and result.trusted
    assert result.links[-1].source == "uploaded"


def test_same_name_other_key_is_explained_not_called_extra(pki: dict[str, CA]) -> None:
    impostor = pki["root"].intermediate("Build Intermediate", key=ec_key("P-256", 120))
    leaf = pki["inter"].leaf(sans=["renewed.example.com"])
    result = build_chain(leaf.cert, [impostor.cert], trust=only_roots(pki["root"]), now=NOW)
    assert codes(result) == ["chain_incomplete"]
    assert "did not sign" in result.findings[0].message
    assert "older or newer version" in result.findings[0].message


def test_tampered_signature_is_a_bad_signature(pki: dict[str, CA]) -> None:
    leaf = pki["inter"].leaf(sans=["tampered.example.com"])
    der = bytearray(leaf.cert.public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0x01  # inside the signature value
    tampered = x509.load_der_x509_certificate(bytes(der))
    assert not signed_by(tampered, pki["inter"].cert)
    result = build_chain(tampered, [pki["inter"].cert], trust=only_roots(pki["root"]), now=NOW)
    assert not result.trusted
    assert codes(result) == ["chain_invalid"]
    assert "Bad signature" in result.findings[0].message


def test_backtracks_from_a_dead_end_to_the_trusted_path() -> None:
    trusted_root = CA.root("Cross Trusted Root", key=ec_key("P-256", 130))
    old_root = CA.root("Cross Old Root", key=ec_key("P-256", 131))
    shared = ec_key("P-256", 132)
    via_old = old_root.intermediate("Cross Intermediate", key=shared)
    via_trusted = trusted_root.intermediate("Cross Intermediate", key=shared)
    leaf = via_trusted.leaf(sans=["cross.example.com"])
    result = build_chain(
        leaf.cert,
        [via_old.cert, via_trusted.cert],  # the dead end first
        trust=only_roots(trusted_root),
        now=NOW,
    )
    assert result.trusted
    assert [link.cert for link in result.links] == [leaf.cert, via_trusted.cert, trusted_root.cert]
    assert codes(result) == ["chain_extra_certificates"]


def test_cross_signed_copy_of_a_trusted_root_is_not_needed() -> None:
    root = CA.root("Rollover Root", key=ec_key("P-256", 140))
    old = CA.root("Rollover Old Root", key=ec_key("P-256", 141))
    cross = old.intermediate("Rollover Root", key=root.key)  # same subject and key as root
    inter = root.intermediate("Rollover Intermediate", key=ec_key("P-256", 142))
    leaf = inter.leaf(sans=["rollover.example.com"])
    result = build_chain(leaf.cert, [inter.cert, cross.cert], trust=only_roots(root), now=NOW)
    assert result.trusted
    assert result.links[-1].cert == root.cert and result.links[-1].source == "trust_store"
    assert codes(result) == ["chain_extra_certificates"]
    assert "another version of the CA the chain ends at" in result.findings[0].message


def test_self_signed_leaf_has_no_chain_and_no_chain_finding() -> None:
    leaf = self_signed_leaf(["self.example.com"])
    result = build_chain(leaf.cert, [], trust=only_roots(), now=NOW)
    assert result.findings == [] and not result.trusted
    assert [link.cert for link in result.links] == [leaf.cert]


def test_public_roots_are_looked_up_in_certifi(pki: dict[str, CA]) -> None:
    """A chain ending at our test root is not trusted by certifi alone."""
    leaf = pki["inter"].leaf(sans=["public.example.com"])
    result = build_chain(leaf.cert, [pki["inter"].cert], trust=TrustStore(), now=NOW)
    assert codes(result) == ["chain_incomplete"]
    assert "CN=Build Root" in result.findings[0].message


def test_naive_now_is_taken_as_utc(pki: dict[str, CA]) -> None:
    leaf = pki["inter"].leaf(sans=["naive.example.com"])
    result = build_chain(
        leaf.cert,
        [pki["inter"].cert],
        trust=only_roots(pki["root"]),
        now=NOW.replace(tzinfo=None),
    )
    assert result.trusted and result.findings == []


def test_a_whole_ca_bundle_as_candidates_is_cheap_and_summarised(pki: dict[str, CA]) -> None:
    """People upload their CA's entire bundle: extras are counted past ten names."""
    from bot.pipeline.trust import certifi_roots

    bundle = list(certifi_roots())
    leaf = pki["inter"].leaf(sans=["bundle.example.com"])
    result = build_chain(
        leaf.cert, [*bundle, pki["inter"].cert], trust=only_roots(pki["root"]), now=NOW
    )
    assert result.trusted
    assert codes(result) == ["chain_extra_certificates"]
    assert f"and {len(bundle) - 10} more" in result.findings[0].message


def test_a_crafted_maze_of_same_named_cas_is_cut_short() -> None:
    """Certificates that all name each other as issuer (two keys, alternating) would
    make an unbounded search explode; the step budget ends it with chain_incomplete."""
    import time

    key_a, key_b = ec_key("P-256", 150), ec_key("P-256", 151)
    signer_a = CA.root("Maze", key=key_a)  # "Maze" signing with key A (not uploaded)
    signer_b = CA.root("Maze", key=key_b)  # "Maze" signing with key B (not uploaded)
    maze: list[x509.Certificate] = []
    for _ in range(8):
        # subject Maze/key A signed by key B, and subject Maze/key B signed by key A
        maze.append(signer_b.intermediate("Maze", key=key_a).cert)
        maze.append(signer_a.intermediate("Maze", key=key_b).cert)
    leaf = signer_a.leaf(sans=["maze.example.com"])
    started = time.monotonic()
    result = build_chain(leaf.cert, maze, trust=only_roots(), now=NOW)
    assert time.monotonic() - started < 2.0
    assert not result.trusted
    assert "chain_incomplete" in codes(result)


def test_self_signed_leaf_in_the_trust_store_is_not_its_own_chain() -> None:
    leaf = self_signed_leaf(["pinned.example.com"])
    result = build_chain(
        leaf.cert, [], trust=TrustStore([leaf.cert], include_certifi=False), now=NOW
    )
    assert [link.cert for link in result.links] == [leaf.cert]
    assert result.findings == []
