"""How long do `certops` commands take at the terminal, start-up included?

    .venv/bin/python bench/bench_cli.py [--runs 7] [--source DIR]

Wall time of whole processes, as a person at the terminal waits for them (issue 16's
targets: `cert list` of 5 certificates <= 0.35 s, `cert submit` of a PEM set <= 0.5 s,
`validate` of a PEM set <= 0.2 s), each beside a peer doing the same work in the same run:
`sqlite3`'s command line running the listing's query, `openssl verify` checking the same
chain, and a bare `python -c pass` (the interpreter's own start-up). Medians and worst of
`--runs` rounds, the commands interleaved so that a burst of load hits them all.

`--source DIR` (repeatable) runs the commands from other checkouts of certops too (e.g. a
`git archive` of an older commit) with this interpreter, interleaved in the same run, to
compare before and after under the same load.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.pki import CA, rsa_key  # noqa: E402

CERTOPS = "import sys; from bot.cli import main; sys.exit(main(sys.argv[1:]))"
LIST_SQL = "SELECT name, status, domain, not_after FROM certificate ORDER BY name;"


def pki(folder: Path, count: int) -> None:
    """A root, an intermediate and `count` leaves with their (unencrypted) keys."""
    root = CA.root("Bench CLI Root")
    inter = root.intermediate("Bench CLI Intermediate")
    (folder / "root.pem").write_bytes(root.issued.pem)
    (folder / "inter.pem").write_bytes(inter.issued.pem)
    for i in range(count):
        leaf = inter.leaf(sans=[f"app{i}.example.com"], key=rsa_key(2048, i))
        (folder / f"leaf{i}.pem").write_bytes(leaf.pem)
        (folder / f"chain{i}.pem").write_bytes(leaf.pem + inter.issued.pem)
        (folder / f"key{i}.pem").write_bytes(leaf.key_pem(None))


class Runner:
    def __init__(self, folder: Path, source: Path) -> None:
        self.folder = folder
        self.source = source
        self.env = {**os.environ, "DATABASE_URL": f"sqlite:///{folder / 'certops.db'}"}
        self.env.pop("PYTHONPATH", None)

    def certops(self, *argv: str) -> list[str]:
        return [sys.executable, "-c", CERTOPS, *argv]

    def timed(self, command: list[str], cwd: Path | None = None) -> float:
        started = time.perf_counter()
        proc = subprocess.run(
            command, cwd=cwd or self.source, env=self.env, capture_output=True, check=False
        )
        took = time.perf_counter() - started
        if proc.returncode != 0:
            raise SystemExit(f"{command[3:] or command}: exit {proc.returncode}\n{proc.stderr!r}")
        return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--source", type=Path, action="append", default=[])
    args = parser.parse_args()
    sources = [ROOT, *(source.resolve() for source in args.source)]
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        pki(folder, 5 + args.runs * len(sources))
        f = str(folder)
        trust = ["--trust-store", f"{f}/root.pem"]
        first = Runner(folder, ROOT)
        for i in range(5):  # the record: 5 certificates (the first run migrates it)
            first.timed(
                first.certops(
                    "cert",
                    "submit",
                    *trust,
                    "--name",
                    f"c{i}",
                    f"{f}/chain{i}.pem",
                    f"{f}/key{i}.pem",
                )
            )
        numbers = iter(range(5, 5 + args.runs * len(sources)))
        rows: list[tuple[str, object]] = [
            ("python -c pass (interpreter start-up)", [sys.executable, "-c", "pass"]),
            ("peer: sqlite3 CLI, the listing's query", ["sqlite3", f"{f}/certops.db", LIST_SQL]),
            (
                "peer: openssl verify, the same chain",
                [
                    "openssl",
                    "verify",
                    "-CAfile",
                    f"{f}/root.pem",
                    "-untrusted",
                    f"{f}/inter.pem",
                    f"{f}/leaf0.pem",
                ],
            ),
        ]
        rows = [(label, c) for label, c in rows if shutil.which(str(c[0]))]  # type: ignore[index]
        for source in sources:
            runner = Runner(folder, source)
            tag = "" if source == ROOT else f" [{source.name}]"

            def submit(runner: Runner = runner) -> list[str]:
                i = next(numbers)
                return runner.certops(
                    "cert",
                    "submit",
                    *trust,
                    "--name",
                    f"c{i}",
                    f"{f}/chain{i}.pem",
                    f"{f}/key{i}.pem",
                )

            rows += [
                (f"certops cert list (5 certificates){tag}", runner.certops("cert", "list")),
                (f"certops cert submit (PEM set){tag}", submit),
                (
                    f"certops validate (PEM set){tag}",
                    runner.certops("validate", *trust, f"{f}/chain0.pem", f"{f}/key0.pem"),
                ),
            ]
        times: dict[str, list[float]] = {label: [] for label, _ in rows}
        for _ in range(args.runs):
            for label, command in rows:
                argv = command() if callable(command) else command
                times[label].append(first.timed(argv, cwd=_cwd(label, sources)))  # type: ignore[arg-type]
    print(f"sources: {', '.join(map(str, sources))}   ({args.runs} runs each, interleaved)")
    for label, values in times.items():
        print(
            f"{label:<48} median {statistics.median(values) * 1000:7.0f} ms"
            f"   worst {max(values) * 1000:7.0f} ms"
        )
    return 0


def _cwd(label: str, sources: list[Path]) -> Path:
    """The checkout a row's command runs from (its tag names it; untagged: this one)."""
    for source in sources[1:]:
        if label.endswith(f"[{source.name}]"):
            return source
    return ROOT


if __name__ == "__main__":
    raise SystemExit(main())
