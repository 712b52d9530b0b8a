"""`certops doctor [--json] [--http | --socket] [--nameserver HOST[:PORT]]...`

Checks the deployment item by item (settings, tokens, mode, admins, database and its
migration, the bot token against Slack and its scopes against manifest.yml, the channels
the bot posts to, the DNS resolver, the LifeTime token when set) and says for each what is right or what to fix.
Exit 0 when nothing failed (warnings allowed), 1 when an item failed, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
MARKS = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL", "skip": "skip"}


def parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Check certops' configuration and say what to fix.",
        epilog="Exit status: 0 nothing failed, 1 an item failed, 2 usage error.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--http",
        action="store_const",
        const="http",
        dest="mode",
        help="check for HTTP mode (certops run --http)",
    )
    mode.add_argument(
        "--socket", action="store_const", const="socket", dest="mode", help="check for Socket Mode"
    )
    p.add_argument(
        "--nameserver",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="DNS resolver to check (repeatable; default: the system resolver)",
    )
    p.add_argument(
        "--dns-name", default=None, help="name to query (default outsystemsenterprise.com)"
    )
    p.add_argument(
        "--dns-timeout", type=float, default=3.0, help="seconds to wait for DNS (default 3)"
    )
    p.add_argument(
        "--manifest",
        type=Path,
        default=None,
        help="manifest.yml to compare scopes with (default: the copy shipped with certops)",
    )
    return p


def main(argv: list[str], prog: str = "certops doctor", command: str = "doctor") -> int:
    args = parser(prog).parse_args(argv)
    from bot import settings as settings_module
    from bot.doctor import DoctorOptions, run_doctor
    from bot.doctor.dns_checks import DEFAULT_NAME
    from bot.doctor.runner import failed
    from bot.pipeline.nameservers import parse_nameserver

    try:
        nameservers = [parse_nameserver(text) for text in args.nameserver] or None
    except ValueError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return EXIT_USAGE
    if not 0 < args.dns_timeout <= 60:
        print(f"{prog}: --dns-timeout must be between 0 and 60 seconds", file=sys.stderr)
        return EXIT_USAGE
    options = DoctorOptions(
        mode=args.mode or "auto",
        nameservers=nameservers,
        dns_name=args.dns_name or DEFAULT_NAME,
        dns_timeout=args.dns_timeout,
        manifest_path=args.manifest,
    )
    results = run_doctor(settings_module.load(), options)
    bad = failed(results)
    if args.json:
        print(json.dumps({"ok": not bad, "checks": [r.to_dict() for r in results]}, indent=2))
    else:
        for result in results:
            print(f"[{MARKS[str(result.status)]}] {result.name}: {result.what}")
            if result.fix:
                print(f"       fix: {result.fix}")
        counts = {s: sum(1 for r in results if str(r.status) == s) for s in MARKS}
        print(
            f"\n{counts['ok']} ok, {counts['warn']} warning(s), {counts['fail']} failed"
            + (f", {counts['skip']} skipped" if counts["skip"] else "")
        )
    return EXIT_FAILED if bad else EXIT_OK
