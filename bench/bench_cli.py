"""How long do `certops` commands take at the terminal, start-up included?

    .venv/bin/python bench/bench_cli.py [--runs 7] [--source DIR]

Wall time of whole processes, as a person at the terminal waits for them (issue 16's
targets: `cert list` of 5 certificates <= 0.35 s, `cert submit` of a PEM set <= 0.5 s,
`validate` of a PEM set <= 0.2 s), each beside a peer doing the same work in the same run:
`sqlite3`'s command line running the listing's own query (compiled from
`storage.reading.certificates_by_name`) and the submission's two inserts, `openssl verify`
checking the same chain, and a bare `python -c pass` (the interpreter's own start-up). A
peer whose command line is not installed is left out with the reason printed. Medians and
worst of `--runs` rounds, the commands interleaved so that a burst of load hits them all.

The sources are compiled to bytecode first, as `pip install` does (bench/installed.py).

`--source DIR` (repeatable) runs the commands from other checkouts of certops too (e.g. a
`git archive` of an older commit) with this interpreter, interleaved in the same run, to
compare before and after under the same load.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from installed import compiled_env  # noqa: E402

from tests.support.pki import CA, rsa_key  # noqa: E402

CERTOPS = "import sys; from bot.cli import main; sys.exit(main(sys.argv[1:]))"
# The submission's writes, as sqlite3's command line makes them: the row and its audit.
SUBMIT_SQL = (
    "BEGIN IMMEDIATE; INSERT INTO certificate (name, domain, submitted_format, status, sans,"
    " chain_pem, report, submitted_by, submitted_at) VALUES ('peer{n}', 'app.example.com',"
    " 'pem', 'validated', '[]', '', '{{}}', 'UBENCH', '2026-01-01 00:00:00.000000');"
    " INSERT INTO audit_event (at, actor, action, entity_type, entity_id) VALUES"
    " ('2026-01-01 00:00:00.000000', 'UBENCH', 'certificate.submit', 'certificate',"
    " last_insert_rowid()); COMMIT;"
)
TARGETS = {"list": "<= 350 ms", "submit": "<= 500 ms", "validate": "<= 200 ms"}


def listing_sql() -> str:
    """The SQL `certops cert list` runs, compiled from the query layer's own function."""
    from sqlalchemy.dialects import sqlite

    from storage.reading import certificates_by_name

    class Capture:
        statement: object = None

        def execute(self, statement: object) -> Capture:
            self.statement = statement
            return self

        def all(self) -> list[object]:
            return []

    capture = Capture()
    certificates_by_name(capture)  # type: ignore[arg-type]
    compiled = capture.statement.compile(dialect=sqlite.dialect())  # type: ignore[attr-defined]
    return f"{compiled};"


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
        self.env = {**compiled_env(), "DATABASE_URL": f"sqlite:///{folder / 'certops.db'}"}
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
    compiled_env(*sources)  # as `pip install` does (see the docstring)
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
        # The submissions (certops' and the sqlite3 peer's) go to a copy, so that the
        # listing reads the same 5 certificates in every round.
        shutil.copy(folder / "certops.db", folder / "submit.db")
        submit_env = ["env", f"DATABASE_URL=sqlite:///{f}/submit.db"]  # `env`: ~1 ms
        numbers = iter(range(5, 5 + args.runs * len(sources)))
        peer_numbers = iter(range(10**6))
        peers: list[tuple[str, object]] = [
            ("python -c pass (interpreter start-up)", [sys.executable, "-c", "pass"]),
            (
                "peer: sqlite3 CLI, the listing's query",
                ["sqlite3", f"{f}/certops.db", listing_sql()],
            ),
            (
                "peer: sqlite3 CLI, the submission's inserts",
                lambda: [
                    "sqlite3",
                    f"{f}/submit.db",
                    SUBMIT_SQL.format(n=next(peer_numbers)),
                ],
            ),
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
        rows: list[tuple[str, object]] = []
        for label, command in peers:
            tool = (command() if callable(command) else command)[0]  # type: ignore[index]
            if shutil.which(str(tool)):
                rows.append((label, command))
            else:
                print(f"{label}: skipped, {tool!r} is not installed (apt install {tool})")
        for source in sources:
            runner = Runner(folder, source)
            tag = "" if source == ROOT else f" [{source.name}]"

            def submit(runner: Runner = runner) -> list[str]:
                i = next(numbers)
                return submit_env + runner.certops(
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
    medians = {label: statistics.median(values) * 1000 for label, values in times.items()}
    for label, values in times.items():
        print(f"{label:<48} median {medians[label]:7.0f} ms   worst {max(values) * 1000:7.0f} ms")
    peers_of = {
        "list": "peer: sqlite3 CLI, the listing's query",
        "submit": "peer: sqlite3 CLI, the submission's inserts",
        "validate": "peer: openssl verify, the same chain",
    }
    for label, median in medians.items():
        verb = next((v for v in TARGETS if label.startswith(f"certops cert {v}")), None)
        verb = verb or ("validate" if label.startswith("certops validate") else None)
        if verb is None or "[" in label:
            continue
        peer = peers_of[verb]
        versus = f"{peer.removeprefix('peer: ')} {medians[peer]:.0f} ms" if peer in medians else "-"
        print(f"figure: {label} | {median:.0f} ms | {versus} | {TARGETS[verb]}")
    return 0


def _cwd(label: str, sources: list[Path]) -> Path:
    """The checkout a row's command runs from (its tag names it; untagged: this one)."""
    for source in sources[1:]:
        if label.endswith(f"[{source.name}]"):
            return source
    return ROOT


if __name__ == "__main__":
    raise SystemExit(main())
