"""Command acks under load: uploads from many people while hostile files are checked.

The app runs in HTTP mode on loopback (as `certops run --http`: waitress, Bolt's WSGI
adapter, the real listener executor and work pool), Slack's Web API and file hosting
played by the stand-in, on a migrated SQLite file. All requests are signed, as Slack
signs them. At once:

- 30 people each drop a valid PEM set (certificate + chain, key) in a DM;
- slow-but-legal hostile submissions, `--hostile` (20) of each kind, each from its own
  person: an encrypted PKCS#8 key with `--iterations` PBKDF2 rounds, and a PFX with as
  many (key bags and MAC), both submitted through the password form with a password (the
  KDF runs); the same PFX dropped without a password (the MAC check runs); a PEM bundle
  of `--certs` certificates; a file whose host drips one byte every 0.2 s (cut off by
  the download deadline, `--deadline`);
- other people send `/cert help`, one every `--every` seconds, until every upload is
  answered.

Printed: the `/cert help` ack (sending to HTTP answer) p50/p99/max before and under load
(target: p99 <= 300 ms), the event acks, how long the 30 people waited for their verdicts,
and how long the hostile work took to drain.

    .venv/bin/python bench/bench_load.py [--hostile 20] [--iterations 200000] [--certs 2000]
        [--kinds kdf,bag,mac,bundle,drip] [--in-process] [--threads 4] [--deadline 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import logging
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PrivateFormat, pkcs12

from bot.app import create_app
from bot.console.loopback import LoopbackServer
from bot.console.sender import SlackSender, file_share_event
from bot.console.slack_api import FakeSlackApi
from bot.services.context import ServiceContext
from bot.settings import Settings
from bot.shutdown import shutdown_for
from handlers.common.deps import Deps
from handlers.common.ids import UploadId
from storage import migrate
from storage.db import Database
from tests.support.pki import CA, Issued, name, rsa_key

SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench"
PASSWORD = b"bench-password"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def line(label: str, seconds: list[float]) -> str:
    ms = [v * 1000 for v in seconds]
    if not ms:
        return f"{label:<44} (none)"
    return (
        f"{label:<44} p50 {percentile(ms, 50):7.1f} ms   p99 {percentile(ms, 99):7.1f} ms"
        f"   max {max(ms):7.1f} ms   (n={len(ms)})"
    )


# --- the files ----------------------------------------------------------------------------
@dataclasses.dataclass
class Files:
    chain: bytes
    key: bytes
    pkcs8: bytes
    pfx: bytes
    bundle: bytes
    root: x509.Certificate


def make_files(iterations: int, certs: int, folder: Path) -> Files:
    root = CA.root("Load Root")
    inter = root.intermediate("Load Intermediate")
    leaf: Issued = inter.leaf(sans=["shop.example.com"], key=rsa_key(2048, 0))
    key_file = folder / "key.pem"
    key_file.write_bytes(leaf.key_pem())
    command = ["openssl", "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-iter", str(iterations)]
    pkcs8 = subprocess.run(
        [*command, "-in", str(key_file), "-passout", f"pass:{PASSWORD.decode()}"],
        check=True,
        capture_output=True,
    ).stdout
    encryption = (
        PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(iterations)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(PASSWORD)
    )
    pfx = pkcs12.serialize_key_and_certificates(
        b"shop",
        leaf.key,
        leaf.cert,
        [inter.cert],
        encryption,
    )
    return Files(leaf.pem + inter.issued.pem, leaf.key_pem(), pkcs8, pfx, bundle(certs), root.cert)


def bundle(count: int) -> bytes:
    """`count` distinct certificates (one cheap EC key signs them all) in one PEM file."""
    key = ec.generate_private_key(ec.SECP256R1())
    issuer = name("Bundle CA")
    now = dt_now()
    parts = []
    for index in range(count):
        cert = (
            x509.CertificateBuilder()
            .subject_name(name(f"host{index}.example.com"))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(index + 1)
            .not_valid_before(now)
            .not_valid_after(now.replace(year=now.year + 1))
            .sign(key, hashes.SHA256())
        )
        parts.append(cert.public_bytes(Encoding.PEM))
    return b"".join(parts)


def dt_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


# --- the requests -------------------------------------------------------------------------
def share_event(user: str, infos: list[dict[str, Any]]) -> dict[str, Any]:
    return file_share_event(infos, user)


def password_submission(user: str, file_id: str) -> dict[str, Any]:
    """The password form as Slack submits it: the file ids ride in private_metadata."""
    metadata = {"files": [file_id], "zip": False, "channel": "D" + user[1:]}
    return {
        "type": "view_submission",
        "user": {"id": user, "username": user.lower()},
        "view": {
            "id": "V" + user,
            "type": "modal",
            "callback_id": UploadId.PASSWORD_MODAL,
            "private_metadata": json.dumps(metadata),
            "state": {
                "values": {
                    "password": {"value": {"type": "plain_text_input", "value": PASSWORD.decode()}}
                }
            },
        },
    }


class Load:
    """Sends the load and keeps the timings."""

    def __init__(self, api: FakeSlackApi, sender: SlackSender) -> None:
        self.api = api
        self.sender = sender
        self.event_acks: list[float] = []
        self.sent_at: dict[str, float] = {}
        self.lock = threading.Lock()

    def timed(self, send: Callable[[], Any]) -> float:
        started = time.perf_counter()
        sent = send()
        assert sent.status == 200, (sent.status, sent.body[:200])
        return time.perf_counter() - started

    def upload(self, user: str, files: list[tuple[str, bytes]], drip: float = 0.0) -> None:
        infos = [self.api.add_file(file_name, data) for file_name, data in files]
        for info in infos if drip else []:
            self.api.file_drip[str(info["id"])] = drip
        with self.lock:
            self.sent_at["D" + user[1:]] = time.perf_counter()
        took = self.timed(lambda: self.sender.event(share_event(user, infos)))
        with self.lock:
            self.event_acks.append(took)

    def password(self, user: str, file_name: str, data: bytes) -> None:
        info = self.api.add_file(file_name, data)
        self.timed(lambda: self.sender.interaction(password_submission(user, str(info["id"]))))

    def help(self, user: str) -> float:
        return self.timed(
            lambda: self.sender.command("help", user_id=user, response_url=self.api.response_url())
        )


def verdict_times(api: FakeSlackApi, sent_at: dict[str, float], channels: list[str]) -> list[float]:
    """When each of `channels` got its verdict (first chat.update), from its send time."""
    found: dict[str, float] = {}
    deadline = time.monotonic() + 600
    while len(found) < len(channels) and time.monotonic() < deadline:
        now = time.perf_counter()
        for call in api.calls("chat.update"):
            channel = str(call.params.get("channel"))
            if channel in channels and channel not in found:
                found[channel] = now - sent_at[channel]
        time.sleep(0.05)
    return list(found.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=30, help="people uploading a PEM set")
    parser.add_argument("--hostile", type=int, default=20, help="files of each hostile kind")
    parser.add_argument("--iterations", type=int, default=200_000, help="PBKDF2 rounds")
    parser.add_argument("--certs", type=int, default=2000, help="certificates in the bundle")
    parser.add_argument("--deadline", type=float, default=5.0, help="download deadline (s)")
    parser.add_argument("--window", type=float, default=3.0, help="upload window (s)")
    parser.add_argument("--threads", type=int, default=4, help="CERTOPS_WORK_THREADS")
    parser.add_argument(
        "--in-process", action="store_true", help="CERTOPS_ISOLATE_CHECKS=0: check in the bot"
    )
    parser.add_argument("--kinds", default="kdf,bag,mac,bundle,drip", help="hostile kinds")
    parser.add_argument("--every", type=float, default=0.05, help="seconds between commands")
    args = parser.parse_args()
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    logging.basicConfig(level=logging.CRITICAL)
    with tempfile.TemporaryDirectory() as folder, FakeSlackApi(bot_token=TOKEN) as api:
        started = time.perf_counter()
        files = make_files(args.iterations, args.certs, Path(folder))
        print(
            f"files made in {time.perf_counter() - started:.1f} s: PKCS#8 and PFX with "
            f"{args.iterations:,} PBKDF2 rounds, a bundle of {args.certs:,} certificates "
            f"({len(files.bundle) // 1024} KB)"
        )
        url = f"sqlite:///{folder}/certops.db"
        migrate.upgrade(url)
        settings = dataclasses.replace(
            Settings(database_url=url),
            slack_bot_token=TOKEN,
            slack_signing_secret=SECRET,
            slack_api_url=api.api_url,
            upload_window_seconds=args.window,
            download_deadline_seconds=args.deadline,
            work_threads=args.threads,
            isolate_checks=not args.in_process,
        )
        services = ServiceContext(database=Database(url), extra_roots=(files.root,))
        deps = Deps(settings=settings, services=services)
        app = create_app(settings, deps=deps)
        work = shutdown_for(app).work
        assert work is not None
        with LoopbackServer(app, threads=16) as server:
            load = Load(api, SlackSender(server.url, SECRET))
            print(
                f"{settings.work_threads} work threads, {settings.max_submissions_per_person} "
                f"submissions per person, window {args.window:g} s, checks "
                f"{'in a worker process' if settings.isolate_checks else 'in the bot'}, 2 cores"
            )
            quiet = [load.help(f"UQUIET{i:03d}") for i in range(40)]
            print(line("/cert help ack, no load", quiet[5:]))
            run(load, files, args, work)
        deps.work.shutdown(wait=False)
        if deps.isolated is not None:
            deps.isolated.close()
    return 0


def run(load: Load, files: Files, args: argparse.Namespace, work: Any) -> None:
    people = [f"UPEOPLE{i:03d}" for i in range(args.people)]
    stop = threading.Event()
    acks: list[float] = []

    def commands() -> None:
        index = 0
        while not stop.is_set():
            acks.append(load.help(f"UHELP{index % 10:03d}"))
            index += 1
            time.sleep(args.every)

    jobs: list[Callable[[], None]] = []
    for person in people:
        pem_set = [("fullchain.pem", files.chain), ("key.pem", files.key)]
        jobs.append(partial(load.upload, person, pem_set))
    kinds: dict[str, Callable[[int], None]] = {
        "kdf": lambda i: load.password(f"UKDF{i:03d}", "key.p8.pem", files.pkcs8),
        "bag": lambda i: load.password(f"UBAG{i:03d}", "bag.pfx", files.pfx),
        "mac": lambda i: load.upload(f"UMAC{i:03d}", [("mac.pfx", files.pfx)]),
        "bundle": lambda i: load.upload(f"UBIG{i:03d}", [("bundle.pem", files.bundle)]),
        "drip": lambda i: load.upload(f"UDRIP{i:03d}", [("drip.pem", b"-" * 600)], 0.2),
    }
    for i in range(args.hostile):
        for kind in args.kinds.split(","):
            jobs.append(partial(kinds[kind], i))
    talker = threading.Thread(target=commands, daemon=True)
    talker.start()
    time.sleep(0.5)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=32) as senders:
        for future in [senders.submit(job) for job in jobs]:
            future.result()
    sent = time.perf_counter() - started
    channels = ["D" + p[1:] for p in people]
    verdicts = verdict_times(load.api, load.sent_at, channels)
    stop.set()
    talker.join()
    drained = work.wait_idle(600)
    total = time.perf_counter() - started
    print(
        f"sent {len(jobs)} submissions in {sent:.1f} s "
        f"({args.people} PEM sets, {args.hostile} of each hostile kind: {args.kinds})"
    )
    print(line("/cert help ack, under load (target p99 300)", acks))
    print(line("file_share event ack, under load", load.event_acks))
    print(line("PEM set: sending -> verdict (window incl.)", verdicts))
    print(f"all work done {total:.1f} s after the first send (drained: {drained})")


if __name__ == "__main__":
    sys.exit(main())
