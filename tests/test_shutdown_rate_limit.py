"""The whole stop path against CERTOPS_SHUTDOWN_SECONDS (issue 13, point 4): a real
`certops run --http` on PostgreSQL whose scheduler waits out Slack's 429 (Retry-After 12 s)
on a warning post gets SIGTERM with the setting at 3 s. It exits 0 well before the 12 s,
and the warning's claim is given back, so the next run posts it: nothing is lost."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from bot.console.slack_api import FakeSlackApi
from storage.db import Database
from storage.models import Notification
from tests.support.certops_run import free_port, start_http
from tests.support.notify import TOKEN, environment, seed

GRACE = 3
RETRY_AFTER = 12


def _claims(url: str) -> list[Notification]:
    database = Database(url)
    try:
        with database.session() as session:
            from sqlmodel import select

            return list(session.exec(select(Notification)).all())
    finally:
        database.dispose()


def test_sigterm_during_a_rate_limit_wait_keeps_the_grace_and_the_warning(
    pg_url: str, tmp_path: Path
) -> None:
    seed(pg_url, 1)
    with FakeSlackApi(bot_token=TOKEN) as api:
        api.fail_next("chat.postMessage", 1, status=429, retry_after=RETRY_AFTER)
        env = environment(pg_url, api)
        env.update(
            {
                "SLACK_SIGNING_SECRET": "rate-limit-stop-secret",
                "CERTOPS_SHUTDOWN_SECONDS": str(GRACE),
                "CERTOPS_NOTIFY_INTERVAL": "1",
            }
        )
        process = start_http(free_port(), tmp_path, env)
        try:
            deadline = time.monotonic() + 30
            while not api.failed_calls("chat.postMessage"):  # the 429: the wait begins
                assert time.monotonic() < deadline, "the scheduler never posted"
                time.sleep(0.05)
            time.sleep(0.3)  # inside the Retry-After wait
            assert len(_claims(pg_url)) == 1  # claimed, and posting
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=RETRY_AFTER * 3) == 0
            elapsed = time.monotonic() - started
        finally:
            if process.poll() is None:
                process.kill()
            _, stderr = process.communicate(timeout=10)
        assert api.calls("chat.postMessage") == []  # no retry was sent after the stop
        assert len(api.failed_calls("chat.postMessage")) == 1
        # Before: 20.6 s (the 12 s wait, then stop's 10 s twice). The grace bounds it now;
        # the bound here is the Retry-After, so a slow machine does not fail it.
        assert elapsed < RETRY_AFTER, (elapsed, stderr)
        assert "Traceback" not in stderr
        assert _claims(pg_url) == []  # the claim was given back...
        again = subprocess.run(
            [sys.executable, "-m", "bot", "notify", "--once", "--no-tls"],
            cwd=tmp_path,
            env=environment(pg_url, api),
            capture_output=True,
            timeout=60,
        )
        assert again.returncode == 0, again.stderr
        (posted,) = api.calls("chat.postMessage")  # ...and the warning reaches Slack
    assert posted.params["channel"] == "C0CHAN000"
    assert [n.posted_at is not None for n in _claims(pg_url)] == [True]
    print(f"stop during a {RETRY_AFTER} s Retry-After, grace {GRACE} s: {elapsed:.2f} s")
