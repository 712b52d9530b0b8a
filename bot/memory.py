"""Giving freed memory back to the system, so that a burst does not stay in RSS for ever.

Checking a file briefly needs memory in proportion to the file (a bundle of thousands
of certificates: tens of MB). Python frees it, but glibc's allocator keeps freed memory
in per-thread arenas (up to eight per core) and raises its mmap threshold after large
frees, so big buffers land in those arenas too: RSS then stays at the high-water mark of
the worst burst, per thread, and a container's memory limit sees a leak that is not one.
Two standard glibc knobs, used where the bot runs (Linux with glibc; elsewhere no-ops):

- `limit_arenas()`, at start: two arenas instead of sixteen on two cores, set before the
  threads that would each get one (MALLOC_ARENA_MAX=2 in the environment does the same);
- `give_back()`, after each check (bot/work_pool.WorkPool.cpu): `malloc_trim(0)` hands
  the free pages at the top of every arena back to the system; it costs about a
  millisecond, next to checks that take tens.

bench/bench_soak.py measures the effect: RSS over 1,000 mixed requests.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from functools import cache
from typing import Any

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc's mallopt parameter number
ARENAS = 2


@cache
def _libc() -> Any | None:
    """glibc, when this process runs on it (musl and macOS have no malloc_trim)."""
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


def limit_arenas(count: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas (call before starting threads); True when applied."""
    libc = _libc()
    if libc is None:
        return False
    applied = bool(libc.mallopt(M_ARENA_MAX, count))
    log.debug("malloc arenas limited to %d: %s", count, applied)
    return applied


def give_back() -> None:
    """Return free heap pages to the system (glibc's malloc_trim); a no-op elsewhere."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
