"""`certops validate FILE...`: the pipeline's verdict on a terminal, for people and scripts.

Exit 0 when valid, 1 when invalid, 2 for a usage error (a missing or unreadable file, a
bad option), always with one clear line on stderr and never a traceback. Passwords come
from files or a terminal prompt, never from argv (argv is visible to every user of the
machine). This module imports only the pure pipeline: scripts call it in loops, so it
must not pay for Slack, SQLModel or dnspython (a test checks `sys.modules`).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli import startup
from bot.cli.startup import (
    EXIT_USAGE,
    Parser,
    UsageError,
    json_option,
    password_options,
    read_inputs,
    read_passwords,
    trust_roots,
    trust_store_option,
    with_password_prompts,
)
from bot.pipeline.report import Report, render_text
from bot.pipeline.validate import ValidateOptions, validate

if TYPE_CHECKING:  # urllib, http and the PKCS#7 reader load only with --fetch-missing
    from bot.pipeline.aia import HttpIssuerFetcher

EXIT_VALID, EXIT_INVALID = 0, 1


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = Parser(
        prog=prog,
        description="Check certificate files (PEM, DER, P7B, PFX, ZIP, in any mix) before "
        "uploading them: verdict, findings with what to do, and the chain.",
        epilog="Exit status: 0 valid, 1 invalid, 2 usage error. Passwords are read from "
        "files or prompted for on a terminal, never taken from the command line.",
        parents=[password_options(), trust_store_option(), json_option()],
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="certificate, key, chain files")
    parser.add_argument("--domain", metavar="D", help="host name, *.wildcard or one SAN name")
    parser.add_argument("--name", metavar="N", help="the certificate's name (shown only)")
    parser.add_argument(
        "--fetch-missing", action="store_true", help="fetch a missing issuer from its AIA URL"
    )
    parser.add_argument(
        "--allow-local-fetch",
        action="store_true",
        help="with --fetch-missing: also fetch from loopback and link-local addresses "
        "(a PKI on this machine; refused by default and always by the bot)",
    )
    parser.add_argument(
        "--output-chain",
        metavar="FILE",
        help="write the leaf and its chain, in order, as PEM (never overwrites a file)",
    )
    return parser


def _check_output_path(path: str) -> Path:
    if not path.strip():
        raise UsageError("--output-chain needs a file name")
    out = Path(path)
    if out.exists():
        raise UsageError(f"--output-chain {path!r} already exists; remove it or choose another")
    if not out.parent.is_dir():
        raise UsageError(f"--output-chain {path!r}: folder {str(out.parent)!r} does not exist")
    return out


def write_chain(out: Path, pem: bytes) -> None:
    """Create the file exclusively: never replace what is there (it could be the key)."""
    try:
        with out.open("xb") as handle:
            handle.write(pem)
    except FileExistsError:
        raise UsageError(f"--output-chain {str(out)!r} already exists") from None
    except OSError as exc:
        raise UsageError(f"--output-chain {str(out)!r} cannot be written: {exc}") from None


def run(args: argparse.Namespace) -> int:
    if args.domain is not None and not args.domain.strip():
        raise UsageError("--domain needs a host name, such as app.example.com")
    out = _check_output_path(args.output_chain) if args.output_chain is not None else None
    files = read_inputs(args.files)
    passwords = read_passwords(args)
    if args.allow_local_fetch and not args.fetch_missing:
        raise UsageError("--allow-local-fetch only applies with --fetch-missing")
    roots = trust_roots(args.trust_store)
    options = ValidateOptions(
        domain=args.domain,
        name=args.name,
        extra_roots=roots,
        fetch_missing=args.fetch_missing,
        fetcher=_local_fetcher() if args.allow_local_fetch else None,
    )
    report: Report = with_password_prompts(
        lambda given: validate(files, given, options),
        lambda report: report.findings,
        passwords,
        interactive=startup.is_tty(),
        ask=getpass.getpass,
    )
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(render_text(report), end="")
    if out is not None:
        pem = report.chain_pem()
        if pem:
            write_chain(out, pem)
            count = pem.count(b"-----BEGIN CERTIFICATE-----")
            print(f"Chain written to {out} ({count} certificates).", file=sys.stderr)
        else:
            print(f"No chain written to {out}: no certificate was chosen.", file=sys.stderr)
    return EXIT_VALID if report.valid else EXIT_INVALID


def main(argv: list[str], prog: str = "certops validate", command: str = "validate") -> int:
    del command
    # Library warnings (a root with serial 0, a BER-encoded PKCS#7) are judged by the
    # checks; printed raw they would only look like an error to a person.
    warnings.simplefilter("ignore")
    for stream in (sys.stdout, sys.stderr):
        # Names and messages may hold non-ASCII text: never a traceback on a narrow locale.
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")
    try:
        args = build_parser(prog).parse_args(argv)
        return run(args)
    except UsageError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _local_fetcher() -> HttpIssuerFetcher:
    """The AIA fetcher that may reach local addresses (tests): imported only then."""
    from bot.pipeline.aia import HttpIssuerFetcher

    return HttpIssuerFetcher(allow_local=True)
