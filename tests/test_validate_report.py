"""The report: the JSON contract of DESIGN.md, the chain PEM, the human rendering."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography import x509

from bot.pipeline.findings import Severity, finding
from bot.pipeline.material import InputSummary
from bot.pipeline.report import ChainEntry, Report, render_text
from tests.support.pki import CA, NOW, ec_key
from tests.support.report_contract import check_contract

# The contract of DESIGN.md ("certificate" is null when no leaf could be chosen).


@pytest.fixture(scope="module")
def pki() -> tuple[CA, CA]:
    root = CA.root("Report Root")
    return root, root.intermediate("Report Inter")


def _report(pki: tuple[CA, CA], findings: list[Any]) -> tuple[Report, x509.Certificate]:
    root, inter = pki
    leaf = inter.leaf(sans=["app.example.com", "www.example.com"], key=ec_key("P-384"))
    report = Report(
        findings=findings,
        leaf=leaf.cert,
        chain=[ChainEntry(inter.cert, "uploaded"), ChainEntry(root.cert, "trust_store")],
        inputs=[InputSummary("fullchain.pem", "certificate"), InputSummary("k.pem", "private_key")],
        now=NOW,
        domain="app.example.com",
    )
    return report, leaf.cert


def test_to_dict_matches_the_contract(pki: tuple[CA, CA]) -> None:
    report, leaf = _report(pki, [finding("names_covered", "x")])
    data = json.loads(json.dumps(report.to_dict()))
    check_contract(data)
    cert = data["certificate"]
    assert data["verdict"] == "valid"
    assert cert["sans"] == ["app.example.com", "www.example.com"]
    assert cert["key"] == {"type": "ECDSA", "bits": 384}
    assert cert["days_left"] == 89
    assert cert["serial"] == f"{leaf.serial_number:X}".rjust(len(cert["serial"]), "0")
    assert cert["signature_algorithm"] == "ecdsa-with-SHA256"
    assert [c["source"] for c in data["chain"]] == ["uploaded", "trust_store"]
    assert data["chain"][0]["subject"] == "O=certops tests,CN=Report Inter"
    assert data["inputs"] == [
        {"name": "fullchain.pem", "kind": "certificate"},
        {"name": "k.pem", "kind": "private_key"},
    ]


def test_verdict_is_invalid_exactly_with_an_error(pki: tuple[CA, CA]) -> None:
    warn, _ = _report(pki, [finding("expiring_soon", "soon")])
    assert warn.verdict == "valid"
    err, _ = _report(pki, [finding("expiring_soon", "soon"), finding("expired", "gone")])
    assert err.verdict == "invalid"
    check_contract(err.to_dict())


def test_findings_sorted_errors_first(pki: tuple[CA, CA]) -> None:
    report, _ = _report(
        pki,
        [
            finding("names_covered", "i"),
            finding("chain_order", "w"),
            finding("key_mismatch", "e"),
        ],
    )
    assert [f.severity for f in report.findings] == [
        Severity.ERROR,
        Severity.WARNING,
        Severity.INFO,
    ]


def test_no_leaf_gives_null_certificate_and_empty_pem() -> None:
    report = Report(findings=[finding("no_certificate", "none")])
    data = report.to_dict()
    check_contract(data)
    assert data["certificate"] is None and data["chain"] == []
    assert report.chain_pem() == b""
    text = render_text(report)
    assert text.startswith("INVALID") and "no_certificate" in text


def test_chain_pem_is_leaf_then_chain_without_self_signed_root(
    pki: tuple[CA, CA],
) -> None:
    root, inter = pki
    report, leaf = _report(pki, [])
    certs = x509.load_pem_x509_certificates(report.chain_pem())
    assert certs == [leaf, inter.cert]
    assert b"PRIVATE" not in report.chain_pem()
    private = Report([], leaf=leaf, chain=[ChainEntry(inter.cert, "uploaded"),
                                           ChainEntry(root.cert, "uploaded")])  # fmt: skip
    assert x509.load_pem_x509_certificates(private.chain_pem()) == [leaf, inter.cert]


def test_render_text(pki: tuple[CA, CA]) -> None:
    report, _ = _report(
        pki, [finding("expiring_soon", "The certificate expires soon."), finding("expired", "E")]
    )
    text = render_text(report)
    lines = text.splitlines()
    assert lines[0].startswith("INVALID") and "1 error, 1 warning" in lines[0]
    assert "Names:       app.example.com, www.example.com" in text
    assert "(89 days left)" in text and "Key:         ECDSA P-384" in text
    assert "1. O=certops tests,CN=Report Inter (uploaded" in text
    assert "2. O=certops tests,CN=Report Root (trust store" in text
    # errors first, each with its hint
    assert text.index("ERROR   expired") < text.index("WARNING expiring_soon")
    assert "-> Renew the certificate with your CA" in text
    assert "fullchain.pem: certificate" in text
