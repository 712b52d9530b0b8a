"""PKCS#12 files the way common tools write them, imitated with openssl's options.

Windows (`Export-PfxCertificate`, certutil): AES-256 with a SHA-256 MAC, or the legacy
TripleDES-SHA1 form, 2,000 iterations, a CSP name or machine-keyset attribute. Java
keytool: AES-256 with 10,000 iterations; a trust store holds certificates and no key; a
key store may hold several aliases (keys). macOS Keychain: 3DES key, RC2-40 certificates,
SHA-1 MAC. Also files without a MAC, a MAC under another password (`-twopass`), and an
empty password versus none at all.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from asn1crypto import cms
from asn1crypto import pkcs12 as asn1_pkcs12
from cryptography import x509

from bot.pipeline.material import InputFile, Material, Passwords
from bot.pipeline.readers import read_inputs
from bot.pipeline.readers.pkcs12_mac import build_pfx
from tests.support.ber import outer_ber
from tests.support.openssl_pki import OpenSSLPKI

WRONG = b"not the password"


def export(pki: OpenSSLPKI, out: Path, *options: str, key: str = "leaf.key") -> bytes:
    leaf = "leaf.pem" if key == "leaf.key" else "ec-leaf.pem"
    pki.openssl(
        "pkcs12", "-export", "-inkey", key, "-in", leaf, "-certfile", "inter.pem",
        "-passout", f"pass:{pki.password.decode()}", *options, "-out", str(out),
    )  # fmt: skip
    return out.read_bytes()


def read(data: bytes, password: bytes | None) -> Material:
    return read_inputs([InputFile("store.pfx", data)], Passwords(key=password))


def codes(material: Material) -> list[str]:
    return [f.code for f in material.findings]


TOOLS = {
    "windows-aes": (
        "-keypbe", "AES-256-CBC", "-certpbe", "AES-256-CBC", "-macalg", "sha256",
        "-iter", "2000", "-CSP", "Microsoft Software Key Storage Provider",
    ),
    "windows-3des": (
        "-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1",
        "-iter", "2000", "-LMK",
    ),
    "java-keytool": ("-iter", "10000", "-macalg", "sha256", "-name", "mykey"),
    "java-keytool-legacy": ("-legacy", "-iter", "50000", "-name", "mykey"),
    "macos-keychain": ("-legacy", "-macalg", "sha1", "-name", "app.example.com"),
}  # fmt: skip


@pytest.mark.parametrize("tool", list(TOOLS))
@pytest.mark.parametrize("ber", [False, True])
def test_what_each_tool_writes_is_read(
    openssl_pki: OpenSSLPKI, tmp_path: Path, tool: str, ber: bool
) -> None:
    data = export(openssl_pki, tmp_path / f"{tool}.pfx", *TOOLS[tool])
    if ber:
        data = outer_ber(data)
    material = read(data, openssl_pki.password)
    assert material.findings == [], (tool, material.findings)
    assert len(material.certificates) == 2 and len(material.keys) == 1
    assert codes(read(data, WRONG)) == ["wrong_password"]
    assert codes(read(data, None)) == ["password_required"]


def test_a_java_trust_store_holds_certificates_and_no_key(
    openssl_pki: OpenSSLPKI, tmp_path: Path
) -> None:
    out = tmp_path / "truststore.p12"
    openssl_pki.openssl(
        "pkcs12", "-export", "-nokeys", "-in", "root.pem", "-certfile", "inter.pem",
        "-iter", "10000", "-macalg", "sha256", "-passout", "pass:changeit", "-out", str(out),
    )  # fmt: skip
    material = read(out.read_bytes(), b"changeit")
    assert material.findings == [] and material.keys == []
    assert {c.cert for c in material.certificates} == {
        x509.load_pem_x509_certificate(openssl_pki.root_pem),
        x509.load_pem_x509_certificate(openssl_pki.inter_pem),
    }
    assert [i.kind for i in material.inputs] == ["pkcs12"]


def _merge(first: bytes, second: bytes, password: bytes) -> bytes:
    """One key store with both files' entries (keytool's several aliases)."""
    safe: list[cms.ContentInfo] = []
    for data in (first, second):
        safe += list(asn1_pkcs12.Pfx.load(data).authenticated_safe)
    return build_pfx(safe, password)


def test_a_java_key_store_with_several_aliases(openssl_pki: OpenSSLPKI, tmp_path: Path) -> None:
    options = TOOLS["java-keytool"]
    rsa_entry = export(openssl_pki, tmp_path / "rsa.p12", *options)
    ec_entry = export(openssl_pki, tmp_path / "ec.p12", *options, key="ec.key")
    store = _merge(rsa_entry, ec_entry, openssl_pki.password)
    material = read(store, openssl_pki.password)
    assert material.findings == []
    assert len(material.keys) == 2 and len(material.certificates) == 4


def test_a_mac_under_another_password(openssl_pki: OpenSSLPKI) -> None:
    """`openssl pkcs12 -twopass`: the contents open with one password, the MAC another."""
    pfx = asn1_pkcs12.Pfx.load(openssl_pki.read("modern.pfx"))
    twopass = build_pfx(list(pfx.authenticated_safe), b"integrity only")
    material = read(twopass, openssl_pki.password)
    assert codes(material) == ["pkcs12_mac_unverified"]
    assert material.findings[0].severity == "warning"
    assert len(material.certificates) == 2 and len(material.keys) == 1
    assert codes(read(twopass, b"integrity only")) == ["wrong_password"]
    assert codes(read(twopass, WRONG)) == ["wrong_password"]
    assert codes(read(twopass, None)) == ["password_required"]


@pytest.mark.parametrize(
    ("name", "what"),
    [("nomac.pfx", "no password at all"), ("nopass.pfx", "an empty password")],
)
def test_an_empty_password_and_no_password(openssl_pki: OpenSSLPKI, name: str, what: str) -> None:
    data = openssl_pki.read(name)
    for given in (None, b"", b"some password"):  # a password given to it is ignored
        material = read(data, given)
        assert material.findings == [], (what, given, material.findings)
        assert len(material.certificates) == 2 and len(material.keys) == 1


def test_no_mac_with_a_password(openssl_pki: OpenSSLPKI) -> None:
    data = openssl_pki.read("nomac-enc.pfx")
    assert read(data, openssl_pki.password).findings == []
    assert codes(read(data, WRONG)) == ["wrong_password"]
    assert codes(read(data, None)) == ["password_required"]
