"""Run the benchmarks and write their figures to docs/performance.md (`make bench`).

Figures used to be copied by hand from each bench's output into the README and drifted
apart from it; now every figure comes from one run, with the date and the machine it
ran on, and the docs link to this one page. Each bench prints its own figures and
asserts nothing; this script only runs them, in turn, with settings that keep the whole
run to a few minutes on 2 cores (`--full` uses each bench's own defaults instead), and
records what each printed. Every `bench/bench_*.py` runs: one missing from `BENCHES`
runs with its own defaults. A bench whose service is absent (PostgreSQL) is skipped with
the reason; the benches that measure both databases print their SQLite figures alone.

The page opens with one table of the headline figures, each beside its peer measured in
the same run: the lines a bench prints as `figure: what | figures | peer | target`. The
README's table of what a 100,000-certificate record costs in each metrics mode, and the
same table in docs/operating.md, are written from bench_metrics' lines between their
`<!-- bench:NAME -->` markers: never typed by hand.

`--only NAME,...` runs those benches and keeps the other sections of the page as the
last run wrote them (their row in the table says so).

    .venv/bin/python bench/report.py [--full] [--only NAME,...] [--output PATH]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class Bench:
    """One bench script, the settings `make bench` gives it, and what it needs."""

    name: str
    quick: tuple[str, ...] = ()
    needs_postgres: bool = False
    timeout: float = 900.0


BENCHES = (
    Bench("bench_validate", ("--runs", "300", "--process-runs", "10")),
    Bench("bench_chain", ("400",)),
    Bench("bench_rejects", ("--runs", "5", "--skip-slow")),
    Bench("bench_dns", ("--runs", "3")),
    Bench("bench_markup", ("--rounds", "100")),
    Bench("bench_ack", ("--rounds", "3")),
    Bench("bench_uploads", ("--rounds", "10")),
    Bench("bench_record", ("--rounds", "5")),
    Bench("bench_storage"),
    Bench("bench_deliveries", ("--claims", "1000", "--rows", "100000")),
    Bench("bench_expiry", ("--rows", "100000", "--runs", "3")),
    Bench("bench_metrics", ("--rows", "1000,10000,100000", "--scrapes", "3")),
    Bench("bench_cli", ("--runs", "11")),
    Bench("bench_samples", ("--runs", "3")),
    Bench("bench_hung", ("--rounds", "5"), needs_postgres=True),
    Bench("bench_exactly_once", ("--certs", "24", "--channels", "4"), needs_postgres=True),
    Bench("bench_stop", ("--graces", "1,3"), needs_postgres=True),
    Bench("bench_load", ("--hostile", "10")),
    Bench("bench_soak", ("--requests", "500", "--rounds", "2")),
    Bench("bench_socket_mode", ("--wait", "70")),
    Bench("bench_probe", ("--hosts", "1000")),
)


def every_bench() -> list[Bench]:
    """BENCHES, then any bench script they do not name (run with its own defaults)."""
    named = {bench.name for bench in BENCHES}
    found = sorted(path.stem for path in (ROOT / "bench").glob("bench_*.py"))
    return [*BENCHES, *(Bench(name) for name in found if name not in named)]


@dataclass(frozen=True)
class Outcome:
    """What one bench printed, how long it took, and how it ended."""

    command: str
    seconds: float
    output: str
    status: str  # "ok", "exit N", "timed out after N s", "skipped: reason"


def postgres_answers() -> str | None:
    """None when the local server answers, else the reason it does not."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.Error as error:
        return f"no PostgreSQL server answers at {ADMIN_URL} ({type(error).__name__})"


def run(bench: Bench, full: bool, postgres_absent: str | None) -> Outcome:
    """Run one bench in its own process (as its docstring says to run it)."""
    args = () if full else bench.quick
    command = " ".join([".venv/bin/python", f"bench/{bench.name}.py", *args])
    if bench.needs_postgres and postgres_absent:
        return Outcome(command, 0.0, "", f"skipped: {postgres_absent}")
    start = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, f"bench/{bench.name}.py", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=bench.timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as expired:
        output = expired.stdout if isinstance(expired.stdout, str) else ""
        return Outcome(command, bench.timeout, output, f"timed out after {bench.timeout:.0f} s")
    seconds = time.monotonic() - start
    output = proc.stdout
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        return Outcome(command, seconds, f"{output}\n[stderr]\n{tail}", f"exit {proc.returncode}")
    return Outcome(command, seconds, output, "ok")


def machine() -> list[str]:
    """The facts a reader needs to weigh the figures: when, on what, under what load."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line for line in cpuinfo.read_text().splitlines() if line.startswith("model name")]
        if names:
            cpu = names[0].split(":", 1)[1].strip()
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return [
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {platform.system()} {platform.release()}, {os.cpu_count()} cores ({cpu})",
        f"- load average when the run began: {load} (the machine may be shared)",
        f"- Python {platform.python_version()}, {library_versions()}",
    ]


def library_versions() -> str:
    """The versions of the libraries whose speed the figures mostly measure."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ("cryptography", "SQLAlchemy", "slack_bolt", "dnspython", "psycopg"):
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            continue
    return ", ".join(found)


def section(bench: Bench, outcome: Outcome) -> list[str]:
    """One bench's part of the page: what it measures, how it ran, what it printed."""
    if outcome.status.startswith(KEPT):
        return [outcome.output.rstrip(), ""]
    source = (ROOT / "bench" / f"{bench.name}.py").read_text()
    summary = source.split('"""', 2)[1].strip().split("\n\n", 1)[0].replace("\n", " ")
    lines = [f"## {bench.name}", "", summary, "", f"`{outcome.command}`"]
    lines.append(f"({outcome.status}, {outcome.seconds:.0f} s)")
    if outcome.output.strip():
        lines += ["", "```text", outcome.output.rstrip(), "```"]
    return [*lines, ""]


