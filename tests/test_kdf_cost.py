"""Declared KDF costs over the cap are refused before any derivation, on every path.

Files are made by `openssl` and patched (tests/support/costly_files.py): 2,147,483,647 iterations
written into a 2-4 KB key or PFX. Had anything derived a key from one, the test would run
for many minutes; the bounds below are generous (seconds) and only there to fail loudly.
"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import pyzipper
from asn1crypto import algos, keys
from asn1crypto import pkcs12 as asn1_pkcs12
from Cryptodome.Cipher import ARC2
from cryptography import x509

from bot.pipeline.findings import CATALOG
from bot.pipeline.material import InputFile, Material, Passwords
from bot.pipeline.readers import rc2, read_inputs
from bot.pipeline.readers.kdf_cost import MAX_KDF_ITERATIONS, ScryptParams
from handlers.common.ids import UploadId
from tests.support.costly_files import (
    HUGE,
    hide_costly_key_in_certificate_block,
    patch_pfx,
    patch_pkcs8,
    to_pem,
)
from tests.support.openssl_pki import OpenSSLPKI
from tests.support.slack_harness import SlackHarness, slack_harness
from tests.support.slack_upload_fixtures import (
    button_in,
    click,
    last_update,
    opened_view,
    send_files,
    submit_view,
    text_value,
)
from tests.support.validate_cli import certops

GENEROUS_SECONDS = 5.0  # a refusal takes milliseconds; one derivation at 2^31 takes minutes
WRONG = b"not the password"


def costly(pki: OpenSSLPKI) -> dict[str, bytes]:
    """Every place a declared cost can sit, each patched to 2^31-1 iterations."""
    key_der = pki.read("leaf.enc-pkcs8.der")
    return {
        "key.der": patch_pkcs8(key_der, HUGE),
        "key.pem": to_pem(patch_pkcs8(key_der, HUGE)),
        "key-bag.pfx": patch_pfx(pki.read("modern.pfx"), key=HUGE),
        "legacy-key-bag.pfx": patch_pfx(pki.read("legacy.pfx"), key=HUGE),
        "mac.pfx": patch_pfx(pki.read("modern.pfx"), mac=HUGE),
        "legacy-mac.pfx": patch_pfx(pki.read("legacy.pfx"), mac=HUGE),
        "certs.pfx": patch_pfx(pki.read("modern.pfx"), certs=HUGE),
        "legacy-certs.pfx": patch_pfx(pki.read("legacy.pfx"), certs=HUGE),
        "nomac-key-bag.pfx": patch_pfx(pki.read("nomac-enc.pfx"), key=HUGE),
        "empty-password-key-bag.pfx": patch_pfx(pki.read("nopass.pfx"), key=HUGE),
    }


def timed_read(name: str, data: bytes, password: bytes | None) -> tuple[Material, float]:
    started = time.perf_counter()
    material = read_inputs([InputFile(name, data)], Passwords(key=password))
    return material, time.perf_counter() - started


def codes(material: Material) -> list[str]:
    return [f.code for f in material.findings]


@pytest.mark.parametrize("password", [None, b"right", b"wrong"])
def test_every_declared_cost_over_the_cap_is_refused_at_once(
    openssl_pki: OpenSSLPKI, password: bytes | None
) -> None:
    given = {None: None, b"right": openssl_pki.password, b"wrong": WRONG}[password]
    for name, data in costly(openssl_pki).items():
        assert len(data) < 4096, name
        material, seconds = timed_read(name, data, given)
        assert codes(material) == ["kdf_cost_too_high"], (name, material.findings)
        message = material.findings[0].message
        assert message.startswith(f"{name}: the password protection of ")
        assert "2,147,483,647 iterations" in message and "1,000,000" in message
        assert seconds < GENEROUS_SECONDS, (name, seconds)
        assert material.keys == [] and material.certificates == []


def test_the_finding_says_how_to_export_again() -> None:
    hint = CATALOG["kdf_cost_too_high"].hint
    assert "openssl pkcs8 -topk8" in hint and "openssl pkcs12 -export" in hint
    assert CATALOG["kdf_cost_too_high"].severity == "error"
    assert CATALOG["unsupported_encryption"].severity == "error"


def test_inside_a_zip_too(openssl_pki: OpenSSLPKI) -> None:
    files = costly(openssl_pki)
    buffer = io.BytesIO()
    with pyzipper.ZipFile(buffer, "w") as archive:
        archive.writestr("site/site.pfx", files["key-bag.pfx"])
        archive.writestr("site/site.key", files["key.pem"])
    material, seconds = timed_read("bundle.zip", buffer.getvalue(), openssl_pki.password)
    assert codes(material) == ["kdf_cost_too_high", "kdf_cost_too_high"]
    assert material.findings[0].message.startswith("bundle.zip:site/site.pfx: ")
    assert seconds < GENEROUS_SECONDS


def test_one_over_the_cap_is_refused_and_the_cap_itself_is_not(openssl_pki: OpenSSLPKI) -> None:
    key_der = openssl_pki.read("leaf.enc-pkcs8.der")
    over = read_inputs([InputFile("k.der", patch_pkcs8(key_der, MAX_KDF_ITERATIONS + 1))])
    assert codes(over) == ["kdf_cost_too_high"]
    at_cap = read_inputs([InputFile("k.der", patch_pkcs8(key_der, MAX_KDF_ITERATIONS))])
    assert codes(at_cap) == ["password_required"]  # read on: only the password is missing


@pytest.mark.parametrize(
    ("what", "args"),
    [
        ("Java keytool before JDK 8u301 (50,000 / MAC 100,000)", ("-legacy", "-iter", "100000")),
        ("Java keytool today (AES-256, 10,000)", ("-iter", "10000", "-macalg", "sha256")),
        ("Windows (AES-256 / SHA-256, 2,000)", ("-iter", "2000", "-macalg", "sha256")),
        ("Windows legacy (3DES / RC2-40, 2,000)", ("-legacy", "-iter", "2000")),
        ("cryptography (20,000)", ("-iter", "20000")),
    ],
)
def test_what_real_exporters_write_is_read(
    openssl_pki: OpenSSLPKI, tmp_path: Path, what: str, args: tuple[str, ...]
) -> None:
    out = tmp_path / "real.pfx"
    openssl_pki.openssl(
        "pkcs12", "-export", "-inkey", "leaf.key", "-in", "leaf.pem", "-certfile", "inter.pem",
        "-passout", f"pass:{openssl_pki.password.decode()}", *args, "-out", str(out),
    )  # fmt: skip
    material = read_inputs(
        [InputFile("real.pfx", out.read_bytes())], Passwords(key=openssl_pki.password)
    )
    assert material.findings == [], what
    assert len(material.certificates) == 2 and len(material.keys) == 1


def _replace_pbes2(der: bytes, *, cipher: str | None = None, prf: str | None = None) -> bytes:
    info = keys.EncryptedPrivateKeyInfo.load(der)
    params = info["encryption_algorithm"]["parameters"]
    if cipher:
        params["encryption_scheme"] = algos.EncryptionAlgorithm(
            {"algorithm": cipher, "parameters": params["encryption_scheme"]["parameters"]}
        )
    if prf:
        kdf_params = params["key_derivation_func"]["parameters"]
        kdf_params["prf"] = algos.HmacAlgorithm({"algorithm": prf})
    return keys.EncryptedPrivateKeyInfo(
        {
            "encryption_algorithm": info["encryption_algorithm"],
            "encrypted_data": info["encrypted_data"].native,
        }
    ).dump(force=True)


def _scrypt_key(openssl_pki: OpenSSLPKI, n: int, r: int = 8, p: int = 1) -> bytes:
    """The leaf key as a scrypt-protected PKCS#8 DER, with N, r and p patched."""
    der = openssl_pki.openssl(
        "pkcs8", "-topk8", "-scrypt", "-in", "leaf.key", "-outform", "DER",
        "-passout", f"pass:{openssl_pki.password.decode()}",
    )  # fmt: skip
    info = keys.EncryptedPrivateKeyInfo.load(der)
    kdf = info["encryption_algorithm"]["parameters"]["key_derivation_func"]
    params = ScryptParams.load(kdf["parameters"].dump())
    patched = ScryptParams(
        {
            "salt": params["salt"].native,
            "cost_parameter": n,
            "block_size": r,
            "parallelization_parameter": p,
        }
    )
    kdf["parameters"] = patched
    return keys.EncryptedPrivateKeyInfo(
        {
            "encryption_algorithm": info["encryption_algorithm"],
            "encrypted_data": info["encrypted_data"].native,
        }
    ).dump(force=True)


