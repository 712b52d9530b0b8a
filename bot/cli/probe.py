"""`certops probe --once [--adopt] [--json] [--no-post]`: probe every hostname now, then
exit (cron).

The same probe as the bot's scheduler (bot/services/served.py) with the same claims in the
database: every current assignment's hostname and every environment's default host (and
custom hostname) is probed now, its outcome recorded, and each change of outcome posted
once in the environment's channel (skipped with `--no-post`, or without SLACK_BOT_TOKEN).
`--adopt` then records what each `not_recorded` hostname serves as its environment's
certificate (`observed`), from the same connection: after `certops env sync`, one run
takes in what already runs.

Exit status: 0 every hostname serves what is recorded (`ok`) or nothing is recorded for
it (`not_recorded`); 4 some hostname drifted or failed (any other outcome); 1 the
database is unreachable or a post failed (it is retried on the next run); 2 usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bot.cli import startup
from bot.cli.startup import EXIT_FAILED, EXIT_OK, EXIT_USAGE

EXIT_DRIFT = 4
QUIET_OUTCOMES = ("ok", "not_recorded")  # no drift: exit 0


def parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        parents=[startup.json_option()],
        description="Probe what every hostname serves and compare it with the record.",
        epilog="Exit status: 0 all ok (or not recorded), 4 drift or failures found, "
        "1 database unreachable or a post failed, 2 usage.",
    )
    p.add_argument("--once", action="store_true", help="probe every hostname now and exit")
    p.add_argument("--no-post", action="store_true", help="record the outcomes, post nothing")
    p.add_argument(
        "--adopt",
        action="store_true",
        help="adopt what each not_recorded hostname serves (status observed; see certops adopt)",
    )
    return p


def main(argv: list[str], prog: str = "certops probe", command: str = "probe") -> int:
    try:
        args = parser(prog).parse_args(argv)
    except SystemExit as exit_:
        return EXIT_OK if exit_.code == 0 else EXIT_USAGE
    if not args.once:
        return startup.fail(
            prog, "say --once (for cron; `certops run` schedules it itself)", EXIT_USAGE
        )
    try:
        settings = startup.load_settings()
    except startup.UsageError as error:
        return startup.fail(prog, str(error), EXIT_USAGE)
    from bot.services import served
    from bot.services.errors import ServiceError

    try:
        database = startup.open_database(settings)
    except startup.StartupError as error:
        return startup.fail(prog, str(error))
    services = startup.service_context(settings, database)
    config = served.config_from_settings(settings)
    note = None
    try:
        report = served.run_probe(services, config, every=True)
        if args.adopt:
            _adopt(settings, services, config, report)
        if args.no_post:
            pass
        elif not settings.slack_bot_token:
            note = "not posted: SLACK_BOT_TOKEN is not set (the outcomes are recorded)"
        else:
            report = _post(settings, services, config, report)
    except ServiceError as error:
        return startup.fail(prog, error.message)
    finally:
        database.dispose()
    return _print(report.to_dict(), args.json, note)


def _adopt(settings: Any, services: Any, config: Any, report: Any) -> None:
    """Adopt the `not_recorded` hostnames, then record them again (now `ok`: no post)."""
    from bot.services import adoption, served
    from bot.services.actors import terminal_actor
    from bot.services.expiry_thresholds import thresholds_of

    adopted = adoption.adopt_unrecorded(
        services,
        terminal_actor(),
        report,
        options=served.config_from_settings(settings),
        thresholds=thresholds_of(settings),
    )
    served.record_adopted(services, config, adopted)


def _post(settings: Any, services: Any, config: Any, report: Any) -> Any:
    from bot.app import create_client
    from bot.scheduler import build_jobs
    from bot.services import served

    jobs = build_jobs(settings, services, create_client(settings))
    publisher: Any = jobs.publisher
    return served.post_changes(services, config, publisher, jobs.config, jobs.pacer, report)


def _print(data: dict[str, Any], as_json: bool, note: str | None) -> int:
    if as_json:
        print(json.dumps(data, default=str))
    else:
        for result in data["results"]:
            why = f"  ({result['detail']})" if result.get("detail") else ""
            print(f"{result['hostname']}  {result['environment']}  {result['outcome']}{why}")
        for entry in data.get("adopted", []):
            where = f"{entry['hostname']}  {entry['environment']}"
            if "adopted" in entry:
                print(f"adopted {where} as {entry['adopted']} (until {entry['not_after']})")
            else:
                print(f"not adopted {where}: {entry.get('refused') or entry.get('skipped')}")
        counts = ", ".join(f"{k} {v}" for k, v in data["outcomes"].items()) or "no hostnames"
        print(
            f"probed {data['probed']}: {counts}; changed {data['changed']}, posted {data['posted']}"
        )
    if note:
        print(f"certops probe: {note}", file=sys.stderr)
    if data["failed_posts"]:
        print(f"certops probe: {data['failed_posts']} post(s) failed", file=sys.stderr)
        return EXIT_FAILED
    drift = any(key not in QUIET_OUTCOMES for key in data["outcomes"])
    return EXIT_DRIFT if drift else EXIT_OK
