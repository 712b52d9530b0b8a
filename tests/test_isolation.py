"""Checks of DM uploads run in a worker process (bot/isolation.py), so that a key
derivation holds that process's GIL, not the bot's; one that runs too long is stopped.
Through signed HTTP where it matters: the verdict and the "took too long" answer."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from bot.isolation import CheckTimeout, Isolated
from tests.support.pki import CA, rsa_key
from tests.support.slack_harness import USER, slack_harness
from tests.support.slack_upload_fixtures import file_share_event, last_update, send_files


def test_the_check_runs_in_another_process_and_a_stuck_one_is_replaced() -> None:
    isolated = Isolated(timeout=1.0)
    try:
        first = isolated.run(os.getpid)
        assert first != os.getpid()
        assert isolated.run(os.getpid) == first  # kept for the next check
        with pytest.raises(CheckTimeout):
            isolated.run(time.sleep, 30)
        again = isolated.run(os.getpid)
        assert again not in {first, os.getpid()}  # a fresh worker
    finally:
        isolated.close()


def test_a_dm_upload_is_checked_in_the_worker_process(sqlite_url: str) -> None:
    root = CA.root("Isolation Root")
    inter = root.intermediate("Isolation Intermediate")
    leaf = inter.leaf(sans=["shop.example.com"])
    with slack_harness(sqlite_url, extra_roots=[root.cert]) as slack:
        assert slack.deps.isolated is not None  # the default, as in `certops run`
        cert = slack.api.add_file("cert.pem", leaf.pem + inter.issued.pem)
        key = slack.api.add_file("key.pem", leaf.key_pem())
        text = last_update(send_files(slack, cert, key))
        assert slack.deps.isolated._pool is not None  # the worker did the check
    assert "*Valid*" in text
    assert "shop.example.com" in text


def test_a_check_that_runs_too_long_is_stopped_and_said(sqlite_url: str, tmp_path: Path) -> None:
    """A key at the derivation cap, 1,000,000 PBKDF2 rounds (about a third of a second;
    more is refused before any work), with a timeout shorter than that: the worker is
    stopped, the person told, the next check works."""
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(CA.root("Slow Root").leaf(sans=["a.example.com"], key=rsa_key()).key_pem())
    command = ["openssl", "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-iter", "1000000"]
    slow = subprocess.run(
        [*command, "-in", str(key_file), "-passout", "pass:secret-1"],
        check=True,
        capture_output=True,
    ).stdout
    with slack_harness(sqlite_url, upload_window_seconds=0.0) as slack:
        assert slack.deps.isolated is not None
        slack.deps.isolated.timeout = 0.05
        info = slack.api.add_file("slow.key", slow)
        meta = f'{{"files": ["{info["id"]}"], "zip": false, "channel": "D{USER[1:]}"}}'
        since = slack.api.mark()
        slack.sender.interaction(
            {
                "type": "view_submission",
                "user": {"id": USER, "username": "user"},
                "view": {
                    "id": "VSLOW1",
                    "type": "modal",
                    "callback_id": "upload_password_modal",
                    "private_metadata": meta,
                    "state": {
                        "values": {
                            "password": {"value": {"type": "plain_text_input", "value": "secret-1"}}
                        }
                    },
                },
            }
        )
        slack.settle()
        (update,) = slack.api.calls("chat.update", since=since)
        assert "took too long" in str(update.params.get("text"))
        slack.deps.isolated.timeout = 60
        junk = slack.api.add_file("junk.txt", b"nothing")
        assert "took too long" not in last_update(slack.event(file_share_event([junk])))
