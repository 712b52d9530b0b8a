"""Benchmark of the DNS check's budget and parallelism, against loopback test servers.

    .venv/bin/python bench/bench_dns.py [--runs N]

(a) The whole process `python -m bot dns HOST --target T --nameserver <silent> --timeout 2`:
    wall time per run (target: at most 2.2 s, the budget plus start-up).
(b) Three nameservers whose every answer is delayed 0.05 s, 0.1 s and 0.2 s: the check with
    all three against each one alone and against their sum (target: about the slowest).
Prints numbers only; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.pipeline.dns_check import check_dns  # noqa: E402
from tests.support.dns_server import TARGET, ZONES, DnsServer, standard_records  # noqa: E402

HOST = "ok.example.com"
DELAYS = (0.05, 0.1, 0.2)


def _stats(values: list[float]) -> str:
    return (
        f"min {min(values):.3f} s  median {statistics.median(values):.3f} s  "
        f"max {max(values):.3f} s  (n={len(values)})"
    )


def bench_silent_process(runs: int) -> None:
    times: list[float] = []
    codes: set[int] = set()
    with DnsServer(mode="silent") as silent:
        command = [sys.executable, "-m", "bot", "dns", HOST, "--target", TARGET]
        command += ["--nameserver", silent.nameserver, "--timeout", "2"]
        for _ in range(runs):
            started = time.perf_counter()
            done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
            times.append(time.perf_counter() - started)
            codes.add(done.returncode)
    print("(a) whole process, one silent nameserver, --timeout 2 (target <= 2.2 s)")
    print(f"    wall time: {_stats(times)}; exit codes {sorted(codes)}")
    print(f"    runs over 2.2 s: {sum(t > 2.2 for t in times)} of {runs}")


def _timed_check(addresses: list[tuple[str, int]]) -> tuple[float, str]:
    started = time.perf_counter()
    report = check_dns(HOST, TARGET, nameservers=addresses, timeout=10.0)
    return time.perf_counter() - started, report.verdict


def bench_parallel(runs: int) -> None:
    servers = [DnsServer(standard_records(), zones=ZONES, delay=d).start() for d in DELAYS]
    try:
        alone: dict[float, list[float]] = {d: [] for d in DELAYS}
        together: list[float] = []
        verdicts: set[str] = set()
        for _ in range(runs):
            for delay, server in zip(DELAYS, servers, strict=True):
                elapsed, verdict = _timed_check([server.address])
                alone[delay].append(elapsed)
                verdicts.add(verdict)
            elapsed, verdict = _timed_check([s.address for s in servers])
            together.append(elapsed)
            verdicts.add(verdict)
    finally:
        for server in servers:
            server.stop()
    medians = {d: statistics.median(v) for d, v in alone.items()}
    slowest, total = max(medians.values()), sum(medians.values())
    both = statistics.median(together)
    print("(b) three nameservers, answers delayed " + ", ".join(f"{d:g} s" for d in DELAYS))
    for delay in DELAYS:
        print(f"    alone, delay {delay:g} s: {_stats(alone[delay])}")
    print(f"    all three at once:   {_stats(together)}")
    print(
        f"    median all three {both:.3f} s = {both / slowest:.2f} x the slowest alone "
        f"({slowest:.3f} s), {both / total:.2f} x their sum ({total:.3f} s); "
        f"verdicts {sorted(verdicts)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    bench_silent_process(args.runs)
    bench_parallel(args.runs)


if __name__ == "__main__":
    main()
