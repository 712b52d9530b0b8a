"""Limits for reading uploads: what stops a zip bomb or a certificate flood before it costs.

Certificates per file and per upload (all files and ZIP members together) are counted
from the structure before any certificate is parsed: PEM BEGIN lines, the members of a
PKCS#7 SET, the certificate bags of a PKCS#12. A TLS chain is the leaf and one to three
intermediates (a root at most besides); a CA's bundle a handful more. 100 per file leaves
twenty times that room, and still refuses a full root store pasted in by mistake
(Mozilla's holds about 150 roots), which is not what the upload form wants either; 200
per upload lets ten such files through together. Parsing costs about 0.45 ms and 10 KB a
certificate (a 5 MB PEM of 10,000 took 4-5 s and 100 MB): 200 cost about 0.1 s and 2 MB.
"""

from __future__ import annotations

from dataclasses import dataclass

KIB = 1024
MIB = 1024 * KIB
MAX_CERTIFICATES_PER_FILE = 100
MAX_CERTIFICATES_PER_UPLOAD = 200


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
