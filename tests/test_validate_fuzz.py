"""Damaged certificates that still load (cryptography parses names and extensions lazily)
never make `validate_material()` or the report raise: the only outcome is a report."""

from __future__ import annotations

import warnings

import pytest
from cryptography import x509
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.pipeline.material import Material, SourcedCertificate, SourcedKey
from bot.pipeline.report import render_text
from bot.pipeline.validate import ValidateOptions, validate_material
from tests.support.pki import CA, Issued


@pytest.fixture(scope="module")
def setup() -> tuple[CA, CA, Issued]:
    root = CA.root("Fuzz Root")
    inter = root.intermediate("Fuzz Inter")
    leaf = inter.leaf(sans=["a.example.com", "b.example.com"], aia_url="http://127.0.0.1:9/i")
    return root, inter, leaf


@settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)
@given(data=st.data())
def test_mutated_leaf_gives_a_report(setup: tuple[CA, CA, Issued], data: st.DataObject) -> None:
    root, inter, leaf = setup
    der = bytearray(leaf.der)
    for _ in range(data.draw(st.integers(1, 3))):
        der[data.draw(st.integers(0, len(der) - 1))] = data.draw(st.integers(0, 255))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            cert = x509.load_der_x509_certificate(bytes(der))
        except Exception:  # ValueError, InvalidVersion: the readers' to report
            return  # the readers report undecodable bytes; here only loadable ones matter
        material = Material(
            certificates=[
                SourcedCertificate(cert, "leaf.der"),
                SourcedCertificate(inter.cert, "i"),
            ],
            keys=[SourcedKey(leaf.key, "leaf.key")],
        )
        report = validate_material(
            material, ValidateOptions(extra_roots=[root.cert], domain="a.example.com")
        )
        data_dict = report.to_dict()
        text = render_text(report)
        report.chain_pem()
    assert data_dict["verdict"] in {"valid", "invalid"}
    assert text.startswith(("VALID", "INVALID"))
    same_signed_content = (
        cert.tbs_certificate_bytes == leaf.cert.tbs_certificate_bytes
        and cert.signature == leaf.cert.signature
    )
    if not same_signed_content:
        # A change to the signed part or the signature is never valid. (A change that
        # only re-encodes the outer length still parses to the very same certificate.)
        assert not report.valid, report.findings


def _with_unreadable_subject(der: bytes) -> x509.Certificate | None:
    """A one-byte change of `der` that still loads but whose subject cannot be parsed."""
    start = der.find(b"a.example.com")  # inside the subject's common name
    for index in range(start - 12, start):
        changed = bytearray(der)
        changed[index] = 0x05  # a tag or length turned to junk
        try:
            cert = x509.load_der_x509_certificate(bytes(changed))
        except Exception:
            continue
        try:
            cert.subject  # noqa: B018 - the lazy parse under test
        except ValueError:
            return cert
    return None


def test_certificate_with_unreadable_subject_is_left_out(setup: tuple[CA, CA, Issued]) -> None:
    root, _, leaf = setup
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        damaged = _with_unreadable_subject(leaf.der)
        assert damaged is not None
        report = validate_material(
            Material(certificates=[SourcedCertificate(damaged, "leaf.der")]),
            ValidateOptions(extra_roots=[root.cert]),
        )
    assert report.codes == ["unrecognized_file", "no_certificate"]
    assert "leaf.der: a certificate in it is damaged" in report.findings[0].message
