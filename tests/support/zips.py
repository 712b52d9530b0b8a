"""A hand-written ZIP writer, so that headers can say whatever a test likes (sizes, CRCs,
methods), and cheap deflate streams of many MiB of zeros: zip bombs made in milliseconds.

Shared by tests/test_readers_archive.py and bench/bench_rejects.py.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass
class RawMember:
    name: str
    compressed: bytes
    crc: int
    size: int  # the uncompressed size the headers declare
    method: int = 8  # deflate


def raw_zip(members: list[RawMember]) -> bytes:
    body, central = b"", b""
    for m in members:
        name = m.name.encode()
        local = struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 20, 0, m.method, 0, 0,
            m.crc, len(m.compressed), m.size, len(name), 0,
        )  # fmt: skip
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, m.method, 0, 0,
            m.crc, len(m.compressed), m.size, len(name), 0, 0, 0, 0, 0, len(body),
        ) + name  # fmt: skip
        body += local + name + m.compressed
    end = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(body), 0
    )
    return body + central + end


def zeros_deflated(mib: int) -> tuple[bytes, int]:
    """A raw deflate stream of `mib` MiB of zeros, and its CRC, made in well under a second.

    Full flushes make each MiB compress to the same bytes, so one MiB is compressed and
    its blocks repeated.
    """
    chunk = bytes(MIB)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    stream = first + again * (mib - 1) + compressor.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(mib):
        crc = zlib.crc32(chunk, crc)
    return stream, crc
