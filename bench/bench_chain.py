"""Benchmark: `build_chain` for an RSA-2048 leaf + intermediate + root (issue 2: the
in-process parse + match + verify of a two-certificate chain must stay under 1 ms median).

Run: .venv/bin/python bench/bench_chain.py [runs]
Prints figures only; it asserts nothing (timings belong here, not in unit tests).
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography import x509
from cryptography.x509 import verification

from bot.pipeline.chain import MAX_CANDIDATES, build_chain
from bot.pipeline.trust import TrustStore, certifi_roots
from tests.support.pki import CA, pem_bundle, rsa_key


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def line(label: str, samples: list[float]) -> None:
    samples = sorted(samples)
    p95 = samples[int(len(samples) * 0.95) - 1]
    print(
        f"{label:<52} median {statistics.median(samples):7.3f} ms   p95 {p95:7.3f} ms"
        f"   (n={len(samples)})"
    )


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    start = time.perf_counter()
    roots = certifi_roots()
    print(
        f"certifi bundle, first parse ({len(roots)} roots):        {(time.perf_counter() - start) * 1000:7.2f} ms (once per process)"
    )

    root = CA.root("Bench Root", key=rsa_key(2048, 1))
    inter = root.intermediate("Bench Intermediate", key=rsa_key(2048, 2))
    leaf = inter.leaf(sans=["bench.example.com"], key=rsa_key(2048, 3))
    now = dt.datetime.now(dt.UTC)
    bundle = pem_bundle(leaf.cert, inter.cert)
    trust = TrustStore([root.cert])  # certifi's roots plus the bench root

    def chain_only() -> None:
        result = build_chain(leaf.cert, [inter.cert], trust=trust, now=now)
        assert result.trusted

    def parse_and_chain() -> None:
        certs = x509.load_pem_x509_certificates(bundle)
        result = build_chain(certs[0], certs[1:], trust=TrustStore([root.cert]), now=now)
        assert result.trusted

    def messy_upload() -> None:
        # root first, then the intermediate twice: reordered, deduplicated, root kept
        result = build_chain(leaf.cert, [root.cert, inter.cert, inter.cert], trust=trust, now=now)
        assert result.trusted

    store = verification.Store([root.cert])

    def verifier_only() -> None:
        verifier = (
            verification.PolicyBuilder()
            .store(store)
            .time(now)
            .build_server_verifier(x509.DNSName("bench.example.com"))
        )
        verifier.verify(leaf.cert, [inter.cert])

    # Issue 12: thirty name-constrained copies of the intermediate (same name, same key)
    # uploaded before the good one: every candidate path is verified, within the bounds
    # (MAX_CANDIDATES per certificate, MAX_PATHS verified paths).
    twins = [
        root.intermediate(
            "Bench Intermediate", key=rsa_key(2048, 2), permitted_dns=[f"x{i}.test"]
        ).cert
        for i in range(30)
    ]

    def failing_twins() -> None:
        result = build_chain(leaf.cert, [*twins, inter.cert], trust=trust, now=now)
        assert not result.trusted and result.paths_tried == MAX_CANDIDATES

    def one_failing_twin() -> None:
        result = build_chain(leaf.cert, [twins[0], inter.cert], trust=trust, now=now)
        assert result.trusted and result.paths_tried == 2

    for fn in (chain_only, parse_and_chain, messy_upload, verifier_only, failing_twins):
        fn()  # warm up
    line("build_chain (leaf + intermediate, root in store)", timed(chain_only, runs))
    line("parse PEM bundle + new TrustStore + build_chain", timed(parse_and_chain, runs))
    line("build_chain, shuffled upload with a duplicate", timed(messy_upload, runs))
    line("cryptography verifier alone (for comparison)", timed(verifier_only, runs))
    line("a constrained twin first, then the good path", timed(one_failing_twin, runs // 10))
    line(
        f"30 failing twins (bounded: {MAX_CANDIDATES} paths verified)",
        timed(failing_twins, runs // 20),
    )


if __name__ == "__main__":
    main()
