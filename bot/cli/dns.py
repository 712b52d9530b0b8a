"""`certops dns HOSTNAME --target ENV_HOST`: the DNS check on the terminal.

A thin shell around `bot.pipeline.dns_check.check_dns`, the same function the Slack
commands call. Exit codes are the contract: 0 ok, 1 misconfigured, 3 unknown (no answer
could be had: not a failure of the DNS), 2 for a usage error. Every usage error is one
line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from bot.cli import startup
from bot.cli.startup import EXIT_OK, EXIT_USAGE, UsageError
from bot.pipeline.hostnames import InvalidHostname, normalize

EXIT_MISCONFIGURED = 1
EXIT_UNKNOWN = 3
DEFAULT_TIMEOUT = 5.0  # the same as bot.pipeline.dns_check.DEFAULT_TIMEOUT
_MAX_STARTUP = 2.0  # a larger "age" means the clocks do not compare: ignore it


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        parents=[startup.dns_options(DEFAULT_TIMEOUT), startup.json_option()],
        description="Check that HOSTNAME is a CNAME whose first hop is the environment's "
        "default host (ENV_HOST, e.g. acme-dev.outsystemsenterprise.com).",
        epilog="Exit status: 0 ok, 1 misconfigured, 3 unknown (no nameserver answered), "
        "2 usage error.",
    )
    parser.add_argument("hostname", metavar="HOSTNAME", help="the custom hostname to check")
    parser.add_argument(
        "--target",
        required=True,
        metavar="ENV_HOST",
        help="the environment's default host the CNAME must point at",
    )
    parser.add_argument(
        "--cert",
        nargs="+",
        action="extend",
        default=[],
        metavar="FILE",
        help="certificate file(s): also check that the certificate covers HOSTNAME",
    )
    return parser


def _hostname(value: str, what: str) -> str:
    try:
        return normalize(value)
    except InvalidHostname as exc:
        raise UsageError(f"invalid {what}: {exc}") from None


def _certificate_names(paths: list[str], hostname: str) -> list[str]:
    # Imported here: cryptography is only paid for when --cert is given.
    from bot.pipeline.dns_certificate import certificate_names

    files = startup.read_inputs(paths, "--cert file")
    try:
        return certificate_names(files, hostname)
    except ValueError as exc:
        raise UsageError(f"--cert: {exc}") from None


def _load_balancer_patterns() -> tuple[str, ...]:
    from bot import settings

    return settings.load().load_balancer_patterns


def _process_age(argv: list[str]) -> float:
    """Seconds since this process started, when this command is the process; else 0.

    Starting Python and importing dnspython take 0.1-0.2 s, more on a busy machine; when
    the process is `certops dns ...` itself, the budget counts them so that `--timeout 2`
    bounds the whole process, not only the queries. Called in-process (tests, another
    command), or where Linux's /proc does not say, the budget starts with the command.
    """
    if sys.argv[1:2] != ["dns"] or sys.argv[2:] != argv:
        return 0.0
    try:
        with open("/proc/self/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - started
    except (OSError, ValueError, IndexError, AttributeError):
        return 0.0
    return age if 0.0 <= age <= _MAX_STARTUP else 0.0


def _run(args: argparse.Namespace, started: float) -> int:
    # dnspython costs about 0.1 s to import: imported here, inside the budget, which
    # starts when the command starts, so that --timeout bounds the whole process.
    from bot.pipeline.dns_check import check_dns
    from bot.pipeline.dns_report import VERDICT_MISCONFIGURED, VERDICT_OK, render_text

    hostname = _hostname(args.hostname, "hostname")
    target = _hostname(args.target, "--target")
    if hostname == target:
        raise UsageError(f"the hostname and --target are the same name ({hostname})")
    timeout = startup.timeout(args.timeout)
    nameservers = startup.nameservers(args.nameserver) or []
    names = _certificate_names(args.cert, hostname) if args.cert else None
    report = check_dns(
        hostname,
        target,
        nameservers=nameservers,
        timeout=timeout,
        load_balancer_patterns=_load_balancer_patterns(),
        certificate_names=names,
        started=started,
    )
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(render_text(report))
    if report.verdict == VERDICT_OK:
        return EXIT_OK
    if report.verdict == VERDICT_MISCONFIGURED:
        return EXIT_MISCONFIGURED
    return EXIT_UNKNOWN


def main(argv: list[str], prog: str = "certops dns", command: str = "dns") -> int:
    del command
    started = time.monotonic() - _process_age(argv)
    parser = _parser(prog)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed the usage line already
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return _run(args, started)
    except UsageError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_USAGE
