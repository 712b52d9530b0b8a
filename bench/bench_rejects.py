"""How fast the readers let the checks reject what must be rejected.

    .venv/bin/python bench/bench_rejects.py [--runs N] [--skip-slow]

Prints, for an 8192-bit RSA key made once by `openssl` (cached under
~/.cache/certops-bench, generation takes from seconds to a minute):
  - `read_inputs` time for the key as PEM and inside PKCS#12 (modern and legacy), plus
    the key-size test the checks apply (`key_size > 4096`), median of N runs;
  - for comparison, the same key loaded with full validation and through `load_pkcs12`.
And for zip bombs built on the fly (1 GiB of zeros with honest headers, the same with
lying headers, 10 000 entries, a nested bomb, and an archive
that reaches every limit without passing one): the time to `archive_too_large` and the
peak memory, measured in a fresh subprocess (tracemalloc peak and max RSS growth).
And for declared costs (`readers/kdf_cost.py`, `too_many_certificates`):
  - the refusal time of keys and PFX files claiming 2,147,483,647 KDF or MAC iterations
    (patched into openssl's output), with the right, a wrong and no password;
  - what a file exactly at the cap (1,000,000 iterations) costs to read, and the longest
    time another thread was kept from running meanwhile (the interpreter's lock);
  - the refusal time of a 5 MB PEM of 10,000 certificates, and (unless --skip-slow) what
    parsing them all would have cost.
Targets: every rejection under 1 s, every bomb under 100 MiB peak.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.serialization import load_pem_private_key, pkcs12  # noqa: E402

from bot.pipeline.material import InputFile, Passwords  # noqa: E402
from bot.pipeline.readers import read_inputs  # noqa: E402
from bot.pipeline.readers.kdf_cost import MAX_KDF_ITERATIONS  # noqa: E402
from tests.support.costly_files import (  # noqa: E402
    HUGE,
    hide_costly_key_in_certificate_block,
    patch_pfx,
    patch_pkcs8,
    to_pem,
)
from tests.support.openssl_pki import OpenSSLPKI, run  # noqa: E402
from tests.support.zips import RawMember, raw_zip, zeros_deflated  # noqa: E402

MIB = 1024 * 1024
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "certops-bench"


def big_key(work: Path) -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    cached = CACHE / "rsa8192.key"
    if not cached.exists():
        print("generating an 8192-bit RSA key with openssl (once)...", flush=True)
        started = time.perf_counter()
        run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:8192",
            "-out", str(cached), cwd=work)  # fmt: skip
        print(f"  took {time.perf_counter() - started:.1f} s")
    target = work / "big.key"
    target.write_bytes(cached.read_bytes())
    return target


def median_ms(action: object, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()  # type: ignore[operator]
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def reject(name: str, data: bytes, password: bytes | None) -> None:
    material = read_inputs([InputFile(name, data)], Passwords(key=password))
    assert material.keys, material.findings
    assert material.keys[0].key.key_size > 4096  # type: ignore[union-attr]


def bench_keys(runs: int, skip_slow: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pki = OpenSSLPKI(work)
        key = big_key(work)
        cert = pki.make_leaf(["big.example.com"], key=key, name="big")
        pw = pki.password
        export = ("pkcs12", "-export", "-inkey", str(key), "-in", str(cert),
                  "-certfile", "inter.pem", "-passout", f"pass:{pw.decode()}")  # fmt: skip
        pki.openssl(*export, "-out", "big-modern.pfx")
        pki.openssl(*export, "-legacy", "-out", "big-legacy.pfx")
        cases = [
            ("PEM (PKCS#8)", key.read_bytes(), None),
            ("PFX modern (AES-256)", pki.read("big-modern.pfx"), pw),
            ("PFX legacy (3DES/RC2)", pki.read("big-legacy.pfx"), pw),
        ]
        print(f"\nRSA-8192 rejection: read_inputs + key-size test, median of {runs} runs")
        for label, data, password in cases:
            ms = median_ms(lambda d=data, p=password: reject("big", d, p), runs)
            print(f"  {label:24s} {ms:8.2f} ms   {'OK' if ms < 1000 else 'OVER 1 s'}")
        if skip_slow:
            return
        print("for comparison, one run each of what the readers avoid:")
        started = time.perf_counter()
        load_pem_private_key(key.read_bytes(), None)
        print(f"  load_pem_private_key with validation  {time.perf_counter() - started:8.2f} s")
        started = time.perf_counter()
        pkcs12.load_pkcs12(pki.read("big-modern.pfx"), pw)
        print(f"  pkcs12.load_pkcs12                     {time.perf_counter() - started:8.2f} s")


# --- zip bombs ---------------------------------------------------------------------------
CHILD = """
import json, sys, time, tracemalloc
from pathlib import Path
from bot.pipeline.material import InputFile
from bot.pipeline.readers import read_inputs
import pyzipper  # the readers import it on the first ZIP: paid once per process, not timed
def hwm_kib():  # peak RSS of this process image (ru_maxrss survives exec: not usable)
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0
data = Path(sys.argv[1]).read_bytes()
rss_before = hwm_kib()
tracemalloc.start()
started = time.perf_counter()
material = read_inputs([InputFile("bomb.zip", data)])
elapsed = time.perf_counter() - started
peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
rss_after = hwm_kib()
print(json.dumps({"seconds": elapsed, "tracemalloc_peak": peak,
                  "rss_growth_kib": rss_after - rss_before, "rss_kib": rss_after,
                  "codes": [f.code for f in material.findings]}))
