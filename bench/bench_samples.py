"""Benchmark: `certops samples` (issue 15). What writing the sample sets costs, the first
time in a process (the 8192-bit RSA key is made then) and again (the key is kept), and
what the 8192-bit key alone costs, whose time OpenSSL spends searching for primes and so
varies widely from one run to the next.

Run: .venv/bin/python bench/bench_samples.py [--runs N]
Prints figures only; it asserts nothing (timings belong here, not in unit tests).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.samples import write_samples
from bot.samples.pki import LARGE_KEY_BITS, new_key


def seconds(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each figure (default 5)")
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        first = seconds(lambda: write_samples(root / "first"))
        print(f"write_samples, first in the process (8192-bit key made): {first:6.2f} s")
        again = [seconds(lambda i=i: write_samples(root / f"again-{i}")) for i in range(runs)]
        print(
            f"write_samples, again (key kept):            median {statistics.median(again):6.2f} s"
            f"   max {max(again):6.2f} s   (n={runs})"
        )
    keys = sorted(seconds(lambda: new_key(LARGE_KEY_BITS)) for _ in range(runs))
    print(
        f"one {LARGE_KEY_BITS}-bit RSA key:                     median {statistics.median(keys):6.2f} s"
        f"   min {keys[0]:6.2f} s   max {keys[-1]:6.2f} s   (n={runs})"
    )


if __name__ == "__main__":
    main()
