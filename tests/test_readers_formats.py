"""Every input format, identified by content: openssl-made and cryptography-made files."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from bot.pipeline.findings import Severity
from bot.pipeline.material import InputFile, Material, Passwords
from bot.pipeline.readers import input_kind, read_inputs
from tests.support import pki
from tests.support.openssl_pki import OpenSSLPKI

PW = Passwords(key=OpenSSLPKI.password)


def read_one(name: str, data: bytes, passwords: Passwords | None = None) -> Material:
    return read_inputs([InputFile(name, data)], passwords or Passwords())


def read_fixture(pki_: OpenSSLPKI, name: str, passwords: Passwords | None = None) -> Material:
    # A neutral display name: the readers must not look at the extension.
    return read_one("upload.bin", pki_.read(name), passwords)


def codes(material: Material) -> list[str]:
    return [f.code for f in material.findings]


def leaf(pki_: OpenSSLPKI) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pki_.leaf_pem)


def inter(pki_: OpenSSLPKI) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pki_.inter_pem)


def public_der(key: object) -> bytes:
    return key.public_key().public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def leaf_key_spki(pki_: OpenSSLPKI) -> bytes:
    return (
        leaf(pki_)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


# --- certificates --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "kind", "count"),
    [
        ("leaf.pem", "certificate", 1),
        ("leaf.der", "certificate", 1),
        ("fullchain.pem", "certificate", 2),
        ("fullchain.crlf.pem", "certificate", 2),
        ("fullchain.bom.pem", "certificate", 2),
        ("fullchain.utf16le.pem", "certificate", 2),
        ("fullchain.utf16be.pem", "certificate", 2),
        ("leaf.trusted.pem", "certificate", 1),
        ("chain.p7b", "pkcs7", 2),
        ("chain.p7b.der", "pkcs7", 2),
    ],
)
def test_certificate_formats(openssl_pki: OpenSSLPKI, name: str, kind: str, count: int) -> None:
    material = read_fixture(openssl_pki, name)
    assert material.findings == []
    assert [i.kind for i in material.inputs] == [kind]
    assert len(material.certificates) == count
    assert leaf(openssl_pki) in [c.cert for c in material.certificates]
    assert {c.source for c in material.certificates} == {"upload.bin"}


def test_chain_certificates_keep_their_order(openssl_pki: OpenSSLPKI) -> None:
    material = read_fixture(openssl_pki, "fullchain.utf16le.pem")
    assert [c.cert for c in material.certificates] == [leaf(openssl_pki), inter(openssl_pki)]


def test_trusted_certificate_aux_data_is_stripped(openssl_pki: OpenSSLPKI) -> None:
    assert b"BEGIN TRUSTED CERTIFICATE" in openssl_pki.read("leaf.trusted.pem")
    material = read_fixture(openssl_pki, "leaf.trusted.pem")
    assert material.certificates[0].cert.public_bytes(serialization.Encoding.DER) == (
        openssl_pki.read("leaf.der")
    )


def test_utf16_without_bom_is_read(openssl_pki: OpenSSLPKI) -> None:
    text = openssl_pki.leaf_pem.decode()
    for encoding in ("utf-16-le", "utf-16-be"):
        material = read_one("x", text.encode(encoding))
        assert len(material.certificates) == 1, encoding


def test_pkcs7_inside_a_certificate_label(openssl_pki: OpenSSLPKI) -> None:
    """Some Windows tools label a base64 PKCS#7 bundle as CERTIFICATE."""
    import base64

    body = base64.encodebytes(openssl_pki.read("chain.p7b.der")).decode()
    pem = f"-----BEGIN CERTIFICATE-----\n{body}-----END CERTIFICATE-----\n".encode()
    assert len(read_one("x.cer", pem).certificates) == 2


# --- keys ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    ["leaf.key", "leaf.pkcs1.pem", "leaf.pkcs1.der", "leaf.pkcs8.der"],
)
def test_rsa_key_formats(openssl_pki: OpenSSLPKI, name: str) -> None:
    material = read_fixture(openssl_pki, name)
    assert material.findings == []
    assert [i.kind for i in material.inputs] == ["private_key"]
    (key,) = material.keys
    assert isinstance(key.key, rsa.RSAPrivateKey) and key.key.key_size == 2048
    assert public_der(key.key) == leaf_key_spki(openssl_pki)


