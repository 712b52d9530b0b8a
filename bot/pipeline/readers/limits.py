"""Limits for reading ZIP archives: what stops a zip bomb before it costs anything."""

from __future__ import annotations

from dataclasses import dataclass

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True)
class ArchiveLimits:
    """Bounds on an uploaded ZIP, checked on declared sizes first, then on actual bytes.

    Certificate files are a few KiB; the defaults leave two orders of magnitude of room
    while keeping the worst case (every limit reached) well under 100 MiB of memory.
    """

    max_archive_bytes: int = 20 * MIB  # the ZIP file itself
    max_total_bytes: int = 20 * MIB  # sum of uncompressed members, nested archives included
    max_members: int = 200  # entries in one archive (directories included)
    max_member_bytes: int = 5 * MIB  # one uncompressed member
    max_ratio: int = 100  # uncompressed / compressed, per member
    ratio_floor_bytes: int = 64 * KIB  # members smaller than this are never ratio-checked
    max_depth: int = 1  # ZIPs inside a ZIP: one level
