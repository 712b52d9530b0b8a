"""ZIP archives: layouts, passwords (ZipCrypto and AES), unsafe names, and zip bombs."""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
import zlib
from pathlib import Path

import pytest
import pyzipper

from bot.pipeline.findings import Severity
from bot.pipeline.material import InputFile, Material, Passwords
from bot.pipeline.readers import ArchiveLimits, read_inputs
from bot.pipeline.readers.archive import is_unsafe_path
from tests.support.openssl_pki import OpenSSLPKI
from tests.support.zips import MIB, RawMember, raw_zip, zeros_deflated

ZIP_PW = b"zip pass 7"


def codes(material: Material) -> list[str]:
    return [f.code for f in material.findings]


def std_zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def aes_zip(members: dict[str, bytes], password: bytes) -> bytes:
    buffer = io.BytesIO()
    with pyzipper.AESZipFile(
        buffer, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES
    ) as archive:
        archive.setpassword(password)
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def cli_zip(tmp: Path, members: dict[str, bytes], password: bytes | None = None) -> bytes:
    """A ZIP made by Info-ZIP's `zip` (ZipCrypto when a password is given)."""
    folder = tmp / "content"
    shutil.rmtree(folder, ignore_errors=True)
    for name, data in members.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    out = tmp / "out.zip"
    out.unlink(missing_ok=True)
    args = ["zip", "-q", "-r"] + (["-P", password.decode()] if password else [])
    subprocess.run([*args, str(out), "."], cwd=folder, check=True)
    return out.read_bytes()


# --- hand-written ZIPs (tests/support/zips.py), so that headers can say whatever we like --


@pytest.fixture(scope="session")
def gib_of_zeros() -> tuple[bytes, int]:
    return zeros_deflated(1024)


def test_raw_zip_writer_is_a_valid_zip() -> None:
    stream, crc = zeros_deflated(2)
    data = raw_zip([RawMember("zeros.bin", stream, crc, 2 * MIB)])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.read("zeros.bin") == bytes(2 * MIB)


# --- layouts -------------------------------------------------------------------------------
def test_nested_folders_and_junk(openssl_pki: OpenSSLPKI) -> None:
    data = std_zip(
        {
            "certs/site/leaf.crt": openssl_pki.leaf_pem,
            "certs/site/ca/inter.crt": openssl_pki.inter_pem,
            "private/leaf.key": openssl_pki.key_pem,
            "__MACOSX/certs/._leaf.crt": b"\x00\x05\x16\x07junk",
            "certs/.DS_Store": b"\x00\x00\x00\x01Bud1",
            "certs/empty-dir/": b"",
        }
    )
    material = read_inputs([InputFile("site.zip", data)])
    assert material.findings == []
    assert [(i.name, i.kind) for i in material.inputs] == [
        ("site.zip", "zip"),
        ("site.zip:certs/site/leaf.crt", "certificate"),
        ("site.zip:certs/site/ca/inter.crt", "certificate"),
        ("site.zip:private/leaf.key", "private_key"),
    ]
    assert [c.source for c in material.certificates] == [
        "site.zip:certs/site/leaf.crt",
        "site.zip:certs/site/ca/inter.crt",
    ]
    assert material.keys[0].source == "site.zip:private/leaf.key"


def test_every_format_inside_a_zip(openssl_pki: OpenSSLPKI, tmp_path: Path) -> None:
    names = ["leaf.der", "chain.p7b.der", "modern.pfx", "leaf.enc-trad.pem", "leaf.csr.pem"]
    data = cli_zip(tmp_path, {n: openssl_pki.read(n) for n in names})
    material = read_inputs([InputFile("all.zip", data)], Passwords(key=openssl_pki.password))
    kinds = {i.name: i.kind for i in material.inputs}
    assert kinds == {
        "all.zip": "zip",
        "all.zip:leaf.der": "certificate",
        "all.zip:chain.p7b.der": "pkcs7",
        "all.zip:modern.pfx": "pkcs12",
        "all.zip:leaf.enc-trad.pem": "private_key",
        "all.zip:leaf.csr.pem": "certificate_request",
    }
    assert codes(material) == ["certificate_request"]
    assert len(material.keys) == 2