@pytest.mark.parametrize("name", ["ec.key", "ec.params.key", "ec.pkcs8.pem", "ec.sec1.der"])
def test_ec_key_formats(openssl_pki: OpenSSLPKI, name: str) -> None:
    material = read_fixture(openssl_pki, name)
    assert material.findings == []
    (key,) = material.keys
    assert isinstance(key.key, ec.EllipticCurvePrivateKey)
    assert key.key.curve.name == "secp256r1"


@pytest.mark.parametrize(
    "name", ["leaf.enc-pkcs8.pem", "leaf.enc-pkcs8.der", "leaf.enc-trad.pem", "ec.enc-trad.pem"]
)
def test_encrypted_keys_with_the_password(openssl_pki: OpenSSLPKI, name: str) -> None:
    material = read_fixture(openssl_pki, name, PW)
    assert material.findings == []
    assert [i.kind for i in material.inputs] == ["private_key"]
    assert len(material.keys) == 1


def test_cryptography_made_keys_and_certificates() -> None:
    root = pki.CA.root()
    issued = root.intermediate().leaf(sans=["app.example.com"], key=pki.ec_key("P-384"))
    files = [
        InputFile("leaf.pem", issued.pem),
        InputFile("leaf.der", issued.der),
        InputFile("key.pem", issued.key_pem(fmt="traditional")),
        InputFile("enc.pem", issued.key_pem(password=b"pw")),
    ]
    material = read_inputs(files, Passwords(key=b"pw"))
    assert material.findings == []
    assert [i.kind for i in material.inputs] == [
        "certificate",
        "certificate",
        "private_key",
        "private_key",
    ]
    assert all(k.key.curve.name == "secp384r1" for k in material.keys)  # type: ignore[union-attr]


# --- combined files, Bag Attributes ----------------------------------------------------------
def test_pkcs12_nodes_output_with_bag_attributes(openssl_pki: OpenSSLPKI) -> None:
    assert b"Bag Attributes" in openssl_pki.read("bag.pem")
    material = read_fixture(openssl_pki, "bag.pem")
    assert material.findings == []
    assert [i.kind for i in material.inputs] == ["bundle"]
    assert len(material.certificates) == 2 and len(material.keys) == 1


def test_key_and_chain_in_one_file_any_order(openssl_pki: OpenSSLPKI) -> None:
    data = openssl_pki.inter_pem + b"\r\njunk text\r\n" + openssl_pki.key_pem + openssl_pki.leaf_pem
    material = read_one("all.pem", data)
    assert [i.kind for i in material.inputs] == ["bundle"]
    assert len(material.certificates) == 2 and len(material.keys) == 1


# --- CSRs ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["leaf.csr.pem", "leaf.csr.der", "new.csr.pem"])
def test_certificate_request(openssl_pki: OpenSSLPKI, name: str) -> None:
    material = read_one("cert.crt", openssl_pki.read(name))
    assert codes(material) == ["certificate_request"]
    assert [i.kind for i in material.inputs] == ["certificate_request"]
    assert material.findings[0].message.startswith("cert.crt: ")
    assert "signing request" in material.findings[0].message
    assert material.certificates == []


# --- kinds are decided by content, never by name -------------------------------------------
def test_extension_is_ignored(openssl_pki: OpenSSLPKI) -> None:
    material = read_inputs(
        [
            InputFile("cert.key", openssl_pki.leaf_pem),  # a certificate named like a key
            InputFile("key.crt", openssl_pki.key_pem),
            InputFile("chain.pfx", openssl_pki.read("chain.p7b.der")),
        ]
    )
    assert [(i.name, i.kind) for i in material.inputs] == [
        ("cert.key", "certificate"),
        ("key.crt", "private_key"),
        ("chain.pfx", "pkcs7"),
    ]
    assert material.keys[0].source == "key.crt"


def test_input_kind_function() -> None:
    assert input_kind(has_certificates=True, has_keys=True) == "bundle"
    assert input_kind(has_certificates=True) == "certificate"
    assert input_kind(has_keys=True) == "private_key"
    assert input_kind(has_request=True) == "certificate_request"
    assert input_kind(container="pkcs12", has_keys=True) == "pkcs12"
    assert input_kind() == "unrecognized"