"""


def bombs(work: Path) -> dict[str, Path]:
    gib, crc = zeros_deflated(1024)
    small, small_crc = zeros_deflated(64)
    inner = raw_zip([RawMember("z.pem", small, small_crc, 1000)])
    made = {
        "1 GiB, honest headers": raw_zip([RawMember("zeros.pem", gib, crc, 1024 * MIB)]),
        "1 GiB, lying headers": raw_zip([RawMember("zeros.pem", gib, crc, 1000)]),
        "10 000 entries": raw_zip(
            [RawMember(f"f{i}.pem", b"", 0, 0, method=0) for i in range(10_000)]
        ),
        "nested, lying inner": raw_zip(
            [
                RawMember(f"inner{i}.zip", inner, zlib.crc32(inner), len(inner), method=0)
                for i in range(16)
            ]
        ),
    }
    noise = [os.urandom(5 * MIB - 64 * 1024) for _ in range(4)]
    made["at the limits (4 x 4.9 MiB noise)"] = raw_zip(
        [RawMember(f"n{i}.bin", n, zlib.crc32(n), len(n), method=0) for i, n in enumerate(noise)]
    )
    paths = {}
    for index, (label, data) in enumerate(made.items()):
        paths[label] = work / f"bomb{index}.zip"
        paths[label].write_bytes(data)
    return paths


def bench_bombs() -> None:
    print("\nZip bombs: time to archive_too_large and peak memory (fresh subprocess each)")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        for label, path in bombs(Path(tmp)).items():
            out = subprocess.run(
                [sys.executable, "-c", CHILD, str(path)],
                capture_output=True, text=True, check=True, env=env, cwd=ROOT,
            )  # fmt: skip
            result = json.loads(out.stdout)
            peak_mib = result["tracemalloc_peak"] / MIB
            growth_mib = result["rss_growth_kib"] / 1024
            ok = result["seconds"] < 1 and peak_mib < 100 and growth_mib < 100
            # The last case is no bomb: it reads everything the limits allow (worst memory).
            print(
                f"  {label:24s} {result['seconds'] * 1000:8.1f} ms  "
                f"tracemalloc peak {peak_mib:6.1f} MiB  RSS growth {growth_mib:6.1f} MiB "
                f"(process {result['rss_kib'] / 1024:.0f} MiB)  "
                f"{sorted(set(result['codes']))}  {'OK' if ok else 'OVER TARGET'}"
            )


# --- declared costs ----------------------------------------------------------------------
def costly_files(pki: OpenSSLPKI) -> dict[str, bytes]:
    key = pki.read("leaf.enc-pkcs8.der")
    pw = pki.password
    return {
        "PKCS#8 DER": patch_pkcs8(key, HUGE),
        "PKCS#8 PEM": to_pem(patch_pkcs8(key, HUGE)),
        "PFX key bag (AES)": patch_pfx(pki.read("modern.pfx"), key=HUGE),
        "PFX key bag (3DES)": patch_pfx(pki.read("legacy.pfx"), key=HUGE),
        "PFX MAC": patch_pfx(pki.read("modern.pfx"), mac=HUGE),
        "PFX certificates (RC2)": patch_pfx(pki.read("legacy.pfx"), certs=HUGE),
        "key hidden in cert block": hide_costly_key_in_certificate_block(
            pki.read("legacy.pfx"), pw, HUGE
        ),
    }


def bench_refusals(runs: int) -> None:
    print(f"\nKDF cost refusals (2,147,483,647 declared iterations), median of {runs} runs")
    with tempfile.TemporaryDirectory() as tmp:
        pki = OpenSSLPKI(Path(tmp))
        passwords = {"right": pki.password, "wrong": b"wrong", "none": None}
        for label, data in costly_files(pki).items():
            cells = []
            for which, password in passwords.items():
                ms = median_ms(lambda d=data, p=password: refuse(d, p), runs)
                cells.append(f"{which} {ms:6.2f} ms")
            print(f"  {label:26s} {len(data):5d} B  " + "  ".join(cells))


def refuse(data: bytes, password: bytes | None) -> None:
    material = read_inputs([InputFile("costly", data)], Passwords(key=password))
    assert [f.code for f in material.findings][:1] in (
        ["kdf_cost_too_high"],
        ["wrong_password"],  # the hidden key: the MAC says so first
        ["password_required"],
    ), material.findings


def longest_stall(action: Callable[[], object]) -> tuple[float, float]:
    """(seconds the action took, longest gap between another thread's 1 ms ticks)."""
    gaps: list[float] = []
    done = threading.Event()

    def tick() -> None:
        last = time.perf_counter()
        while not done.is_set():
            time.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = threading.Thread(target=tick)
    ticker.start()
    time.sleep(0.05)
    started = time.perf_counter()
    action()
    elapsed = time.perf_counter() - started
    done.set()
    ticker.join()
    return elapsed, max(gaps)


def bench_at_cap() -> None:
    n = MAX_KDF_ITERATIONS
    print(f"\nFiles exactly at the cap ({n:,} iterations): read time, longest stall elsewhere")
    with tempfile.TemporaryDirectory() as tmp:
        pki = OpenSSLPKI(Path(tmp))
        pw = pki.password.decode()
        made = {}
        for prf in ("SHA256", "SHA512"):
            made[f"PKCS#8 PBKDF2-HMAC-{prf}"] = pki.openssl(
                "pkcs8", "-topk8", "-v2", "aes256", "-v2prf", f"hmacWith{prf}", "-iter", str(n),
                "-in", "leaf.key", "-outform", "DER", "-passout", f"pass:{pw}",
            )  # fmt: skip
        export = ("pkcs12", "-export", "-inkey", "leaf.key", "-in", "leaf.pem",
                  "-passout", f"pass:{pw}", "-iter", str(n))  # fmt: skip
        made["PFX AES-256 (key, certs, MAC)"] = pki.openssl(*export, "-macalg", "sha256")
        made["PFX legacy 3DES/RC2 (key, certs, MAC)"] = pki.openssl(*export, "-legacy")
        for label, data in made.items():
            for which, password in (("right", pki.password), ("wrong", b"wrong")):
                seconds, stall = longest_stall(
                    lambda d=data, p=password: read_inputs([InputFile("x", d)], Passwords(key=p))
                )
                print(f"  {label:38s} {which:5s} {seconds * 1000:7.0f} ms  "
                      f"stall {stall * 1000:5.0f} ms")  # fmt: skip


def bench_certificate_flood(skip_slow: bool) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    from tests.support.pki import make_small_cert

    data = make_small_cert().public_bytes(Encoding.PEM) * 10_000
    started = time.perf_counter()
    material = read_inputs([InputFile("flood.pem", data)])
    ms = (time.perf_counter() - started) * 1000
    codes = sorted({f.code for f in material.findings})
    print(
        f"\nA {len(data) / MIB:.1f} MiB PEM of 10,000 certificates: refused in {ms:.1f} ms {codes}"
    )
    if not skip_slow:
        from cryptography import x509

        started = time.perf_counter()
        x509.load_pem_x509_certificates(data)
        print(f"  for comparison, parsing them all: {time.perf_counter() - started:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--skip-slow", action="store_true", help="skip the comparison loads")
    args = parser.parse_args()
    bench_keys(args.runs, args.skip_slow)
    bench_bombs()
    bench_refusals(args.runs)
    bench_at_cap()
    bench_certificate_flood(args.skip_slow)


if __name__ == "__main__":
    main()
