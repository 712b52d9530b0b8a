"""Memory of a running bot over 1,000 mixed requests: is it bounded, is it given back?

`certops run --http` runs as its own process (its RSS is the bot's alone: the stand-in
for Slack's Web API and file hosting runs here, in the bench). Requests are signed, as
Slack signs them, a few at a time, and mixed: `/cert help` and `/cert list`, App Home
opens, DM uploads (a PEM set, junk, a PFX without its password, a PEM bundle of
`--certs` certificates), password forms (a PBKDF2 key derivation), Slack's retries of
an event already handled, and refused requests (forged signature). From `--people`
different people, so that anything kept per person shows.

Printed: the bot's RSS (VmRSS) after start-up and a warm-up, after each round of
`--requests` (default 1,000) and after a short rest; VmHWM, the peak; and the RSS of
its check worker process (bot/isolation.py), which is counted apart.

    .venv/bin/python bench/bench_soak.py [--requests 1000] [--rounds 2] [--people 300]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_load import Files, make_files, password_submission, share_event
from bot.console.sender import SlackSender
from bot.console.slack_api import FakeSlackApi

SECRET = "soak-signing-secret"
TOKEN = "xoxb-soak"
EXE = str(Path(sys.executable).with_name("certops"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of `pid`, in KiB."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in {"VmRSS", "VmHWM"}:
            found[key] = int(value.split()[0])
    return found


def children_rss(pid: int) -> int:
    """VmRSS of `pid`'s child processes (the check worker, and its multiprocessing
    helper), in KiB."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                total += memory(int(child)).get("VmRSS", 0)
            except FileNotFoundError:
                continue
    return total


def mib(kib: int) -> str:
    return f"{kib / 1024:6.1f} MiB"