# --- what is not ours ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"  \r\n\n ", "empty"),
        (b"\xfe\xed\xfe\xed\x00\x00\x00\x02" + bytes(40), "Java KeyStore"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "Office document"),
        (b"%PDF-1.7\n" + bytes(50), "PDF"),
        (
            b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQENBF\n-----END PGP PUBLIC KEY BLOCK-----\n",
            "PGP",
        ),
        (b"hello, this is a text file\n", "not a certificate"),
        (b"\x30\x82\x10\x00\x02\x01", "truncated"),
        (b"-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n", "PUBLIC KEY"),
    ],
)
def test_unrecognized_files(data: bytes, words: str) -> None:
    material = read_one("mystery.crt", data)
    assert codes(material) == ["unrecognized_file"]
    assert material.findings[0].severity is Severity.ERROR
    assert material.findings[0].message.startswith("mystery.crt: ")
    assert words in material.findings[0].message
    assert [i.kind for i in material.inputs] == ["unrecognized"]


def test_docx_is_named_as_an_office_document() -> None:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<doc/>")
    material = read_one("cert.docx", buffer.getvalue())
    assert codes(material) == ["unrecognized_file"]
    assert "Office document" in material.findings[0].message


def test_truncated_pem(openssl_pki: OpenSSLPKI) -> None:
    data = openssl_pki.read("fullchain.pem")
    material = read_one("fullchain.pem", data[: len(data) - 200])
    assert len(material.certificates) == 1  # the complete first block still counts
    assert codes(material) == ["unrecognized_file"]
    assert "block 2 (CERTIFICATE) is cut off" in material.findings[0].message


def test_damaged_key_block_is_named(openssl_pki: OpenSSLPKI) -> None:
    lines = openssl_pki.key_pem.splitlines()
    lines = lines[:4] + lines[-1:]  # valid base64 and framing, DER cut short
    data = openssl_pki.leaf_pem + b"\n".join(lines) + b"\n"
    material = read_one("bundle.pem", data)
    assert codes(material) == ["unrecognized_file"]
    message = material.findings[0].message
    assert message.startswith("bundle.pem: the private key in block 2 (PRIVATE KEY)")
    assert len(material.certificates) == 1 and material.keys == []


def test_damaged_certificate_block_is_named(openssl_pki: OpenSSLPKI) -> None:
    data = openssl_pki.leaf_pem.replace(
        b"-----BEGIN CERTIFICATE-----\n", b"-----BEGIN CERTIFICATE-----\nAAAA"
    )
    material = read_one("leaf.pem", data)
    assert codes(material) == ["unrecognized_file"]
    assert "block 1 (CERTIFICATE)" in material.findings[0].message


def test_harmless_blocks_are_ignored(openssl_pki: OpenSSLPKI) -> None:
    material = read_fixture(openssl_pki, "ec.params.key")
    assert b"EC PARAMETERS" in openssl_pki.read("ec.params.key")
    assert material.findings == [] and len(material.keys) == 1


# --- real-world layouts --------------------------------------------------------------------
def test_lets_encrypt_folder(openssl_pki: OpenSSLPKI) -> None:
    files = [
        InputFile("cert.pem", openssl_pki.leaf_pem),
        InputFile("chain.pem", openssl_pki.read("chain.pem")),
        InputFile("fullchain.pem", openssl_pki.read("fullchain.pem")),
        InputFile("privkey.pem", openssl_pki.key_pem),
    ]
    material = read_inputs(files)
    assert material.findings == []
    assert [(i.name, i.kind) for i in material.inputs] == [
        ("cert.pem", "certificate"),
        ("chain.pem", "certificate"),
        ("fullchain.pem", "certificate"),
        ("privkey.pem", "private_key"),
    ]
    assert [c.source for c in material.certificates] == [
        "cert.pem",
        "chain.pem",
        "fullchain.pem",
        "fullchain.pem",
    ]
    assert [k.source for k in material.keys] == ["privkey.pem"]


def test_der_with_trailing_newline(openssl_pki: OpenSSLPKI) -> None:
    material = read_one("leaf.cer", openssl_pki.read("leaf.der") + b"\r\n")
    assert material.findings == [] and len(material.certificates) == 1


def test_base64_without_pem_lines(openssl_pki: OpenSSLPKI) -> None:
    import base64

    for name in ("leaf.der", "leaf.pkcs8.der"):
        text = base64.encodebytes(openssl_pki.read(name))
        material = read_one("pasted.txt", text)
        assert material.findings == [], name
        assert len(material.certificates) + len(material.keys) == 1
