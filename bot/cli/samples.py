"""`certops samples DIR [--name HOST] [--force]`: test certificates to try certops with.

Writes a throwaway root (`ca.pem`), a valid set as PEM, PFX and ZIP, one that expires in
10 days, and broken sets (bot/samples), then lists them with the verdict each gets and
says how to trust the root. The PFX password is printed here, on stdout, and nowhere
else: not in a file, not in a log.

Exit 0 when written, 1 when the system refused to write, 2 for a usage error (a bad
--name, a DIR that already holds samples without --force).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.startup import EXIT_FAILED, EXIT_OK, Parser, UsageError, fail, usage_line

if TYPE_CHECKING:
    from bot.samples import Sample, SampleSet


def build_parser(prog: str) -> argparse.ArgumentParser:
    from bot.samples import DEFAULT_NAME

    parser = Parser(
        prog=prog,
        description="Write test certificates (a throwaway CA, valid and broken sets) to try "
        "certops with. Every certificate says 'certops test material - NOT FOR PRODUCTION'.",
        epilog="Exit status: 0 written, 1 not written, 2 usage error. The PFX password is "
        "printed once and written nowhere.",
    )
    parser.add_argument("directory", metavar="DIR", help="where to write (created if missing)")
    parser.add_argument(
        "--name",
        default=DEFAULT_NAME,
        metavar="HOST",
        help=f"host name the certificates are issued for (default {DEFAULT_NAME})",
    )
    parser.add_argument(
        "--force", action="store_true", help="replace the sample files DIR already holds"
    )
    return parser


def _verdict(sample: Sample) -> str:
    return f"{sample.verdict}: {sample.code}" if sample.code else sample.verdict


def _shown(path: Path, directory: Path) -> str:
    """A set's place under DIR: its folder (`valid/`) or its one file (`valid.pfx`)."""
    relative = path.relative_to(directory)
    return f"{relative.parts[0]}/" if len(relative.parts) > 1 else str(relative)


def render(written: SampleSet) -> str:
    """What was written, the verdict of each set, the password, how to trust the root."""
    directory = written.directory
    rows = [("ca.pem", "trust store", "the throwaway root CA: trusted only where you name it")]
    for sample in written.samples:
        rows.append((_shown(sample.files[0], directory), _verdict(sample), sample.what))
    width = max(len(row[0]) for row in rows)
    verdict_width = max(len(row[1]) for row in rows)
    store = shlex.quote(str(written.trust_store.resolve()))
    quoted = shlex.quote(str(directory))
    lines = [
        f"Test certificates for {written.name} in {directory} "
        "(certops test material, NOT FOR PRODUCTION):",
        "",
        *(f"  {a.ljust(width)}  {b.ljust(verdict_width)}  {c}" for a, b, c in rows),
        "",
        f"PFX password (valid.pfx): {written.pfx_password}",
        "  shown only here: it is written in no file and no log.",
        "",
        "The verdicts hold with the root trusted; without it every set is chain_incomplete.",
        "Trust it for the bot, the console and every command:",
        f"  export CERTOPS_TRUST_STORE={store}",
        "or for one command:",
        f"  certops validate --trust-store {store} {quoted}/valid/*",
    ]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    from bot.samples import SamplesError, SamplesNotWritten, write_samples

    if not args.directory.strip():
        raise UsageError("DIR needs a directory name")
    try:
        written = write_samples(
            Path(args.directory),
            args.name,
            force=args.force,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
        )
    except SamplesNotWritten as error:
        return fail(args.prog, str(error), EXIT_FAILED)
    except SamplesError as error:
        raise UsageError(str(error)) from None
    sys.stdout.write(render(written))
    return EXIT_OK


def main(argv: list[str], prog: str = "certops samples", command: str = "samples") -> int:
    del command
    try:
        args = build_parser(prog).parse_args(argv)
        args.prog = prog
        return run(args)
    except UsageError as error:
        return usage_line(prog, error)