def test_ca_zip_without_key_plus_separate_key(openssl_pki: OpenSSLPKI) -> None:
    """What a commercial CA sends: the leaf and a .ca-bundle; the key stays with the user."""
    data = std_zip(
        {
            "app_example_com.crt": openssl_pki.leaf_pem,
            "app_example_com.ca-bundle": openssl_pki.inter_pem + openssl_pki.root_pem,
            "README.txt": b"Thank you for your order.\n",
        }
    )
    material = read_inputs(
        [InputFile("app_example_com.zip", data), InputFile("app.key", openssl_pki.key_pem)]
    )
    assert len(material.certificates) == 3 and len(material.keys) == 1
    # An unreadable README is noted, not an error.
    assert [(f.code, f.severity) for f in material.findings] == [
        ("unrecognized_file", Severity.INFO)
    ]
    assert "app_example_com.zip:README.txt" in material.findings[0].message
    assert ("app_example_com.zip:app_example_com.ca-bundle", "certificate") in [
        (i.name, i.kind) for i in material.inputs
    ]


def test_damaged_material_member_is_an_error() -> None:
    material = read_inputs([InputFile("a.zip", std_zip({"leaf.crt": b"not a cert"}))])
    assert [(f.code, f.severity) for f in material.findings] == [
        ("unrecognized_file", Severity.ERROR)
    ]
    assert material.findings[0].message.startswith("a.zip:leaf.crt: ")


def test_zip_inside_a_zip(openssl_pki: OpenSSLPKI) -> None:
    inner = std_zip({"leaf.pem": openssl_pki.leaf_pem})
    outer = std_zip({"bundle/inner.zip": inner, "key.pem": openssl_pki.key_pem})
    material = read_inputs([InputFile("outer.zip", outer)])
    assert material.findings == []
    assert material.certificates[0].source == "outer.zip:bundle/inner.zip:leaf.pem"
    assert ("outer.zip:bundle/inner.zip", "zip") in [(i.name, i.kind) for i in material.inputs]


def test_nesting_is_bounded(openssl_pki: OpenSSLPKI) -> None:
    level2 = std_zip({"leaf.pem": openssl_pki.leaf_pem})
    level1 = std_zip({"l2.zip": level2})
    outer = std_zip({"l1.zip": level1})
    material = read_inputs([InputFile("outer.zip", outer)])
    assert codes(material) == ["archive_too_large"]
    assert "nested" in material.findings[0].message
    assert material.certificates == []


def test_unsafe_members_are_read_and_flagged(openssl_pki: OpenSSLPKI) -> None:
    data = raw_zip(
        [
            RawMember("../../etc/leaf.pem", openssl_pki.leaf_pem, zlib.crc32(openssl_pki.leaf_pem),
                      len(openssl_pki.leaf_pem), method=0),
            RawMember("/abs/key.pem", openssl_pki.key_pem, zlib.crc32(openssl_pki.key_pem),
                      len(openssl_pki.key_pem), method=0),
        ]
    )  # fmt: skip
    material = read_inputs([InputFile("evil.zip", data)])
    assert codes(material) == ["archive_unsafe_member", "archive_unsafe_member"]
    assert all(f.severity is Severity.WARNING for f in material.findings)
    assert "evil.zip:../../etc/leaf.pem" in material.findings[0].message
    assert len(material.certificates) == 1 and len(material.keys) == 1


@pytest.mark.parametrize(
    ("path", "unsafe"),
    [
        ("a/b.pem", False),
        ("..pem", False),
        ("a/../b.pem", True),
        ("..\\b.pem", True),
        ("/etc/x", True),
        ("\\x", True),
        ("C:/x", True),
    ],
)
def test_is_unsafe_path(path: str, unsafe: bool) -> None:
    assert is_unsafe_path(path) is unsafe


# --- passwords -----------------------------------------------------------------------------
def zipcrypto(tmp: Path, pki_: OpenSSLPKI) -> bytes:
    return cli_zip(tmp, {"leaf.pem": pki_.leaf_pem, "leaf.key": pki_.key_pem}, ZIP_PW)


def aes(tmp: Path, pki_: OpenSSLPKI) -> bytes:
    return aes_zip({"leaf.pem": pki_.leaf_pem, "leaf.key": pki_.key_pem}, ZIP_PW)


@pytest.mark.parametrize("make", [zipcrypto, aes], ids=["zipcrypto", "aes"])
def test_zip_passwords(openssl_pki: OpenSSLPKI, tmp_path: Path, make: object) -> None:
    data = make(tmp_path, openssl_pki)  # type: ignore[operator]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert all(i.flag_bits & 1 for i in archive.infolist())  # really encrypted

    right = read_inputs([InputFile("s.zip", data)], Passwords(zip=ZIP_PW))
    assert right.findings == []
    assert len(right.certificates) == 1 and len(right.keys) == 1

    missing = read_inputs([InputFile("s.zip", data)])
    assert codes(missing) == ["password_required"]  # once per archive, not per member
    assert missing.findings[0].message.startswith("s.zip:leaf.")
    assert "zip-password-file" in missing.findings[0].hint

    wrong = read_inputs([InputFile("s.zip", data)], Passwords(zip=b"nope"))
    assert codes(wrong) == ["wrong_password"]
    assert wrong.certificates == [] and wrong.keys == []

    # Without a ZIP password, the key password is tried (people often use one for both).
    shared = read_inputs([InputFile("s.zip", data)], Passwords(key=ZIP_PW))
    assert shared.findings == [] and len(shared.keys) == 1
    shared_wrong = read_inputs([InputFile("s.zip", data)], Passwords(key=b"nope"))
    assert codes(shared_wrong) == ["wrong_password"]
    assert "key password" in shared_wrong.findings[0].message


