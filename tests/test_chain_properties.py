"""Property-based tests: whatever mix of certificates is uploaded, in whatever order,
build_chain returns a well-formed result and never raises."""

from __future__ import annotations

import itertools
import warnings

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.pipeline.chain import build_chain, signed_by
from bot.pipeline.findings import CATALOG
from bot.pipeline.trust import TrustStore
from tests.support.pki import CA, NOW, ec_key

ROOT = CA.root("Prop Root", key=ec_key("P-256", 701))
OTHER_ROOT = CA.root("Prop Other Root", key=ec_key("P-256", 702))
INTER = ROOT.intermediate("Prop Intermediate", key=ec_key("P-256", 703), path_len=1)
SUB = INTER.intermediate("Prop Sub", key=ec_key("P-256", 704))
CROSS = OTHER_ROOT.intermediate("Prop Intermediate", key=ec_key("P-256", 703))  # same key
NOT_CA = ROOT.intermediate("Prop Not CA", key=ec_key("P-256", 705), ca=False)
IMPOSTOR = ROOT.intermediate("Prop Sub", key=ec_key("P-256", 706))  # same name, other key
LEAVES = [
    SUB.leaf(sans=["prop.example.com"]).cert,
    INTER.leaf(sans=["*.example.com"]).cert,
    NOT_CA.leaf(sans=["notca.example.com"]).cert,
    ROOT.leaf(sans=["direct.example.com"], critical_san=True).cert,
]
POOL = [ROOT.cert, OTHER_ROOT.cert, INTER.cert, SUB.cert, CROSS.cert, NOT_CA.cert, IMPOSTOR.cert]
POOL += LEAVES
ROOT_SETS = [[], [ROOT.cert], [OTHER_ROOT.cert], [ROOT.cert, OTHER_ROOT.cert], [INTER.cert]]


def _fp(cert: x509.Certificate) -> bytes:
    return cert.fingerprint(hashes.SHA256())


def check_result(
    leaf: x509.Certificate,
    candidates: list[x509.Certificate],
    roots: list[x509.Certificate],
    leaf_first: bool,
) -> None:
    trust = TrustStore(roots, include_certifi=False)
    result = build_chain(leaf, candidates, trust=trust, now=NOW, leaf_is_first=leaf_first)
    links = [link.cert for link in result.links]
    assert links[0] == leaf
    assert len({_fp(c) for c in links}) == len(links)  # no certificate twice
    assert all(f.code in CATALOG for f in result.findings)
    if result.trusted:
        assert result.anchor in {"trust_store", "private_root"}
        for child, issuer in itertools.pairwise(links):
            assert signed_by(child, issuer)
    if result.anchor == "trust_store":
        assert links[-1] in trust
    for link in result.links:
        assert link.source in {"uploaded", "trust_store", "fetched"}
        if link.source == "uploaded" and link.cert != leaf:
            assert link.cert in candidates


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    leaf=st.sampled_from(LEAVES),
    candidates=st.lists(st.sampled_from(POOL), max_size=10),
    roots=st.sampled_from(ROOT_SETS),
    leaf_first=st.booleans(),
)
def test_any_upload_gives_a_well_formed_result(
    leaf: x509.Certificate,
    candidates: list[x509.Certificate],
    roots: list[x509.Certificate],
    leaf_first: bool,
) -> None:
    check_result(leaf, candidates, roots, leaf_first)


DERS = [c.public_bytes(serialization.Encoding.DER) for c in POOL]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    index=st.integers(0, len(DERS) - 1),
    flips=st.lists(st.tuples(st.integers(0, 2000), st.integers(1, 255)), min_size=1, max_size=4),
    roots=st.sampled_from(ROOT_SETS),
)
def test_damaged_certificates_never_raise(
    index: int, flips: list[tuple[int, int]], roots: list[x509.Certificate]
) -> None:
    data = bytearray(DERS[index])
    for position, mask in flips:
        data[position % len(data)] ^= mask
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. a serial number made negative
            damaged = x509.load_der_x509_certificate(bytes(data))
    except (ValueError, x509.InvalidVersion):
        return  # the readers reject it before the chain ever sees it
    # The damaged certificate as an uploaded candidate, and as the leaf.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_result(LEAVES[0], [damaged, SUB.cert, INTER.cert], roots, True)
        check_result(damaged, [SUB.cert, INTER.cert, ROOT.cert, OTHER_ROOT.cert], roots, True)
