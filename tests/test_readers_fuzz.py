"""Property tests: random and mutated bytes only ever give `Material`, never an exception.

Two levels: the public `read_inputs` (which has a last-resort guard), and the format
readers below that guard (`detect._read`), so that the guard is never what saves us.
"""

from __future__ import annotations

import io
import zipfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.pipeline.findings import CATALOG
from bot.pipeline.material import INPUT_KINDS, InputFile, Material, Passwords
from bot.pipeline.readers import ArchiveLimits, read_inputs
from bot.pipeline.readers.archive import ArchiveBudget
from bot.pipeline.readers.detect import _read
from tests.support.openssl_pki import FILES, OpenSSLPKI

NAMES = sorted(FILES)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(data: bytes, password: bytes | None) -> Material:
    passwords = Passwords(key=password, zip=password)
    unguarded = _read(InputFile("fuzz.bin", data), passwords, ArchiveBudget(ArchiveLimits()), 0)
    material = read_inputs([InputFile("fuzz.bin", data)], passwords)
    for result in (unguarded, material):
        assert isinstance(result, Material)
        assert result.inputs and result.inputs[0].name == "fuzz.bin"
        assert all(i.kind in INPUT_KINDS for i in result.inputs)
        assert all(f.code in CATALOG for f in result.findings)
        assert all(f.message.startswith("fuzz.bin") for f in result.findings)
    return material


passwords = st.sampled_from([None, b"", b"correct horse 42", b"wrong"])


@SETTINGS
@given(data=st.binary(max_size=3000), password=passwords)
def test_random_bytes(data: bytes, password: bytes | None) -> None:
    check(data, password)


@SETTINGS
@given(
    data=st.binary(min_size=1, max_size=600),
    prefix=st.sampled_from(
        [b"0\x82", b"PK\x03\x04", b"-----BEGIN CERTIFICATE-----\n", b"\xff\xfe"]
    ),
)
def test_random_bytes_behind_real_magic(data: bytes, prefix: bytes) -> None:
    check(prefix + data, None)


@st.composite
def mutation(draw: st.DrawFn, size: int) -> tuple[str, int, int, bytes]:
    operation = draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
    position = draw(st.integers(0, max(size - 1, 0)))
    length = draw(st.integers(1, 64))
    junk = draw(st.binary(min_size=1, max_size=16))
    return operation, position, length, junk


def mutate(data: bytes, operation: str, position: int, length: int, junk: bytes) -> bytes:
    if operation == "flip":
        flipped = bytearray(data)
        for i in range(position, min(position + length, len(data)), 7):
            flipped[i] ^= 1 << (i % 8)
        return bytes(flipped)
    if operation == "truncate":
        return data[:position]
    if operation == "insert":
        return data[:position] + junk + data[position:]
    return data[:position] + data[position + length :]


@SETTINGS
@given(name=st.sampled_from(NAMES), data=st.data(), password=passwords)
def test_mutated_fixtures(
    openssl_pki: OpenSSLPKI, name: str, data: st.DataObject, password: bytes | None
) -> None:
    original = openssl_pki.read(name)
    operation, position, length, junk = data.draw(mutation(len(original)))
    check(mutate(original, operation, position, length, junk), password)


@SETTINGS
@given(
    first=st.sampled_from([n for n in NAMES if n.endswith(".pem") or n.endswith(".key")]),
    second=st.sampled_from([n for n in NAMES if n.endswith(".pem") or n.endswith(".key")]),
    cut1=st.integers(0, 4000),
    cut2=st.integers(0, 4000),
)
def test_spliced_pem(
    openssl_pki: OpenSSLPKI, first: str, second: str, cut1: int, cut2: int
) -> None:
    a, b = openssl_pki.read(first), openssl_pki.read(second)
    check(a[: cut1 % (len(a) + 1)] + b[cut2 % (len(b) + 1) :], b"correct horse 42")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(NAMES), data=st.data())
def test_mutated_fixture_inside_a_zip(
    openssl_pki: OpenSSLPKI, name: str, data: st.DataObject
) -> None:
    original = openssl_pki.read(name)
    operation, position, length, junk = data.draw(mutation(len(original)))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"dir/{name}", mutate(original, operation, position, length, junk))
    archive_bytes = buffer.getvalue()
    material = check(archive_bytes, None)
    assert material.inputs[0].kind == "zip"
    # And the archive itself damaged.
    operation, position, length, junk = data.draw(mutation(len(archive_bytes)))
    check(mutate(archive_bytes, operation, position, length, junk), None)
