"""PKCS#12: legacy and modern files, empty passwords, and large keys read without validation."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
from asn1crypto import pkcs12 as asn1_pkcs12
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

import bot.pipeline.readers.pkcs12 as reader
from bot.pipeline.material import InputFile, Material, Passwords
from bot.pipeline.readers import read_inputs
from bot.pipeline.readers.asn1 import ber_to_der
from bot.pipeline.readers.pkcs12_mac import MacCheck, build_pfx, check_mac
from tests.support.ber import inner_ber, outer_ber
from tests.support.costly_files import HUGE, patch_pfx
from tests.support.openssl_pki import OpenSSLPKI

LIBRARY_LOAD = pkcs12.load_pkcs12  # the real one, not the spy below
BIG_BITS = 4160  # over the platform's 4096 limit, and still quick to generate once


@pytest.fixture(scope="session")
def big(openssl_pki: OpenSSLPKI) -> dict[str, Path]:
    """A leaf with a 4160-bit RSA key, exported as modern, legacy and empty-password PFX."""
    key = openssl_pki.make_rsa_key(BIG_BITS, "big.key")
    cert = openssl_pki.make_leaf(["big.example.com"], key=key, name="big")
    pw = f"pass:{openssl_pki.password.decode()}"
    export = ("pkcs12", "-export", "-inkey", "big.key", "-in", cert.name,
              "-certfile", "inter.pem")  # fmt: skip
    openssl_pki.openssl(*export, "-passout", pw, "-out", "big-modern.pfx")
    openssl_pki.openssl(*export, "-legacy", "-passout", pw, "-out", "big-legacy.pfx")
    openssl_pki.openssl(*export, "-passout", "pass:", "-out", "big-nopass.pfx")
    return {n: openssl_pki.path(f"{n}.pfx") for n in ("big-modern", "big-legacy", "big-nopass")}


@pytest.fixture
def pkcs12_calls() -> Iterator[list[bool]]:
    """Record whether load_pkcs12 ever returned a key (i.e. validated one)."""
    calls: list[bool] = []
    real = pkcs12.load_pkcs12

    def spy(data: bytes, password: bytes | None) -> pkcs12.PKCS12KeyAndCertificates:
        result = real(data, password)
        calls.append(result.key is not None)
        return result

    with mock.patch.object(reader.pkcs12, "load_pkcs12", spy):
        yield calls


def read(data: bytes, password: bytes | None = None) -> Material:
    return read_inputs([InputFile("site.pfx", data)], Passwords(key=password))


def leaf_spki(pem: bytes) -> bytes:
    return (
        x509.load_pem_x509_certificate(pem)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def key_spki(material: Material) -> bytes:
    return (
        material.keys[0]
        .key.public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


@pytest.mark.parametrize(
    ("name", "password"),
    [
        ("legacy.pfx", True),
        ("3des.pfx", True),
        ("modern.pfx", True),
        ("nopass.pfx", False),
        ("nopass-legacy.pfx", False),
        ("plain.pfx", False),
        ("nomac.pfx", False),
    ],
)
def test_pfx_variants(
    openssl_pki: OpenSSLPKI, pkcs12_calls: list[bool], name: str, password: bool
) -> None:
    material = read(openssl_pki.read(name), openssl_pki.password if password else None)
    assert material.findings == []
    assert [i.kind for i in material.inputs] == ["pkcs12"]
    certs = [c.cert for c in material.certificates]
    assert x509.load_pem_x509_certificate(openssl_pki.leaf_pem) in certs
    assert x509.load_pem_x509_certificate(openssl_pki.inter_pem) in certs
    assert len(certs) == 2
    assert key_spki(material) == leaf_spki(openssl_pki.leaf_pem)
    assert {c.source for c in material.certificates} | {material.keys[0].source} == {"site.pfx"}
    assert not any(pkcs12_calls), "load_pkcs12 was handed a key"


def test_ec_pfx(openssl_pki: OpenSSLPKI) -> None:
    material = read(openssl_pki.read("ec.pfx"), openssl_pki.password)
    assert material.findings == []
    assert key_spki(material) == leaf_spki(openssl_pki.read("ec-leaf.pem"))


@pytest.mark.parametrize("name", ["big-modern", "big-legacy", "big-nopass"])
def test_large_key_is_read_without_validation(
    openssl_pki: OpenSSLPKI, big: dict[str, Path], pkcs12_calls: list[bool], name: str
) -> None:
    password = None if name == "big-nopass" else openssl_pki.password
    material = read(big[name].read_bytes(), password)
    assert material.findings == []
    (key,) = material.keys
    assert isinstance(key.key, rsa.RSAPrivateKey) and key.key.key_size == BIG_BITS
    assert len(material.certificates) == 2  # the certificates are still there
    assert not any(pkcs12_calls), "load_pkcs12 validated the large key"


def test_large_pem_key_is_read(big: dict[str, Path], openssl_pki: OpenSSLPKI) -> None:
    material = read_inputs([InputFile("big.key", openssl_pki.read("big.key"))])
    assert material.keys[0].key.key_size == BIG_BITS  # type: ignore[union-attr]


def test_mac_check(openssl_pki: OpenSSLPKI) -> None:
    modern = asn1_pkcs12.Pfx.load(openssl_pki.read("modern.pfx"))
    assert check_mac(modern, openssl_pki.password) is MacCheck.OK
    assert check_mac(modern, b"other") is MacCheck.MISMATCH
    assert check_mac(modern, None) is MacCheck.MISMATCH
    legacy = asn1_pkcs12.Pfx.load(openssl_pki.read("legacy.pfx"))  # SHA-1 MAC
    assert check_mac(legacy, openssl_pki.password) is MacCheck.OK
    nopass = asn1_pkcs12.Pfx.load(openssl_pki.read("nopass.pfx"))
    assert check_mac(nopass, None) is MacCheck.OK
    nomac = asn1_pkcs12.Pfx.load(openssl_pki.read("nomac.pfx"))
    assert check_mac(nomac, b"anything") is MacCheck.ABSENT


def test_rebuilt_pfx_is_accepted_by_openssl(openssl_pki: OpenSSLPKI, tmp_path: Path) -> None:
    pfx = asn1_pkcs12.Pfx.load(openssl_pki.read("modern.pfx"))
    encrypted = [c for c in pfx.authenticated_safe if c["content_type"].native != "data"]
    rebuilt = build_pfx(encrypted, openssl_pki.password)
    (tmp_path / "rebuilt.pfx").write_bytes(rebuilt)
    openssl_pki.openssl(
        "pkcs12", "-in", str(tmp_path / "rebuilt.pfx"), "-nokeys",
        "-passin", f"pass:{openssl_pki.password.decode()}", "-out", str(tmp_path / "out.pem"),
    )  # fmt: skip
    assert (tmp_path / "out.pem").read_bytes().count(b"BEGIN CERTIFICATE") == 2
    loaded = pkcs12.load_pkcs12(rebuilt, openssl_pki.password)
    assert loaded.key is None and len(loaded.additional_certs) == 2


def test_damaged_pfx(openssl_pki: OpenSSLPKI) -> None:
    data = openssl_pki.read("modern.pfx")
    material = read(data[: len(data) // 2], openssl_pki.password)
    assert [f.code for f in material.findings] == ["unrecognized_file"]
    assert material.findings[0].message.startswith("site.pfx: ")


# --- BER (indefinite lengths, chunked OCTET STRINGs) --------------------------------------
BER_CASES = [
    ("modern.pfx", True),
    ("legacy.pfx", True),
    ("3des.pfx", True),
    ("nopass.pfx", False),
    ("plain.pfx", False),
    ("nomac-enc.pfx", True),
]


@pytest.mark.parametrize(("name", "password"), BER_CASES)
@pytest.mark.parametrize("encoding", ["outer", "inner"])
def test_pfx_written_in_ber_is_read_like_der(
    openssl_pki: OpenSSLPKI, pkcs12_calls: list[bool], name: str, password: bool, encoding: str
) -> None:
    pw = openssl_pki.password if password else None
    der = openssl_pki.read(name)
    data = outer_ber(der) if encoding == "outer" else inner_ber(der, pw or b"")
    assert data != der and b"\x30\x80" in data  # really indefinite lengths
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cryptography's "fell back to BER" warning
        library = LIBRARY_LOAD(data, pw)  # the library reads it: so must we
    assert library.cert is not None
    material = read(data, pw)
    assert material.findings == [], material.findings
    certs = [c.cert for c in material.certificates]
    assert x509.load_pem_x509_certificate(openssl_pki.leaf_pem) in certs and len(certs) == 2
    assert key_spki(material) == leaf_spki(openssl_pki.leaf_pem)
    assert not any(pkcs12_calls), "load_pkcs12 was handed a key"


def test_a_ber_pfx_keeps_the_cheap_key_size_and_cost_checks(
    openssl_pki: OpenSSLPKI, big: dict[str, Path], pkcs12_calls: list[bool]
) -> None:
    pw = openssl_pki.password
    for data in (
        outer_ber(big["big-modern"].read_bytes()),
        inner_ber(big["big-legacy"].read_bytes(), pw),
    ):
        material = read(data, pw)
        assert material.findings == []
        assert material.keys[0].key.key_size == BIG_BITS  # type: ignore[union-attr]
    assert not any(pkcs12_calls), "load_pkcs12 validated the large key"
    costly = outer_ber(patch_pfx(openssl_pki.read("modern.pfx"), key=HUGE))
    assert [f.code for f in read(costly, pw).findings] == ["kdf_cost_too_high"]
    costly_mac = outer_ber(patch_pfx(openssl_pki.read("legacy.pfx"), mac=HUGE))
    assert [f.code for f in read(costly_mac, pw).findings] == ["kdf_cost_too_high"]
    costly_certs = inner_ber(patch_pfx(openssl_pki.read("legacy.pfx"), certs=HUGE), pw)
    assert [f.code for f in read(costly_certs, pw).findings] == ["kdf_cost_too_high"]


def test_ber_to_der() -> None:
    der = bytes.fromhex("3009020101" + "0404deadbeef")
    assert ber_to_der(der) == der
    assert ber_to_der(bytes.fromhex("3080020101" + "24800402dead0402beef0000" + "0000")) == der
    for broken in ("3080020101", "30050201", "3003020101ff", "3080" * 100):
        with pytest.raises(ValueError):
            ber_to_der(bytes.fromhex(broken))
