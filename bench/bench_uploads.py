"""Files in a DM, from the event to the verdict, and the validate modal's ack.

The app runs in HTTP mode on loopback (as `certops run --http`), Slack's Web API and its
file hosting played by the stand-in, on a migrated SQLite file. Timed:

- DM upload: from sending the signed `file_share` event to the `chat.update` carrying the
  verdict, with the grouping window set to 0 (the window itself adds its length): a PEM
  set (certificate + chain, key) and a PFX answered with "Enter the password";
- download: the hardened downloader alone, for a 4 KB file and a 10 MB one (the cap);
- the validate modal: the ack of a PEM submission (download, check, save within it).

    .venv/bin/python bench/bench_uploads.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    pkcs12,
)

from bot.app import create_app, listener_runs
from bot.console.loopback import LoopbackServer
from bot.console.sender import SlackSender
from bot.console.slack_api import FakeSlackApi
from bot.services.context import ServiceContext
from bot.settings import Settings
from bot.shutdown import InFlight
from handlers.common.deps import Deps
from handlers.common.request_context import ContextExecutor
from handlers.common.slack_files import Downloader
from storage import migrate
from storage.db import Database
from tests.support.pki import CA, rsa_key

SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench"
USER = "UBENCH001"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def line(label: str, values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"{label:<44} median {statistics.median(ms):7.1f} ms   p90 {percentile(ms, 90):7.1f} ms"
        f"   max {max(ms):7.1f} ms   (n={len(ms)})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    root = CA.root("Bench Root")
    inter = root.intermediate("Bench Intermediate")
    leaf = inter.leaf(sans=["shop.example.com"], key=rsa_key(2048, 0))
    chain = leaf.pem + inter.issued.pem
    pfx = pkcs12.serialize_key_and_certificates(
        b"shop",
        leaf.key,  # type: ignore[arg-type]
        leaf.cert,
        [inter.cert],
        BestAvailableEncryption(b"bench-password"),
    )
    with tempfile.TemporaryDirectory() as folder, FakeSlackApi(bot_token=TOKEN) as api:
        url = f"sqlite:///{folder}/certops.db"
        migrate.upgrade(url)
        settings = dataclasses.replace(
            Settings(database_url=url),
            slack_bot_token=TOKEN,
            slack_signing_secret=SECRET,
            slack_api_url=api.api_url,
            upload_window_seconds=0.0,
        )
        services = ServiceContext(database=Database(url), extra_roots=(root.cert,))
        executor = ContextExecutor(max_workers=16)
        app = create_app(
            settings, deps=Deps(settings=settings, services=services), listener_executor=executor
        )
        runs = listener_runs(app)
        with LoopbackServer(app, threads=8) as server:
            sender = SlackSender(server.url, SECRET)
            print(f"{args.rounds} rounds each, 2 cores; window 0 s (the real one adds its length)")
            for label, files in (
                (
                    "DM upload, PEM set -> verdict",
                    [("cert.pem", chain), ("key.pem", leaf.key_pem())],
                ),
                ("DM upload, PFX -> 'Enter the password'", [("shop.pfx", pfx)]),
            ):
                times = [upload(api, sender, runs, files) for _ in range(args.rounds + 1)]
                print(line(label, times[1:]))  # the first pays auth.test and connections
            small = api.add_file("small.pem", chain)
            big = api.add_file("big.bin", b"\0" * (10 * 1024 * 1024))
            downloader = Downloader.for_api(TOKEN, api.api_url)
            for label, info in (("download 4 KB", small), ("download 10 MB (the cap)", big)):
                times = []
                for _ in range(args.rounds):
                    started = time.perf_counter()
                    downloader.download(info["url_private_download"])
                    times.append(time.perf_counter() - started)
                print(line(label, times))
            times = [
                modal_ack(api, sender, runs, chain, leaf.key_pem(), i) for i in range(args.rounds)
            ]
            print(line("validate modal: ack of a PEM submission", times))
    return 0


def upload(
    api: FakeSlackApi,
    sender: SlackSender,
    runs: InFlight,
    files: list[tuple[str, bytes]],
) -> float:
    infos = [api.add_file(name, data) for name, data in files]
    event = {
        "type": "message",
        "subtype": "file_share",
        "channel_type": "im",
        "channel": "D" + USER[1:],
        "user": USER,
        "text": "",
        "files": infos,
        "ts": f"{time.time():.6f}",
    }
    since = api.mark()
    started = time.perf_counter()
    sender.event(event)
    api.wait_for("chat.update", since=since, timeout=30)
    elapsed = time.perf_counter() - started
    runs.wait_idle(60)
    return elapsed


def modal_ack(
    api: FakeSlackApi,
    sender: SlackSender,
    runs: InFlight,
    chain: bytes,
    key: bytes,
    index: int,
) -> float:
    cert_info = api.add_file("cert.pem", chain)
    key_info = api.add_file("key.pem", key)

    def text(value: str) -> dict[str, object]:
        return {"value": {"type": "plain_text_input", "value": value}}

    def files(info: dict[str, object]) -> dict[str, object]:
        return {"files": {"type": "file_input", "files": [info]}}

    payload = {
        "type": "view_submission",
        "user": {"id": USER, "username": "bench"},
        "view": {
            "id": "V" + uuid.uuid4().hex[:8],
            "type": "modal",
            "callback_id": "validate_fields",
            "private_metadata": json.dumps({"format": "pem"}),
            "state": {
                "values": {
                    "domain": text("shop.example.com"),
                    "name": text(f"bench-{index}-{uuid.uuid4().hex[:6]}"),
                    "certificate": files(cert_info),
                    "key": files(key_info),
                }
            },
        },
    }
    started = time.perf_counter()
    sent = sender.interaction(payload)
    elapsed = time.perf_counter() - started
    assert "Saved" in sent.body, sent.body[:300]
    runs.wait_idle(60)
    return elapsed


if __name__ == "__main__":
    sys.exit(main())
