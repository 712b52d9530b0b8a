"""Checking files in a worker process, so that a key derivation never holds the bot's GIL.

cryptography runs a PBKDF2 derivation, a PKCS#12 MAC check or a large parse while
holding Python's global lock: for as long as it runs, no other thread of the process
moves, the threads that acknowledge Slack included. Caps on iteration counts bound the
worst case; files just under the caps (hundreds of thousands of rounds, a few of them
per PFX) still cost a quarter of a second to seconds each. Run in a worker process, they
cost the bot's threads nothing: the lock held is the worker's.

One worker process (checks run one at a time anyway: bot/work_pool.CPU_SLOTS), started
on first use with `spawn` (never `fork` in a threaded process), kept for later checks.
A check that runs past `timeout` gets the worker terminated (a new one starts for the
next check) and raises `CheckTimeout`: nothing, however costly, holds a worker for ever.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable
from multiprocessing.pool import Pool
from typing import Any, TypeVar

log = logging.getLogger("certops.isolation")
T = TypeVar("T")

DEFAULT_TIMEOUT = 60.0
CHECKS_PER_WORKER = 500


class CheckTimeout(Exception):
    """A check ran past its time and was stopped."""


class Isolated:
    """Runs picklable functions in a worker process, one at a time."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout
        self._pool: Pool | None = None
        self._lock = threading.Lock()

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in the worker; CheckTimeout past `timeout` (the worker is replaced)."""
        with self._lock:  # one check at a time: the worker is one process
            pool = self._pool or self._start()
            pending = pool.apply_async(fn, args)
            try:
                return pending.get(self.timeout)
            except multiprocessing.TimeoutError:
                log.warning("a check ran past %.0f s: its worker process was stopped", self.timeout)
                self._stop()
                raise CheckTimeout from None

    def _start(self) -> Pool:
        # A fresh worker now and then: what a long life of checks leaves in its heap
        # (fragments, caches) goes with it.
        context = multiprocessing.get_context("spawn")
        self._pool = context.Pool(1, maxtasksperchild=CHECKS_PER_WORKER)
        return self._pool

    def _stop(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def close(self) -> None:
        with self._lock:
            self._stop()
