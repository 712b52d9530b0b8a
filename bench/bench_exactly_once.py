"""Exactly once across replicas when Slack's answer is lost and a replica is killed
(issue 13, points 1-3).

    .venv/bin/python bench/bench_exactly_once.py [--certs 24] [--channels 4] [--lose-every 5]

On a scratch PostgreSQL database, `--certs` certificates are due a warning, spread over
`--channels` channels. The Slack stand-in on loopback posts every `--lose-every`-th
`chat.postMessage` and closes the connection without answering (a lost answer). First one
`certops notify --once` replica is killed (SIGKILL) right after Slack accepted its first
post, before it could record it. Then `--run-replicas` `certops run --http` replicas
(scanning every second) and waves of `--replicas` `notify --once` replicas run at once
(after the claim lease, so they settle the killed replica's claim) until a wave has
nothing due; the `run` replicas are then stopped (SIGTERM).

Prints: due, posted once, duplicates, misses; lost answers, claims reconciled; whether
the record matches Slack (`certops_warnings_posted_total` against the messages); the most
posts one channel got within one second; the wall time.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402
from scratch_databases import DEFAULT_ADMIN_URL, scratch_postgres  # noqa: E402
from sqlalchemy import text  # noqa: E402

from bot.console.slack_api import FakeSlackApi  # noqa: E402
from bot.metrics import Metrics  # noqa: E402
from storage import migrate  # noqa: E402
from storage.db import Database  # noqa: E402
from tests.support.certops_run import EXE, free_port, wait_listening  # noqa: E402
from tests.support.notify import TOKEN, environment, seed  # noqa: E402

NOTIFY = [sys.executable, "-m", "bot", "notify", "--once", "--no-tls", "--json"]
LEASE = 1.0  # CERTOPS_WARNING_LEASE_SECONDS of the replicas: short, to settle in the run


def share_channels(url: str, channels: int) -> None:
    """Put the seeded environments in `channels` channels (several warnings per channel)."""
    database = Database(url)
    try:
        with database.session() as session:
            for (env_id,) in session.execute(text("SELECT id FROM environment")).all():
                session.execute(
                    text("UPDATE environment SET channel = :c WHERE id = :i"),
                    {"c": f"C0SHARED{env_id % channels:02d}", "i": env_id},
                )
    finally:
        database.dispose()


def posted_metric(url: str) -> float:
    database = Database(url)
    try:
        rendered = Metrics(database).render().decode()
    finally:
        database.dispose()
    return sum(
        sample.value
        for family in text_string_to_metric_families(rendered)
        for sample in family.samples
        if sample.name == "certops_warnings_posted_total"
    )


def kill_after_first_post(api: FakeSlackApi, env: dict[str, str], cwd: Path) -> None:
    api.hold_answers["chat.postMessage"] = 60.0
    victim = subprocess.Popen(
        NOTIFY, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        api.wait_for("chat.postMessage", 1, timeout=120)
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        api.hold_answers.clear()


def start_runs(
    env: dict[str, str], cwd: Path, count: int
) -> list[tuple[subprocess.Popen[str], int]]:
    """Started, not waited for: they race the first `notify --once` wave."""
    runs = []
    for index in range(count):
        port = free_port()
        run_env = {
            **env,
            "SLACK_SIGNING_SECRET": "bench-exactly-once-secret",
            "CERTOPS_DATA_DIR": str(cwd / f"run-data-{index}"),
            "CERTOPS_NOTIFY_INTERVAL": "1",
            "CERTOPS_SHUTDOWN_SECONDS": "5",
        }
        process = subprocess.Popen(
            [EXE, "run", "--http", "--host", "127.0.0.1", "--port", str(port)],
            cwd=cwd,
            env=run_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        runs.append((process, port))
    return runs


def stop_runs(runs: list[tuple[subprocess.Popen[str], int]]) -> None:
    for process, port in runs:
        wait_listening(port, process)  # it was up the whole run, not still starting
        process.send_signal(signal.SIGTERM)
    for process, _ in runs:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wave(env: dict[str, str], cwd: Path, replicas: int) -> list[dict[str, int]]:
    runs = [
        subprocess.Popen(
            NOTIFY, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        for _ in range(replicas)
    ]
    reports = []
    for run in runs:
        out, _ = run.communicate(timeout=600)
        try:
            reports.append(json.loads(out)["expiry"])
        except (ValueError, KeyError):
            reports.append({"error": 1})
    return reports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certs", type=int, default=24)
    parser.add_argument("--channels", type=int, default=4)
    parser.add_argument("--lose-every", type=int, default=5)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--run-replicas", type=int, default=1)
    parser.add_argument("--postgres", default=DEFAULT_ADMIN_URL)
    args = parser.parse_args()
    with scratch_postgres(args.postgres) as url:
        if url is None:
            return
        migrate.upgrade(url)
        seed(url, args.certs)
        share_channels(url, args.channels)
        with tempfile.TemporaryDirectory() as folder, FakeSlackApi(bot_token=TOKEN) as api:
            cwd = Path(folder)
            env = environment(url, api)
            env["CERTOPS_WARNING_LEASE_SECONDS"] = str(LEASE)
            started = time.monotonic()
            kill_after_first_post(api, env, cwd)
            api.lose_every = args.lose_every
            time.sleep(LEASE + 0.2)
            runs = start_runs(env, cwd, args.run_replicas)
            waves = by_notify = 0
            try:
                while True:
                    reports = wave(env, cwd, args.replicas)
                    waves += 1
                    by_notify += sum(r.get("posted", 0) for r in reports)
                    done = waves >= 2 and not any(r.get("due", 1) for r in reports)
                    if done or waves >= 6:
                        break
                    time.sleep(LEASE + 0.2)
            finally:
                stop_runs(runs)
            elapsed = time.monotonic() - started
            print(f"posted by the notify --once replicas: {by_notify}")
            report(api, url, args, waves, elapsed)


def report(
    api: FakeSlackApi,
    url: str,
    args: argparse.Namespace,
    waves: int,
    elapsed: float,
) -> None:
    per_cert: Counter[int] = Counter()
    per_second: Counter[tuple[str, str]] = Counter()
    in_slack: dict[str, str] = {}
    for channel, messages in api.messages.items():
        for message in messages:
            payload = message["metadata"]["event_payload"]
            per_cert[int(payload["certificate"])] += 1
            in_slack[str(payload["claim"])] = str(message["ts"])
            per_second[(channel, str(message["ts"]).split(".")[0])] += 1
    database = Database(url)
    try:
        with database.session() as session:
            reconciled = session.execute(
                text("SELECT count(*) FROM audit_event WHERE action = 'notification.reconciled'")
            ).scalar_one()
            recorded = {
                str(claim): str(ts)
                for claim, ts in session.execute(
                    text("SELECT id, message_ts FROM notification WHERE posted_at IS NOT NULL")
                ).all()
            }
    finally:
        database.dispose()
    duplicates = sum(n - 1 for n in per_cert.values())
    matches = recorded == in_slack
    print(
        f"{args.run_replicas} `run --http` replica(s) and {waves} wave(s) of {args.replicas} "
        "`notify --once` replicas after one killed replica; "
        f"{args.certs} certificates in {args.channels} channels; "
        f"every {args.lose_every}th answer lost"
    )
    print(f"due:                 {args.certs}")
    print(f"posted once:         {sum(1 for n in per_cert.values() if n == 1)}")
    print(f"duplicates:          {duplicates}")
    print(f"misses:              {args.certs - len(per_cert)}")
    print(f"lost answers:        {api.lost}")
    print(f"claims reconciled:   {reconciled} (the killed replica's post, found in Slack)")
    print(f"history lookups:     {len(api.calls('conversations.history'))}")
    print(
        f"record == Slack:     {matches} (certops_warnings_posted_total "
        f"{posted_metric(url):.0f}, messages {sum(per_cert.values())})"
    )
    print(f"max posts/channel/s: {max(per_second.values()) if per_second else 0}")
    print(f"wall time:           {elapsed:.1f} s")


if __name__ == "__main__":
    main()
