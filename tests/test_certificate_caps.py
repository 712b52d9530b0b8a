"""Certificates per file and per upload are counted from the structure and capped first.

A 5 MB PEM of 10,000 certificates took 4-5 s and 100 MB to parse; counted by its BEGIN
lines it is refused in milliseconds. Certificates are repeated copies of one small EC
certificate: parsing costs the same, and making them costs nothing.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest
import pyzipper
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from bot.pipeline.material import InputFile, Material, Passwords
from bot.pipeline.readers import read_inputs
from bot.pipeline.readers.limits import MAX_CERTIFICATES_PER_FILE, MAX_CERTIFICATES_PER_UPLOAD
from tests.support.openssl_pki import OpenSSLPKI
from tests.support.pki import make_small_cert
from tests.support.slack_harness import slack_harness
from tests.support.slack_upload_fixtures import last_update, send_files
from tests.support.validate_cli import certops

GENEROUS_SECONDS = 2.0  # parsing them all takes 4-5 s; counting takes milliseconds


@pytest.fixture(scope="module")
def small_cert() -> x509.Certificate:
    return make_small_cert()


def pem_of(cert: x509.Certificate, count: int) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM) * count


def read(*files: tuple[str, bytes]) -> Material:
    return read_inputs([InputFile(name, data) for name, data in files], Passwords())


def codes(material: Material) -> list[str]:
    return [f.code for f in material.findings]


def test_a_5_mb_pem_of_10000_certificates_is_refused_cheaply(small_cert: x509.Certificate) -> None:
    data = pem_of(small_cert, 10_000)
    assert 4_000_000 < len(data) < 6_000_000
    started = time.perf_counter()
    material = read(("all-roots.pem", data))
    seconds = time.perf_counter() - started
    assert codes(material) == ["too_many_certificates"]
    assert material.certificates == []
    assert "holds 10,000 certificates, more than the 100" in material.findings[0].message
    assert seconds < GENEROUS_SECONDS, seconds


def test_the_file_cap_is_exact(small_cert: x509.Certificate) -> None:
    at_cap = read(("ok.pem", pem_of(small_cert, MAX_CERTIFICATES_PER_FILE)))
    assert "too_many_certificates" not in codes(at_cap)
    assert len(at_cap.certificates) == MAX_CERTIFICATES_PER_FILE
    over = read(("over.pem", pem_of(small_cert, MAX_CERTIFICATES_PER_FILE + 1)))
    assert codes(over) == ["too_many_certificates"]


def test_the_upload_cap_counts_every_file_and_zip_member(small_cert: x509.Certificate) -> None:
    eighty = pem_of(small_cert, 80)
    files = read(("a.pem", eighty), ("b.pem", eighty), ("c.pem", eighty))
    assert len(files.certificates) == 160
    (refused,) = files.findings
    assert refused.code == "too_many_certificates" and refused.message.startswith("c.pem: ")
    assert f"at most {MAX_CERTIFICATES_PER_UPLOAD} in one upload" in refused.message
    buffer = io.BytesIO()
    with pyzipper.ZipFile(buffer, "w", compression=pyzipper.ZIP_DEFLATED) as archive:
        for name in ("a.pem", "b.pem", "c.pem"):
            archive.writestr(name, eighty)
    zipped = read(("bundle.zip", buffer.getvalue()))
    assert len(zipped.certificates) == 160
    assert [f.message.split(":", 2)[:2] for f in zipped.findings] == [["bundle.zip", "c.pem"]]


def test_pkcs7_and_pkcs12_are_counted_from_their_structure(
    openssl_pki: OpenSSLPKI, small_cert: x509.Certificate, tmp_path: Path
) -> None:
    many = tmp_path / "many.pem"
    many.write_bytes(pem_of(small_cert, MAX_CERTIFICATES_PER_FILE + 1))
    p7 = openssl_pki.openssl("crl2pkcs7", "-nocrl", "-certfile", str(many), "-outform", "DER")
    p7_pem = openssl_pki.openssl("crl2pkcs7", "-nocrl", "-certfile", str(many))
    pfx = tmp_path / "many.pfx"
    openssl_pki.openssl(
        "pkcs12", "-export", "-inkey", "leaf.key", "-in", "leaf.pem", "-certfile", str(many),
        "-passout", "pass:pw", "-out", str(pfx),
    )  # fmt: skip
    for name, data, password in [
        ("many.p7b", p7, None),
        ("many.p7b.pem", p7_pem, None),
        ("many.pfx", pfx.read_bytes(), b"pw"),
    ]:
        material = read_inputs([InputFile(name, data)], Passwords(key=password))
        assert codes(material) == ["too_many_certificates"], (name, material.findings)
        assert material.certificates == []


def test_certops_validate_refuses_the_flood(small_cert: x509.Certificate, tmp_path: Path) -> None:
    path = tmp_path / "bundle.pem"
    path.write_bytes(pem_of(small_cert, 10_000))
    started = time.perf_counter()
    proc = certops(path, "--json")
    seconds = time.perf_counter() - started
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    flood = [f for f in report["findings"] if f["code"] == "too_many_certificates"]
    assert len(flood) == 1 and flood[0]["severity"] == "error"
    assert "two to four certificates" in flood[0]["hint"]
    assert seconds < 30  # interpreter start included; parsing all of them takes 4-5 s more


def test_a_dm_upload_of_the_flood_is_refused(sqlite_url: str, small_cert: x509.Certificate) -> None:
    with slack_harness(sqlite_url) as slack:
        flood = slack.api.add_file("bundle.pem", pem_of(small_cert, 10_000))
        started = time.perf_counter()
        text = last_update(send_files(slack, flood))
        assert "too_many_certificates" in text and "10,000" in text
        assert time.perf_counter() - started < 30