def test_scrypt_is_read_up_to_its_cap(openssl_pki: OpenSSLPKI) -> None:
    default = _scrypt_key(openssl_pki, 16384)  # OpenSSL's default: 16 MiB, read as usual
    read = read_inputs([InputFile("s.der", default)], Passwords(key=openssl_pki.password))
    assert read.findings == [] and len(read.keys) == 1
    for n, r, p in [(1 << 20, 8, 1), (1 << 16, 8, 16), (1 << 31, 1, 1)]:
        material, seconds = timed_read("s.der", _scrypt_key(openssl_pki, n, r, p), WRONG)
        assert codes(material) == ["kdf_cost_too_high"], (n, r, p)
        assert f"scrypt with N={n:,}, r={r}, p={p}" in material.findings[0].message
        assert seconds < GENEROUS_SECONDS


def test_an_unknown_cipher_prf_or_mac_is_refused_not_handed_over_blind(
    openssl_pki: OpenSSLPKI,
) -> None:
    key_der = openssl_pki.read("leaf.enc-pkcs8.der")
    unknown_cipher = _replace_pbes2(key_der, cipher="1.3.6.1.4.1.99999.1")
    unknown_prf = _replace_pbes2(key_der, prf="1.3.6.1.4.1.99999.2")
    pfx = asn1_pkcs12.Pfx.load(openssl_pki.read("modern.pfx"))
    pfx["mac_data"]["mac"]["digest_algorithm"]["algorithm"] = "1.3.6.1.4.1.99999.3"
    unknown_mac = pfx.dump(force=True)
    for name, data in [("c.der", unknown_cipher), ("p.der", unknown_prf), ("m.pfx", unknown_mac)]:
        for password in (None, openssl_pki.password):
            material = read_inputs([InputFile(name, data)], Passwords(key=password))
            assert codes(material) == ["unsupported_encryption"], (name, material.findings)
            assert "1.3.6.1.4.1.99999" in material.findings[0].message


