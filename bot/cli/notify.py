"""`certops notify --once`: post the due expiry warnings and TLS checks, then exit (cron).

The same jobs as the bot's scheduler, with the same claims in the database, so cron,
the bot and several replicas can run together and each warning is still posted once.
`--thresholds ENV SPEC` gives an environment its own thresholds (`30,14,7,3,1,0`,
`33%,7`; `default` for the global ones). Exit 0 when everything due was posted, 1 when
a post failed (it is retried on the next run) or the database is unreachable, 2 for a
usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bot.cli import startup
from bot.cli.startup import EXIT_FAILED, EXIT_OK, EXIT_USAGE


def parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        parents=[startup.json_option()],
        description="Post due expiry warnings and post-assignment TLS checks to Slack.",
    )
    p.add_argument("--once", action="store_true", help="run once and exit (for cron)")
    p.add_argument("--no-tls", action="store_true", help="skip the post-assignment TLS checks")
    p.add_argument(
        "--thresholds",
        nargs=2,
        metavar=("ENV", "SPEC"),
        help="set an environment's thresholds (e.g. '30,14,7,33%%'; 'default' for the global)",
    )
    return p


def main(argv: list[str], prog: str = "certops notify", command: str = "notify") -> int:
    try:
        args = parser(prog).parse_args(argv)
    except SystemExit as exit_:
        return EXIT_OK if exit_.code == 0 else EXIT_USAGE
    try:
        settings = startup.load_settings()
    except startup.UsageError as error:
        return startup.fail(prog, str(error), EXIT_USAGE)
    if not args.once and not args.thresholds:
        return startup.fail(
            prog, "say --once (for cron; `certops run` schedules it itself)", EXIT_USAGE
        )
    from bot.app import create_client
    from bot.services.errors import ServiceError

    try:
        database = startup.open_database(settings)
    except startup.StartupError as error:
        return startup.fail(prog, str(error))
    services = startup.service_context(settings, database)
    try:
        if args.thresholds:
            return _set_thresholds(prog, services, args.thresholds, args.json)
        if not settings.slack_bot_token:
            return startup.fail(
                prog, "posting needs SLACK_BOT_TOKEN (the xoxb- Bot User OAuth Token)"
            )
        from bot.scheduler import build_jobs, run_once

        jobs = build_jobs(settings, services, create_client(settings))
        results = run_once(jobs.as_list(with_tls=not args.no_tls))
    except ServiceError as error:
        return startup.fail(prog, error.message)
    finally:
        database.dispose()
    return _report(prog, results, args.json)


def _set_thresholds(prog: str, services: Any, pair: list[str], as_json: bool) -> int:
    from bot.services.actors import terminal_actor
    from bot.services.expiry import set_environment_thresholds

    env, spec = pair
    text = set_environment_thresholds(
        services, terminal_actor(), env, None if spec.lower() == "default" else spec
    )
    if as_json:
        print(json.dumps({"environment": env, "thresholds": text}))
    else:
        print(f"{env}: warning thresholds {text or 'the global ones'}")
    return EXIT_OK


def _report(prog: str, results: dict[str, Any], as_json: bool) -> int:
    payload: dict[str, Any] = {}
    failed = False
    for name, result in results.items():
        if isinstance(result, Exception):
            payload[name] = {"error": f"{type(result).__name__}: {result}"}
            failed = True
        else:
            payload[name] = result.to_dict()
            failed = failed or bool(payload[name].get("failed"))
    if as_json:
        print(json.dumps(payload, default=str))
    else:
        for name, data in payload.items():
            if "error" in data:
                print(f"{name}: failed: {data['error']}", file=sys.stderr)
                continue
            counts = ", ".join(
                f"{key} {value}" for key, value in data.items() if isinstance(value, int)
            )
            print(f"{name}: {counts}")
            for line in data.get("errors", []):
                print(f"  failed: {line}", file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK
