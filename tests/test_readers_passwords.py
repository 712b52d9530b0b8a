"""Passwords: missing, wrong and right for every encrypted format; secrets never shown."""

from __future__ import annotations

import pytest

from bot.pipeline.material import InputFile, Material, Passwords
from bot.pipeline.readers import read_inputs
from tests.support.openssl_pki import FILES, OpenSSLPKI
from tests.support.pki import _short_iv_key

ENCRYPTED = [
    ("leaf.enc-pkcs8.pem", "private_key"),
    ("leaf.enc-pkcs8.der", "private_key"),
    ("leaf.enc-trad.pem", "private_key"),
    ("ec.enc-trad.pem", "private_key"),
    ("legacy.pfx", "pkcs12"),
    ("3des.pfx", "pkcs12"),
    ("modern.pfx", "pkcs12"),
    ("ec.pfx", "pkcs12"),
    ("nomac-enc.pfx", "pkcs12"),  # no MAC: the key itself tells the password is wrong
]
UNENCRYPTED = ["leaf.key", "leaf.pkcs1.der", "ec.key", "nopass.pfx", "plain.pfx", "nomac.pfx"]


def read(pki_: OpenSSLPKI, name: str, password: bytes | None) -> Material:
    return read_inputs([InputFile(name, pki_.read(name))], Passwords(key=password))


@pytest.mark.parametrize(("name", "kind"), ENCRYPTED)
def test_missing_password(openssl_pki: OpenSSLPKI, name: str, kind: str) -> None:
    for password in (None, b""):  # an empty password counts as none
        material = read(openssl_pki, name, password)
        assert [f.code for f in material.findings] == ["password_required"]
        assert material.findings[0].message.startswith(f"{name}: ")
        assert [i.kind for i in material.inputs] == [kind]
        assert material.keys == []


@pytest.mark.parametrize(("name", "kind"), ENCRYPTED)
def test_wrong_password(openssl_pki: OpenSSLPKI, name: str, kind: str) -> None:
    material = read(openssl_pki, name, b"not the password")
    assert [f.code for f in material.findings] == ["wrong_password"]
    assert [i.kind for i in material.inputs] == [kind]
    assert material.keys == []


@pytest.mark.parametrize(("name", "kind"), ENCRYPTED)
def test_right_password(openssl_pki: OpenSSLPKI, name: str, kind: str) -> None:
    material = read(openssl_pki, name, openssl_pki.password)
    assert material.findings == []
    assert len(material.keys) == 1


@pytest.mark.parametrize("name", UNENCRYPTED)
def test_password_given_to_unencrypted_file_is_ignored(openssl_pki: OpenSSLPKI, name: str) -> None:
    material = read(openssl_pki, name, b"needless password")
    assert material.findings == []
    assert len(material.keys) == 1


def test_a_wrong_key_password_does_not_hide_other_files(openssl_pki: OpenSSLPKI) -> None:
    files = [
        InputFile("cert.pem", openssl_pki.leaf_pem),
        InputFile("key.pem", openssl_pki.read("leaf.enc-trad.pem")),
    ]
    material = read_inputs(files, Passwords(key=b"bad"))
    assert [f.code for f in material.findings] == ["wrong_password"]
    assert len(material.certificates) == 1
    assert [i.kind for i in material.inputs] == ["certificate", "private_key"]


def test_secrets_never_appear_in_findings_or_reprs(openssl_pki: OpenSSLPKI) -> None:
    secret_lines = [
        line
        for name in ("leaf.key", "leaf.pkcs1.pem", "ec.key")
        for line in openssl_pki.read(name).decode().splitlines()
        if line and not line.startswith("-----")
    ]
    password = openssl_pki.password.decode()
    texts: list[str] = []
    for given in (None, openssl_pki.password, b"wrong secret pw"):
        for name in FILES:
            passwords = Passwords(key=given, zip=given)
            material = read_inputs([InputFile(name, openssl_pki.read(name))], passwords)
            texts += [repr(material), repr(passwords)]
            texts += [f"{f.message} {f.hint} {f!r}" for f in material.findings]
            texts += [repr(k) for k in material.keys]
    blob = "\n".join(texts)
    assert "wrong secret pw" not in blob and password not in blob
    for line in secret_lines:
        assert line not in blob
    assert "password_required" in blob and "wrong_password" in blob  # findings were made


# --- a damaged DEK-Info header (found by the hypothesis tests) -----------------------------


@pytest.mark.parametrize("password", [b"right", b"wrong", None])
def test_a_short_iv_is_a_damaged_key_not_a_crash(password: bytes | None) -> None:
    """cryptography's Rust core panics on this IV (PanicException is no Exception)."""
    material = read_inputs([InputFile("key.pem", _short_iv_key())], Passwords(key=password))
    assert material.keys == []
    assert [f.code for f in material.findings] == ["unrecognized_file"]
    assert "damaged" in material.findings[0].message
    assert b"right".decode() not in material.findings[0].message


def test_the_panic_guard_turns_a_real_library_panic_into_an_error() -> None:
    """Past the header check (called directly), the library really panics; the guard
    makes it an ordinary error, reported as a key the password does not open."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from bot.pipeline.readers.keys import KeyStatus, _load

    assert _load(load_pem_private_key, _short_iv_key(), b"right").status in {
        KeyStatus.WRONG_PASSWORD,
        KeyStatus.INVALID,
    }


def test_an_iv_that_is_not_hex_is_damaged() -> None:
    pem = _short_iv_key(32).replace(b"DEK-Info: AES-256-CBC,", b"DEK-Info: AES-256-CBC,ZZ", 1)
    material = read_inputs([InputFile("key.pem", pem)], Passwords(key=b"right"))
    assert [f.code for f in material.findings] == ["unrecognized_file"]
