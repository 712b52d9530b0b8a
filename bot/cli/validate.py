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
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import NoReturn, TextIO

from cryptography import x509

from bot.cli.files import InputFileError, read_input_file
from bot.pipeline.aia import HttpIssuerFetcher
from bot.pipeline.material import InputFile, Passwords
from bot.pipeline.report import Report, render_text
from bot.pipeline.trust import TrustStore, TrustStoreError
from bot.pipeline.validate import ValidateOptions, validate

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
MAX_INPUT_BYTES = 50 * 1024 * 1024
MAX_PASSWORD_BYTES = 64 * 1024  # a password file, not a key or a bundle named by mistake
MAX_PROMPT_ROUNDS = 3


class UsageError(Exception):
    """A problem with the command line or the files named on it: one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see --help)")


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = _Parser(
        prog=prog,
        description="Check certificate files (PEM, DER, P7B, PFX, ZIP, in any mix) before "
        "uploading them: verdict, findings with what to do, and the chain.",
        epilog="Exit status: 0 valid, 1 invalid, 2 usage error. Passwords are read from "
        "files or prompted for on a terminal, never taken from the command line.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="certificate, key, chain files")
    parser.add_argument("--domain", metavar="D", help="host name, *.wildcard or one SAN name")
    parser.add_argument("--name", metavar="N", help="the certificate's name (shown only)")
    parser.add_argument("--password-file", metavar="F", help="file holding the key/PFX password")
    parser.add_argument("--zip-password-file", metavar="F", help="file holding the ZIP password")
    parser.add_argument(
        "--trust-store", metavar="PEM", action="append", default=[], help="extra trusted roots"
    )
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
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    return parser


def _read_bytes(path: str, what: str, max_bytes: int = MAX_INPUT_BYTES) -> bytes:
    try:
        return read_input_file(path, what, max_bytes)
    except InputFileError as exc:
        raise UsageError(str(exc)) from None


def read_password_file(path: str) -> bytes:
    """The password is the file's content less one trailing newline (as `echo` writes)."""
    data = _read_bytes(path, "password file", MAX_PASSWORD_BYTES)
    for end in (b"\r\n", b"\n"):
        if data.endswith(end):
            return data[: -len(end)]
    return data


def read_trust_store(path: str) -> list[x509.Certificate]:
    """Extra trusted roots: a PEM bundle (unreadable blocks skipped) or one DER certificate."""
    data = _read_bytes(path, "trust store")
    try:
        return list(TrustStore.from_pem(data, source=f"trust store {path!r}").extra_roots)
    except TrustStoreError as exc:
        raise UsageError(str(exc)) from None


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


def _needed_passwords(report: Report, passwords: Passwords) -> tuple[bool, bool]:
    """Which passwords are missing: (key/PFX, ZIP), from the password_required findings."""
    need_key = need_zip = False
    for f in report.findings:
        if f.code != "password_required":
            continue
        # The ZIP reader says "no ZIP password"; a key inside a ZIP is named "a.zip:k.pem"
        if "zip password" in f.message.lower():
            need_zip = need_zip or passwords.zip is None
        else:
            need_key = need_key or passwords.key is None
    return need_key, need_zip


def validate_with_prompts(
    files: Sequence[InputFile],
    passwords: Passwords,
    options: ValidateOptions,
    *,
    interactive: bool,
    ask: Callable[[str], str] = getpass.getpass,
) -> Report:
    """Validate; on a terminal, ask for each password a file turned out to need, re-run.

    Asked at most once each (a ZIP may hold an encrypted key: two rounds); a wrong password
    is reported, not asked again, so a script on a pseudo-terminal cannot loop.
    """
    report = validate(files, passwords, options)
    for _ in range(MAX_PROMPT_ROUNDS):
        if not interactive:
            break
        need_key, need_zip = _needed_passwords(report, passwords)
        if not (need_key or need_zip):
            break
        try:
            if need_zip:
                passwords = replace(passwords, zip=_answer(ask, "ZIP password: "))
            if need_key:
                passwords = replace(passwords, key=_answer(ask, "Key/PFX password: "))
        except EOFError:
            # Ctrl-D at the prompt: no password; the report says password_required.
            print(file=sys.stderr)
            break
        report = validate(files, passwords, options)
    return report


def _answer(ask: Callable[[str], str], prompt: str) -> bytes:
    """What was typed, as bytes; odd bytes a terminal sent are kept as they were."""
    try:
        return ask(prompt).encode("utf-8", "surrogateescape")
    except UnicodeError:
        raise UsageError(
            "the password typed could not be read in this terminal's encoding"
        ) from None


def _stdin_is_tty(stdin: TextIO | None) -> bool:
    try:
        return stdin is not None and stdin.isatty()
    except (ValueError, OSError):
        return False


def run(args: argparse.Namespace) -> int:
    if args.domain is not None and not args.domain.strip():
        raise UsageError("--domain needs a host name, such as app.example.com")
    out = _check_output_path(args.output_chain) if args.output_chain is not None else None
    files = [InputFile(Path(p).name, _read_bytes(p, "file")) for p in args.files]
    passwords = Passwords(
        key=read_password_file(args.password_file) if args.password_file is not None else None,
        zip=read_password_file(args.zip_password_file)
        if args.zip_password_file is not None
        else None,
    )
    if args.allow_local_fetch and not args.fetch_missing:
        raise UsageError("--allow-local-fetch only applies with --fetch-missing")
    roots = [cert for path in args.trust_store for cert in read_trust_store(path)]
    options = ValidateOptions(
        domain=args.domain,
        name=args.name,
        extra_roots=roots,
        fetch_missing=args.fetch_missing,
        fetcher=HttpIssuerFetcher(allow_local=True) if args.allow_local_fetch else None,
    )
    report = validate_with_prompts(files, passwords, options, interactive=_stdin_is_tty(sys.stdin))
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