# --- the command line -------------------------------------------------------------------
@pytest.mark.parametrize(
    "name", ["key.pem", "key.der", "key-bag.pfx", "mac.pfx", "legacy-certs.pfx"]
)
def test_certops_validate_refuses_at_once(
    openssl_pki: OpenSSLPKI, tmp_path: Path, name: str
) -> None:
    path = tmp_path / name
    path.write_bytes(costly(openssl_pki)[name])
    password = tmp_path / "pw"
    password.write_bytes(openssl_pki.password + b"\n")
    started = time.perf_counter()
    proc = certops(path, str(openssl_pki.path("leaf.pem")), "--password-file", password, "--json")
    seconds = time.perf_counter() - started
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    refused = [f for f in report["findings"] if f["code"] == "kdf_cost_too_high"]
    assert len(refused) == 1 and refused[0]["severity"] == "error"
    assert "openssl pkcs12 -export" in refused[0]["hint"]
    (no_key,) = [f for f in report["findings"] if f["code"] == "no_private_key"]
    assert f"{name} was refused unread" in no_key["message"]
    assert seconds < 30, seconds  # interpreter start included; a derivation takes minutes


def test_certops_validate_without_a_password_file(openssl_pki: OpenSSLPKI, tmp_path: Path) -> None:
    path = tmp_path / "mac.pfx"
    path.write_bytes(costly(openssl_pki)["mac.pfx"])
    proc = certops(path, stdin=b"")  # not a terminal: no prompt, and none is needed
    assert proc.returncode == 1
    assert "kdf_cost_too_high" in proc.stdout and "password_required" not in proc.stdout


# --- the bot ------------------------------------------------------------------------------
@pytest.fixture
def slack(sqlite_url: str, openssl_pki: OpenSSLPKI) -> Iterator[SlackHarness]:
    roots = [x509.load_pem_x509_certificate(openssl_pki.root_pem)]
    with slack_harness(sqlite_url, extra_roots=roots) as harness:
        yield harness


def test_a_dm_upload_is_refused_without_asking_for_a_password(
    slack: SlackHarness, openssl_pki: OpenSSLPKI
) -> None:
    pfx = slack.api.add_file("site.pfx", costly(openssl_pki)["mac.pfx"])
    started = time.perf_counter()
    ex = send_files(slack, pfx)
    text = last_update(ex)
    assert "kdf_cost_too_high" in text and "2,147,483,647" in text
    assert UploadId.PASSWORD not in json.dumps(ex.of("chat.update")[0].blocks)
    assert time.perf_counter() - started < 30


