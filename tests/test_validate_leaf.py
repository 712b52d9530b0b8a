"""Leaf choice and the checks on the leaf alone (bot/pipeline/leaf.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID

from bot.pipeline.findings import Severity
from bot.pipeline.leaf import (
    check_leaf,
    choose_leaf,
    domain_findings,
    parse_domain,
    validity_length_finding,
)
from tests.support.openssl_pki import OpenSSLPKI
from tests.support.pki import CA, NOW, ec_key, rsa_key, self_signed_leaf


@pytest.fixture(scope="module")
def ca() -> CA:
    return CA.root("Leaf Root").intermediate("Leaf Inter")


@pytest.fixture(scope="module")
def ossl(tmp_path_factory: pytest.TempPathFactory) -> OpenSSLPKI:
    return OpenSSLPKI(tmp_path_factory.mktemp("openssl-leaf"))


def codes(findings: list) -> list[str]:  # type: ignore[type-arg]
    return [f.code for f in findings]


# --- choosing -----------------------------------------------------------------------------


def test_no_certificate() -> None:
    choice = choose_leaf([], [])
    assert choice.leaf is None and codes(choice.findings) == ["no_certificate"]


def test_only_ca_certificates(ca: CA) -> None:
    root = CA.root("Leaf Root")
    choice = choose_leaf([ca.cert, root.cert], [])
    assert choice.leaf is None and codes(choice.findings) == ["no_leaf_certificate"]
    assert "Leaf Inter" in choice.findings[0].message


def test_single_leaf_among_cas_and_duplicates(ca: CA) -> None:
    leaf = ca.leaf(sans=["one.example.com"])
    choice = choose_leaf([ca.cert, leaf.cert, leaf.cert], [])
    assert choice.leaf == leaf.cert and choice.findings == [] and choice.chosen_by == "only"


def test_key_chooses_and_warns_naming_the_others(ca: CA) -> None:
    a = ca.leaf(sans=["a.example.com"], key=rsa_key(2048))
    b = ca.leaf(sans=["b.example.com"], key=ec_key("P-256", index=21))
    choice = choose_leaf([a.cert, b.cert], [ec_key("P-256", index=21)])
    assert choice.leaf == b.cert and choice.chosen_by == "key"
    (warning,) = choice.findings
    assert warning.code == "multiple_leaf_certificates"
    assert warning.severity is Severity.WARNING
    assert "a.example.com" in warning.message


def test_domain_chooses_when_no_key(ca: CA) -> None:
    a = ca.leaf(sans=["a.example.com"])
    b = ca.leaf(sans=["*.b.example.com"])
    choice = choose_leaf([a.cert, b.cert], [], parse_domain("X.B.Example.com."))
    assert choice.leaf == b.cert and choice.chosen_by == "domain"
    assert choice.findings[0].severity is Severity.WARNING


def test_cannot_choose_is_an_error(ca: CA) -> None:
    a = ca.leaf(sans=["a.example.com"])
    b = ca.leaf(sans=["b.example.com"])
    choice = choose_leaf([a.cert, b.cert], [])
    assert choice.leaf is None
    (error,) = choice.findings
    assert error.code == "multiple_leaf_certificates" and error.severity is Severity.ERROR
    assert "a.example.com" in error.message and "b.example.com" in error.message


def test_leaves_with_the_same_name_are_told_apart_by_date_and_serial(ca: CA) -> None:
    """A renewal beside the old certificate: the same CN twice says nothing to a person."""
    old = ca.leaf(sans=["app.example.com"], days=30)
    new = ca.leaf(sans=["app.example.com"], days=90)
    (error,) = choose_leaf([old.cert, new.cert], []).findings
    assert error.code == "multiple_leaf_certificates"
    for cert in (old.cert, new.cert):
        assert f"valid until {cert.not_valid_after_utc:%Y-%m-%d}" in error.message
        assert f"serial {cert.serial_number:X}" in error.message
    # Chosen by the key (renewals reuse it): the newest, and both are told apart.
    (warning,) = choose_leaf([old.cert, new.cert], [new.key]).findings
    assert warning.severity is Severity.WARNING
    chosen, ignored = warning.message.split("Ignored: ")
    assert f"serial {new.cert.serial_number:X}" in chosen
    assert f"serial {old.cert.serial_number:X}" in ignored


# --- the Domain field ---------------------------------------------------------------------


def test_invalid_domain() -> None:
    domain = parse_domain("bad..example.com")
    assert domain.canonical is None
    assert domain.finding is not None and domain.finding.code == "invalid_domain"
    assert parse_domain("a.*.example.com").finding is not None
    assert parse_domain("*.example.com").canonical == "*.example.com"


def test_domain_mismatch_lists_covered_names(ca: CA) -> None:
    leaf = ca.leaf(sans=["app.example.com", "www.example.com"])
    (found,) = domain_findings(leaf.cert, parse_domain("shop.example.com"))
    assert found.code == "domain_mismatch"
    assert "app.example.com, www.example.com" in found.message
    assert domain_findings(leaf.cert, parse_domain("WWW.example.com.")) == []


def test_wildcard_domain_needs_wildcard_san(ca: CA) -> None:
    concrete = ca.leaf(sans=["a.example.com"])
    (found,) = domain_findings(concrete.cert, parse_domain("*.example.com"))
    assert found.code == "domain_mismatch" and "same wildcard" in found.message
    wildcard = ca.leaf(sans=["*.example.com"])
    assert domain_findings(wildcard.cert, parse_domain("*.example.com")) == []
    assert domain_findings(wildcard.cert, parse_domain("x.example.com")) == []
    assert codes(domain_findings(wildcard.cert, parse_domain("a.b.example.com"))) == [
        "domain_mismatch"
    ]


def test_idn_domain_compared_as_alabels(ca: CA) -> None:
    leaf = ca.leaf(sans=["xn--bcher-kva.example.com"])
    assert domain_findings(leaf.cert, parse_domain("bücher.example.com")) == []


def test_names_covered_without_domain(ca: CA) -> None:
    leaf = ca.leaf(sans=["app.example.com", "*.example.com"])
    (info,) = domain_findings(leaf.cert, None)
    assert info.code == "names_covered" and info.severity is Severity.INFO
    assert "app.example.com, *.example.com" in info.message


# --- checks on the leaf -------------------------------------------------------------------


def test_clean_leaf_has_no_findings(ca: CA) -> None:
    assert check_leaf(ca.leaf().cert, now=NOW) == []


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"include_san": False}, "no_subject_alt_name"),
        ({"critical_san": True}, "critical_subject_alt_name"),
        ({"eku": [ExtendedKeyUsageOID.CLIENT_AUTH]}, "no_server_auth"),
        ({"not_before": NOW - dt.timedelta(days=100), "days": 10}, "expired"),
        ({"not_before": NOW + dt.timedelta(days=2)}, "not_yet_valid"),
        ({"days": 20}, "expiring_soon"),
    ],
)
def test_leaf_check(kwargs: dict, code: str) -> None:  # type: ignore[type-arg]
    root = CA.root("Leaf Check Root", key=rsa_key(2048, index=5))
    leaf = root.leaf(**kwargs)
    found = check_leaf(leaf.cert, now=NOW)
    assert codes(found) == [code]


def test_critical_san_is_only_a_warning(ca: CA) -> None:
    (found,) = check_leaf(ca.leaf(critical_san=True).cert, now=NOW)
    assert found.severity is Severity.WARNING


def test_any_eku_counts_as_server_auth(ca: CA) -> None:
    leaf = ca.leaf(eku=[ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE])
    assert check_leaf(leaf.cert, now=NOW) == []


def test_eku_absent_is_fine(ca: CA) -> None:
    assert check_leaf(ca.leaf(eku=[]).cert, now=NOW) == []


def test_self_signed() -> None:
    found = check_leaf(self_signed_leaf(["self.example.com"]).cert, now=NOW)
    assert codes(found) == ["self_signed"]


def test_san_without_dns_names(ca: CA) -> None:
    import ipaddress

    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(ca.cert.subject)
        .public_key(rsa_key(2048).public_key())
        .serial_number(7)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=60))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("10.0.0.1"))]),
            critical=True,
        )
    )
    cert = builder.sign(ca.key, hashes.SHA256())  # type: ignore[arg-type]
    found = check_leaf(cert, now=NOW)
    # Built without an authorityKeyIdentifier: named too (the WebPKI policy requires it).
    assert codes(found) == ["no_subject_alt_name", "no_authority_key_id"]
    assert "no DNS name" in found[0].message


def test_validity_too_long(ca: CA) -> None:
    short = ca.leaf(days=398)
    long = ca.leaf(days=825)
    assert validity_length_finding(short.cert, private_root=False) is None
    public = validity_length_finding(long.cert, private_root=False)
    assert public is not None and public.severity is Severity.WARNING
    assert "825 days" in public.message
    private = validity_length_finding(long.cert, private_root=True)
    assert private is not None and private.severity is Severity.INFO


def test_openssl_leaf_is_clean(ossl: OpenSSLPKI) -> None:
    leaf = x509.load_pem_x509_certificate(ossl.leaf_pem)
    assert check_leaf(leaf, now=dt.datetime.now(dt.UTC)) == []
    assert codes(domain_findings(leaf, parse_domain("www.example.com"))) == []


def test_sha1_leaf_made_by_openssl_is_weak(ossl: OpenSSLPKI) -> None:
    """cryptography refuses to sign with SHA-1, so the weak leaf comes from openssl."""
    ossl.openssl(
        "x509", "-req", "-in", "leaf.csr", "-CA", "inter.pem", "-CAkey", "inter.key",
        "-set_serial", "77", "-days", "60", "-sha1", "-extfile", "leaf.ext",
        "-out", "sha1-leaf.pem",
    )  # fmt: skip
    leaf = x509.load_pem_x509_certificate(ossl.read("sha1-leaf.pem"))
    found = check_leaf(leaf, now=dt.datetime.now(dt.UTC))
    assert codes(found) == ["weak_signature"]
    assert "SHA-1" in found[0].message and found[0].severity is Severity.ERROR


def test_same_key_renewals_choose_the_newest(ca: CA) -> None:
    key = rsa_key(2048)
    old = ca.leaf(sans=["r.example.com"], key=key, days=40)
    new = ca.leaf(sans=["r.example.com"], key=key, days=90)
    choice = choose_leaf([new.cert, old.cert], [key])
    assert choice.leaf == new.cert and choice.chosen_by == "newest"
    assert choice.findings[0].severity is Severity.WARNING
