"""How fast is `certops validate`? Prints its figures beside the `openssl` command line's.

    .venv/bin/python bench/bench_validate.py [--runs N]

(a) in-process: read, match and verify an RSA-2048 PEM bundle (leaf, key, a chain file of
    intermediate + root, the root also given as an extra trusted root): median of N runs of
    `validate()`, beside `openssl verify -CAfile root -untrusted inter leaf` plus the key
    match (`openssl x509 -pubkey` against `openssl pkey -pubout`) in the same run.
    Target: under 1 ms.
(b) whole process: `certops validate` on the same files, run from bytecode as installed
    (bench/installed.py), median of 20 runs (target under 200 ms, issue 16), and a check
    that the process imported no Slack, SQLModel or dnspython.
(c) an 8192-bit RSA key, as PEM beside its certificate and as a PFX, is rejected
    (`key_too_large`) by a full `validate()` within 1 s.

The fixtures are made with the `openssl` command line in a temporary folder.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from installed import compiled_env  # noqa: E402

from bot.pipeline.material import InputFile, Passwords  # noqa: E402
from bot.pipeline.validate import ValidateOptions, validate  # noqa: E402

PASSWORD = "bench password"
FORBIDDEN = ("slack_bolt", "slack_sdk", "sqlmodel", "sqlalchemy", "dns")


def openssl(*args: str, cwd: Path) -> bytes:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"openssl {' '.join(args)} failed: {proc.stderr.decode()}")
    return proc.stdout


def make_pki(d: Path) -> None:
    (d / "ca.ext").write_text(
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
    )
    (d / "leaf.ext").write_text(
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:app.example.com,DNS:www.example.com\n"
    )
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
            "-out", "root.key", cwd=d)  # fmt: skip
    openssl("req", "-new", "-x509", "-key", "root.key", "-subj", "/O=bench/CN=Bench Root",
            "-days", "3650", "-sha256", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", "root.pem", cwd=d)  # fmt: skip
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
            "-out", "inter.key", cwd=d)  # fmt: skip
    openssl("req", "-new", "-key", "inter.key", "-subj", "/O=bench/CN=Bench Inter",
            "-out", "inter.csr", cwd=d)  # fmt: skip
    openssl("x509", "-req", "-in", "inter.csr", "-CA", "root.pem", "-CAkey", "root.key",
            "-set_serial", "2", "-days", "3000", "-sha256", "-extfile", "ca.ext",
            "-out", "inter.pem", cwd=d)  # fmt: skip
    make_leaf(d, "leaf", 2048)
    (d / "chain.pem").write_bytes((d / "inter.pem").read_bytes() + (d / "root.pem").read_bytes())


def make_leaf(d: Path, name: str, bits: int) -> None:
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{bits}",
            "-out", f"{name}.key", cwd=d)  # fmt: skip
    openssl("req", "-new", "-key", f"{name}.key", "-subj", "/CN=app.example.com",
            "-out", f"{name}.csr", cwd=d)  # fmt: skip
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "inter.pem", "-CAkey", "inter.key",
            "-set_serial", str(abs(hash(name)) % 10**6 + 10), "-days", "90", "-sha256",
            "-extfile", "leaf.ext", "-out", f"{name}.pem", cwd=d)  # fmt: skip


def median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def bench_in_process(d: Path, runs: int) -> None:
    from cryptography import x509

    files = [InputFile(n, (d / n).read_bytes()) for n in ("leaf.pem", "leaf.key", "chain.pem")]
    root = x509.load_pem_x509_certificate((d / "root.pem").read_bytes())
    options = ValidateOptions(domain="app.example.com", extra_roots=[root])
    report = validate(files, Passwords(), options)
    assert report.valid, report.codes
    assert [f.code for f in report.findings if f.severity == "error"] == []
    validate(files, Passwords(), options)  # warm caches (certifi is parsed once a process)
    ours = median_ms(lambda: validate(files, Passwords(), options), runs)

    def by_openssl() -> None:
        out = openssl("verify", "-CAfile", "root.pem", "-untrusted", "inter.pem", "leaf.pem", cwd=d)
        assert out.strip().endswith(b"OK"), out
        cert_key = openssl("x509", "-in", "leaf.pem", "-noout", "-pubkey", cwd=d)
        key_key = openssl("pkey", "-in", "leaf.key", "-pubout", cwd=d)
        assert cert_key == key_key

    openssl_runs = max(5, runs // 50)
    theirs = median_ms(by_openssl, openssl_runs)
    print("(a) in-process: read + match + verify, RSA-2048 leaf, key, chain of 2")
    print(f"    validate()            median {ours:8.3f} ms over {runs} runs   (target < 1 ms)")
    print(
        f"    openssl CLI           median {theirs:8.3f} ms over {openssl_runs} runs"
        "   (3 processes: verify, x509 -pubkey, pkey -pubout)"
    )
    print(f"    verdict: {report.verdict}; codes: {', '.join(report.codes) or '-'}")


def bench_process(d: Path, runs: int) -> None:
    argv = [
        str(ROOT / ".venv/bin/certops"), "validate", "leaf.pem", "leaf.key", "chain.pem",
        "--trust-store", "root.pem", "--domain", "app.example.com", "--json",
    ]  # fmt: skip

    env = compiled_env(ROOT)

    def once() -> None:
        proc = subprocess.run(argv, cwd=d, env=env, capture_output=True, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr

    once()
    median = median_ms(once, runs)
    probe = (
        "import sys; from bot.cli import main; "
        "code = main(['validate', 'leaf.pem', 'leaf.key', 'chain.pem', '--trust-store', "
        "'root.pem', '--json']); "
        f"print(code, [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}], file=sys.stderr)"
    )
    proc = subprocess.run(
        [str(ROOT / ".venv/bin/python"), "-c", probe], cwd=d, capture_output=True, check=False
    )
    last = proc.stderr.decode().strip().splitlines()[-1]
    print("(b) whole process: certops validate on the same files")
    print(f"    median {median:8.1f} ms over {runs} runs   (target < 200 ms)")
    print(f"    exit code and forbidden modules imported: {last}   (want: 0 [])")


def bench_big_key(d: Path) -> None:
    print("(c) 8192-bit RSA key (making it with openssl takes a while)...", flush=True)
    make_leaf(d, "big", 8192)
    (d / "pw.txt").write_text(PASSWORD)
    openssl("pkcs12", "-export", "-in", "big.pem", "-inkey", "big.key", "-certfile",
            "inter.pem", "-passout", f"pass:{PASSWORD}", "-out", "big.pfx", cwd=d)  # fmt: skip
    pem_files = [InputFile(n, (d / n).read_bytes()) for n in ("big.pem", "big.key", "inter.pem")]
    pfx_files = [InputFile("big.pfx", (d / "big.pfx").read_bytes())]
    for label, files, passwords in (
        ("PEM", pem_files, Passwords()),
        ("PFX", pfx_files, Passwords(key=PASSWORD.encode())),
    ):
        start = time.perf_counter()
        report = validate(files, passwords)
        elapsed = (time.perf_counter() - start) * 1000
        verdict = "rejected" if "key_too_large" in report.codes else f"NOT rejected {report.codes}"
        print(f"    {label}: {verdict} in {elapsed:8.1f} ms   (target < 1000 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000, help="in-process runs (default 1000)")
    parser.add_argument("--process-runs", type=int, default=20)
    parser.add_argument("--skip-big-key", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        make_pki(d)
        bench_in_process(d, args.runs)
        bench_process(d, args.process_runs)
        if not args.skip_big_key:
            bench_big_key(d)


if __name__ == "__main__":
    main()