@pytest.mark.parametrize("password", ["right", "wrong"])
def test_the_password_modal_answers_at_once(
    slack: SlackHarness, openssl_pki: OpenSSLPKI, password: str
) -> None:
    """A costly PFX beside a normal encrypted key: the modal's password reaches both."""
    files = costly(openssl_pki)
    pfx = slack.api.add_file("site.pfx", files["key-bag.pfx"])
    key = slack.api.add_file("other.key", openssl_pki.read("leaf.enc-pkcs8.pem"))
    ex = send_files(slack, pfx, key)
    button = button_in(ex.of("chat.update")[0].blocks, UploadId.PASSWORD)
    modal = opened_view(click(slack, UploadId.PASSWORD, button["value"]))
    value = openssl_pki.password.decode() if password == "right" else "not-the-password"
    started = time.perf_counter()
    done = submit_view(slack, modal, {"password": text_value(value)})
    text = last_update(done)
    assert "kdf_cost_too_high" in text
    assert time.perf_counter() - started < 30


@pytest.mark.parametrize("name", ["modern.pfx", "legacy.pfx"])
def test_a_costly_key_hidden_in_the_encrypted_certificate_block(
    openssl_pki: OpenSSLPKI, name: str
) -> None:
    """OpenSSL would decrypt the block, then run the key's 2^31 iterations: we look first."""
    pw = openssl_pki.password
    hidden = hide_costly_key_in_certificate_block(openssl_pki.read(name), pw, HUGE)
    for password in (pw, WRONG, None):
        material, seconds = timed_read(name, hidden, password)
        expected = {pw: "kdf_cost_too_high", WRONG: "wrong_password", None: "password_required"}
        assert codes(material)[:1] == [expected[password]], (password, material.findings)
        assert seconds < GENEROUS_SECONDS
    found = read_inputs([InputFile(name, hidden)], Passwords(key=pw))
    assert "the private key in this PKCS#12 file" in found.findings[0].message
    # the same file with an honest count is read whole: the certificates and the key
    honest = hide_costly_key_in_certificate_block(openssl_pki.read(name), pw, 2048)
    read = read_inputs([InputFile(name, honest)], Passwords(key=pw))
    assert read.findings == [] and len(read.keys) == 1 and len(read.certificates) == 2


def test_our_rc2_agrees_with_pycryptodome() -> None:
    """RFC 2268's RC2 in pure Python, checked against an independent implementation."""
    for key_bytes, bits in [(5, 40), (16, 128), (8, 63), (16, 40)]:
        key, iv, plain = os.urandom(key_bytes), os.urandom(8), os.urandom(64)
        ciphertext = ARC2.new(key, ARC2.MODE_CBC, iv=iv, effective_keylen=bits).encrypt(plain)
        assert rc2.decrypt_cbc(key, bits, iv, ciphertext) == plain
    # RFC 2268 section 5, vector 2: key ffffffffffffffff, 64 effective bits
    k = rc2.expand_key(bytes.fromhex("ffffffffffffffff"), 64)
    assert rc2._decrypt_block(k, bytes.fromhex("278b27e42e2f0d49")) == bytes.fromhex(
        "ffffffffffffffff"
    )


@pytest.mark.parametrize(
    "scheme",
    [
        ("-v2", "aes256", "-v2prf", "hmacWithSHA256"),
        ("-v2", "aes128", "-v2prf", "hmacWithSHA1"),
        ("-v2", "des3", "-v2prf", "hmacWithSHA512"),
        ("-v1", "PBE-SHA1-3DES"),
    ],
)
def test_encrypted_keys_are_decrypted_by_us_for_any_password(
    openssl_pki: OpenSSLPKI, scheme: tuple[str, ...]
) -> None:
    """Our derivation (the one that lets other threads run) reads what OpenSSL writes."""
    pw = openssl_pki.password
    der = openssl_pki.openssl(
        "pkcs8", "-topk8", *scheme, "-in", "leaf.key",
        "-outform", "DER", "-passout", f"pass:{pw.decode()}",
    )  # fmt: skip
    right = read_inputs([InputFile("k.der", der)], Passwords(key=pw))
    assert right.findings == [] and len(right.keys) == 1
    assert right.keys[0].key.key_size == 2048  # type: ignore[union-attr]
    assert codes(read_inputs([InputFile("k.der", der)], Passwords(key=WRONG))) == ["wrong_password"]
    pem = to_pem(der)
    assert read_inputs([InputFile("k.pem", pem)], Passwords(key=pw)).findings == []