def test_zip_password_is_not_tried_on_keys(openssl_pki: OpenSSLPKI) -> None:
    data = std_zip({"enc.pem": openssl_pki.read("leaf.enc-pkcs8.pem")})
    material = read_inputs([InputFile("k.zip", data)], Passwords(zip=openssl_pki.password))
    assert codes(material) == ["password_required"]


def test_zip_password_ignored_for_plain_zip(openssl_pki: OpenSSLPKI) -> None:
    data = std_zip({"leaf.pem": openssl_pki.leaf_pem})
    material = read_inputs([InputFile("p.zip", data)], Passwords(zip=b"unused"))
    assert material.findings == [] and len(material.certificates) == 1


# --- limits and zip bombs ------------------------------------------------------------------
def test_honest_gib_bomb_stops_on_headers(gib_of_zeros: tuple[bytes, int]) -> None:
    stream, crc = gib_of_zeros
    data = raw_zip([RawMember("zeros.pem", stream, crc, 1024 * MIB)])
    material = read_inputs([InputFile("bomb.zip", data)])
    assert codes(material) == ["archive_too_large"]
    assert "bomb.zip:zeros.pem" in material.findings[0].message
    assert material.inputs[0].kind == "zip"


def test_lying_headers_stop_while_decompressing(gib_of_zeros: tuple[bytes, int]) -> None:
    stream, crc = gib_of_zeros
    data = raw_zip([RawMember("small.pem", stream, crc, 1000)])  # declares 1000 bytes
    material = read_inputs([InputFile("liar.zip", data)])
    assert codes(material) == ["archive_too_large"]
    assert "declares" in material.findings[0].message


def test_lying_headers_under_the_ratio_floor() -> None:
    """A member declared tiny (so no ratio check) that inflates to 10 MiB."""
    stream, crc = zeros_deflated(10)
    data = raw_zip([RawMember("tiny.pem", stream, crc, 100)])
    material = read_inputs([InputFile("liar.zip", data)])
    assert codes(material) == ["archive_too_large"]


def test_ratio_limit() -> None:
    stream, crc = zeros_deflated(2)  # 2 MiB under the member limit, but ~1000:1
    material = read_inputs([InputFile("r.zip", raw_zip([RawMember("z", stream, crc, 2 * MIB)]))])
    assert codes(material) == ["archive_too_large"]
    assert "compressed" in material.findings[0].message


def test_too_many_members() -> None:
    data = std_zip({f"f{i}.txt": b"x" for i in range(201)})
    material = read_inputs([InputFile("many.zip", data)])
    assert codes(material) == ["archive_too_large"]
    assert "200 entries" in material.findings[0].message


def test_limits_are_configurable(openssl_pki: OpenSSLPKI) -> None:
    data = std_zip({"leaf.pem": openssl_pki.leaf_pem, "key.pem": openssl_pki.key_pem})
    assert read_inputs([InputFile("a.zip", data)]).findings == []
    for limits in (
        ArchiveLimits(max_archive_bytes=len(data) - 1),
        ArchiveLimits(max_members=1),
        ArchiveLimits(max_member_bytes=len(openssl_pki.key_pem) - 1),
        ArchiveLimits(max_total_bytes=len(openssl_pki.key_pem)),
    ):
        material = read_inputs([InputFile("a.zip", data)], limits=limits)
        assert codes(material) == ["archive_too_large"], limits


def test_total_budget_spans_files_and_nesting(openssl_pki: OpenSSLPKI) -> None:
    pem = openssl_pki.leaf_pem
    one = std_zip({"a.pem": pem})
    limits = ArchiveLimits(max_total_bytes=len(pem) + 10)
    files = [InputFile("1.zip", one), InputFile("2.zip", one)]
    material = read_inputs(files, limits=limits)
    assert codes(material) == ["archive_too_large"]
    assert material.findings[0].message.startswith("2.zip")


def test_damaged_zip() -> None:
    data = std_zip({"a.pem": b"x" * 100})
    material = read_inputs([InputFile("cut.zip", data[:40])])
    assert codes(material) == ["unrecognized_file"]
    assert material.findings[0].message.startswith("cut.zip: ")