KEPT = "kept from the last run"
FIGURE = re.compile(r"^figure: (.+?) \| (.+?) \| (.+?) \| (.+?)\s*$", re.MULTILINE)


def figure_rows(results: list[tuple[Bench, Outcome]]) -> list[tuple[str, ...]]:
    """(bench, what, figures, peer, target) of every `figure:` line printed."""
    rows = []
    for bench, outcome in results:
        rows += [(bench.name, *match.groups()) for match in FIGURE.finditer(outcome.output)]
    return rows


def figure_table(rows: list[tuple[str, ...]], *, link: str = "#") -> list[str]:
    lines = ["| what | figures | peer, same run | target |", "|---|---|---|---|"]
    for name, what, figures, peer, target in rows:
        lines.append(f"| [{what}]({link}{name}) | {figures} | {peer} | {target} |")
    return lines


def kept_sections(path: Path) -> dict[str, str]:
    """The sections of an earlier page, by bench name (for `--only`)."""
    if not path.exists():
        return {}
    parts = re.split(r"^## (bench_\w+)[ \t]*$", path.read_text(), flags=re.MULTILINE)
    return {
        name: f"## {name}{body}".rstrip()
        for name, body in zip(parts[1::2], parts[2::2], strict=True)
    }


def write_block(path: Path, name: str, lines: list[str]) -> bool:
    """Replace what lies between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`."""
    text = path.read_text()
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    if start not in text or end not in text:
        return False
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text("\n".join([head + start, *lines, end]) + tail)
    return True


def metrics_blocks(results: list[tuple[Bench, Outcome]], when: str) -> None:
    """The README's and docs/operating.md's table of a 100,000-certificate record's cost
    in each series mode, from bench_metrics' `figure:` lines of this run (SQLite)."""
    rows = [
        row
        for row in figure_rows(results)
        if row[0] == "bench_metrics" and "100,000 certificates, sqlite" in row[1]
    ]
    if not rows:
        return
    table = ["| mode | cost |", "|---|---|"]
    for _, what, figures, _, _ in rows:
        table.append(f"| {what.rsplit(', ', 1)[1]} | {figures} |")
    _, _, _, peer, target = rows[0]
    source = (
        f"From `make bench` of {when} (bench_metrics, SQLite, 2 shared cores); target {target};"
        f" peer in the same run: a {peer}."
    )
    for path, link in ((ROOT / "README.md", "docs/"), (ROOT / "docs" / "operating.md", "")):
        block = [
            "",
            source + f" [All figures]({link}performance.md#bench_metrics).",
            "",
            *table,
            "",
        ]
        write_block(path, "metrics-100k", block)


def page(results: list[tuple[Bench, Outcome]], full: bool, total: float) -> str:
    """The whole of docs/performance.md."""
    settings = "each bench's own defaults (`--full`)" if full else "the quick settings below"
    figures = figure_rows(results)
    lines = [
        "# Performance",
        "",
        "<!-- Generated by `make bench` (bench/report.py): do not edit by hand. -->",
        "",
        "Every figure the docs cite comes from this page, written by `make bench`, which",
        f"runs each script in `bench/` with {settings}. The benches assert",
        "nothing: timings belong here, not in the tests. Figures vary run to run, with the",
        "load on the machine above all; compare them with the targets in each script's",
        "docstring, not with a single earlier run.",
        "",
        *machine(),
        f"- whole run: {total:.0f} s",
        "",
        *(["## Headline figures", "", *figure_table(figures), ""] if figures else []),
        "| bench | status | seconds |",
        "|---|---|---|",
    ]
    for bench, outcome in results:
        seconds = "-" if outcome.status.startswith(KEPT) else f"{outcome.seconds:.0f}"
        lines.append(f"| [{bench.name}](#{bench.name}) | {outcome.status} | {seconds} |")
    lines.append("")
    for bench, outcome in results:
        lines += section(bench, outcome)
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="each bench's own defaults")
    parser.add_argument("--only", default="", help="comma-separated bench names")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "performance.md")
    args = parser.parse_args()
    benches = every_bench()
    chosen = [b for b in benches if not args.only or b.name in args.only.split(",")]
    postgres_absent = postgres_answers()
    if postgres_absent:
        print(f"PostgreSQL: {postgres_absent}; its figures are skipped", flush=True)
    start = time.monotonic()
    results = []
    for bench in chosen:
        print(f"{bench.name} ...", end=" ", flush=True)
        outcome = run(bench, args.full, postgres_absent)
        print(f"{outcome.status} ({outcome.seconds:.0f} s)", flush=True)
        results.append((bench, outcome))
    total = time.monotonic() - start
    if args.only:  # the other benches' sections as the last run wrote them
        kept = kept_sections(args.output)
        ran = dict(results)
        results = [
            (b, ran[b] if b in ran else Outcome("", 0.0, kept[b.name], KEPT))
            for b in benches
            if b in ran or b.name in kept
        ]
    args.output.write_text(page(results, args.full, total))
    fresh = [(b, o) for b, o in results if not o.status.startswith(KEPT)]
    metrics_blocks(fresh, datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    print(
        f"wrote {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}"
    )
    failed = [
        b.name
        for b, o in results
        if o.status not in ("ok", KEPT) and not o.status.startswith("skip")
    ]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
