"""A certificate with one malformed extension is named as such, never "not a certificate".

The verdict stays invalid: such a certificate is left out of the checks with its own
finding (`malformed_extension`, naming the extension), and a damaged file is still
`unrecognized_file`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from bot.pipeline.material import InputFile
from bot.pipeline.readers import read_inputs
from tests.support.malformed_extensions import CASES, malformed
from tests.support.openssl_pki import run
from tests.support.pki import make_small_cert
from tests.support.validate_cli import certops

EXPECTED = {
    "bad_san": "subjectAltName extension (2.5.29.17) is malformed",
    "two_basic_constraints": "basicConstraints extension (2.5.29.19) appears twice",
    "bad_netmask": "nameConstraints extension (2.5.29.30) is malformed",
    "bad_sct": "signedCertificateTimestampList (SCT) extension (1.3.6.1.4.1.11129.2.4.2) "
    "is malformed",
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_reader_names_the_extension(case: str, tmp_path: Path) -> None:
    der, _ = malformed(case)
    cert = x509.load_der_x509_certificate(der)  # it loads...
    with pytest.raises(Exception):  # noqa: B017 - ...until its extensions are read
        cert.extensions  # noqa: B018
    path = tmp_path / "cert.der"
    path.write_bytes(der)
    run("openssl", "x509", "-inform", "DER", "-in", str(path), "-noout", cwd=tmp_path)  # opens
    pem = cert.public_bytes(serialization.Encoding.PEM)
    for name, data in (("cert.der", der), ("cert.pem", pem)):
        material = read_inputs([InputFile(name, data)])
        assert [f.code for f in material.findings] == ["malformed_extension"]
        message = material.findings[0].message
        assert message.startswith(f"{name}: this is a certificate (CN=www.example.com)")
        assert EXPECTED[case] in message
        assert [i.kind for i in material.inputs] == ["certificate"]
        assert material.certificates == []  # left out of the checks: never judged valid


@pytest.mark.parametrize("case", ["bad_san", "two_basic_constraints"])
def test_certops_validate_says_which_extension(case: str, tmp_path: Path) -> None:
    der, key = malformed(case)
    (tmp_path / "site.der").write_bytes(der)
    (tmp_path / "site.key").write_bytes(key)
    proc = certops(tmp_path / "site.der", tmp_path / "site.key", "--json")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    found = {f["code"]: f for f in report["findings"]}
    assert set(found) == {"malformed_extension", "no_certificate"}
    assert report["verdict"] == "invalid"
    assert "re-issue" in found["malformed_extension"]["hint"]
    assert "site.der was refused or left out" in found["no_certificate"]["message"]
    assert "unrecognized_file" not in found


def test_a_good_certificate_beside_a_malformed_one_is_still_read() -> None:
    bad, _ = malformed("bad_sct", name="bad.example.com")
    fine = make_small_cert()
    bundle = b"".join(
        c.public_bytes(serialization.Encoding.PEM)
        for c in (x509.load_der_x509_certificate(bad), fine)
    )
    material = read_inputs([InputFile("bundle.pem", bundle)])
    assert [c.cert for c in material.certificates] == [fine]
    assert [f.code for f in material.findings] == ["malformed_extension"]
    assert "CN=bad.example.com" in material.findings[0].message


def test_a_damaged_file_is_still_unrecognized() -> None:
    der, _ = malformed("bad_san")
    material = read_inputs([InputFile("cut.der", der[: len(der) // 2])])
    assert [f.code for f in material.findings] == ["unrecognized_file"]