@contextmanager
def running_bot(
    folder: Path, api: FakeSlackApi, extra: dict[str, str]
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CERTOPS_", "DATABASE_"))
    }
    environ.update(
        {
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": api.api_url,
            "CERTOPS_DATA_DIR": str(folder / "data"),
            "CERTOPS_NOTIFY_INTERVAL": "3600",
            "CERTOPS_UPLOAD_WINDOW_SECONDS": "0.2",
            "CERTOPS_LOG_LEVEL": "WARNING",
            **extra,
        }
    )
    process = subprocess.Popen(
        [EXE, "run", "--http", "--host", "127.0.0.1", "--port", str(port)],
        cwd=folder,
        env=environ,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("certops run did not start") from None
                time.sleep(0.1)
        yield process, f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


class Mix:
    """The kinds of request, each a function of a person; one picked at random per request."""

    def __init__(self, api: FakeSlackApi, sender: SlackSender, files: Files) -> None:
        self.api, self.sender, self.files = api, sender, files
        self.event_ids = itertools.count(1)
        self.last_event: dict[str, Any] | None = None

    def kinds(self) -> list[tuple[int, Callable[[str], Any]]]:
        """(weight, request) pairs."""
        return [
            (20, lambda u: self.command("help", u)),
            (10, lambda u: self.command("list", u)),
            (10, self.home),
            (
                15,
                lambda u: self.upload(
                    u, [("fullchain.pem", self.files.chain), ("key.pem", self.files.key)]
                ),
            ),
            (10, lambda u: self.upload(u, [("notes.txt", os.urandom(2048))])),
            (10, lambda u: self.upload(u, [("site.pfx", self.files.pfx)])),
            (5, lambda u: self.upload(u, [("bundle.pem", self.files.bundle)])),
            (8, self.password),
            (7, self.retry),
            (5, self.forged),
        ]

    def command(self, text: str, user: str) -> Any:
        return self.sender.command(text, user_id=user, response_url=self.api.response_url())

    def home(self, user: str) -> Any:
        event = {"type": "app_home_opened", "user": user, "tab": "home", "channel": "D" + user[1:]}
        return self.sender.event(event, event_id=f"Ev{next(self.event_ids):08d}")

    def upload(self, user: str, files: list[tuple[str, bytes]]) -> Any:
        infos = [self.api.add_file(name, data) for name, data in files]
        event = share_event(user, infos)
        self.last_event = event
        return self.sender.event(event, event_id=f"Ev{next(self.event_ids):08d}")

    def password(self, user: str) -> Any:
        info = self.api.add_file("key.p8.pem", self.files.pkcs8)
        return self.sender.interaction(password_submission(user, str(info["id"])))

    def retry(self, user: str) -> Any:
        """Slack delivering an event again (same event id, X-Slack-Retry-Num)."""
        event = self.last_event or share_event(user, [])
        return self.sender.event(event, event_id="EvRETRIED", retry_num=1)

    def forged(self, user: str) -> Any:
        body = json.dumps({"type": "event_callback", "event": {"type": "message"}})
        return self.sender.post(body, "application/json", signature="v0=" + "0" * 64)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--people", type=int, default=300)
    parser.add_argument("--certs", type=int, default=2000)
    parser.add_argument("--iterations", type=int, default=100_000)
    parser.add_argument("--bot-env", action="append", default=[], help="KEY=VALUE for the bot")
    parser.add_argument("--parallel", type=int, default=8, help="requests in flight at once")
    args = parser.parse_args()
    random.seed(11)
    with tempfile.TemporaryDirectory() as name, FakeSlackApi(bot_token=TOKEN) as api:
        folder = Path(name)
        files = make_files(args.iterations, args.certs, folder)
        subprocess.run(
            [EXE, "db", "upgrade"],
            env={**os.environ, "CERTOPS_DATA_DIR": str(folder / "data")},
            cwd=folder,
            check=False,
            capture_output=True,
        )
        extra = dict(item.split("=", 1) for item in args.bot_env)
        with running_bot(folder, api, extra) as (process, url):
            mix = Mix(api, SlackSender(url, SECRET), files)
            kinds = mix.kinds()
            weights = [w for w, _ in kinds]
            people = [f"USOAK{i:05d}" for i in range(args.people)]
            print(f"certops run --http, pid {process.pid}; {args.people} people; 2 cores")
            print(f"after start-up             RSS {mib(memory(process.pid)['VmRSS'])}")
            run_round(mix, kinds, weights, people, 50, args.parallel)
            rest(api)
            print(f"after a warm-up of 50      RSS {mib(memory(process.pid)['VmRSS'])}")
            for number in range(1, args.rounds + 1):
                started = time.perf_counter()
                statuses = run_round(mix, kinds, weights, people, args.requests, args.parallel)
                took = time.perf_counter() - started
                rest(api)
                seen = memory(process.pid)
                print(
                    f"after {args.requests} more (round {number})  RSS {mib(seen['VmRSS'])}"
                    f"   peak {mib(seen['VmHWM'])}   check worker {mib(children_rss(process.pid))}"
                    f"   {took:5.1f} s   answers {statuses}"
                )
            time.sleep(5)
            print(f"after 5 s at rest          RSS {mib(memory(process.pid)['VmRSS'])}")
    return 0


def run_round(
    mix: Mix,
    kinds: list[tuple[int, Callable[[str], Any]]],
    weights: list[int],
    people: list[str],
    count: int,
    parallel: int,
) -> dict[int, int]:
    picks = random.choices([k for _, k in kinds], weights=weights, k=count)
    statuses: dict[int, int] = {}

    def one(index: int) -> int:
        return int(picks[index](random.choice(people)).status)

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        for status in pool.map(one, range(count)):
            statuses[status] = statuses.get(status, 0) + 1
    return statuses


def rest(api: FakeSlackApi, quiet: float = 1.0, timeout: float = 300) -> None:
    """Until the bot has made no Web API call for `quiet` seconds (its work is done)."""
    deadline = time.monotonic() + timeout
    last, since = api.mark(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = api.mark()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return


if __name__ == "__main__":
    sys.exit(main())
