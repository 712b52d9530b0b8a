"""Expiry warnings exactly once when Slack's answer is lost (issue 13, points 1-3).

Through `certops notify --once` (in process, and as real processes on PostgreSQL) against
the Slack stand-in on loopback: a post whose connection closes unanswered after Slack
posted it is found in the channel's history by its metadata and recorded, not posted
again; a replica killed after Slack accepted its post leaves a claim that the next scan
(after the lease) finds and records, so the metric equals the messages in Slack; the
per-channel pace row hands distinct slots, one interval apart, to several processes; and
a 429 pushes that row past its Retry-After for every replica.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import col, select

from bot.cli import notify
from bot.console.slack_api import FakeSlackApi
from bot.metrics import Metrics
from bot.services.context import ServiceContext
from bot.services.expiry import SharedPacer
from handlers.warnings.publisher import EVENT_TYPE
from storage.db import Database
from storage.models import ChannelPace, Notification
from tests.support.notify import TOKEN, environment, in_process, seed

NOTIFY = [sys.executable, "-m", "bot", "notify", "--once", "--no-tls", "--json"]


@pytest.fixture
def api() -> Iterator[FakeSlackApi]:
    with FakeSlackApi(bot_token=TOKEN) as server:
        yield server


def rows(url: str) -> list[Notification]:
    database = Database(url)
    try:
        with database.session() as session:
            found = list(session.exec(select(Notification).order_by(col(Notification.id))).all())
            session.expunge_all()
            return found
    finally:
        database.dispose()


def posted_metric(url: str) -> float:
    database = Database(url)
    try:
        text = Metrics(database).render().decode()
    finally:
        database.dispose()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "certops_warnings_posted_total"
    )


def messages(api: FakeSlackApi) -> dict[str, str]:
    """claim id -> ts of every message in the stand-in's channels (metadata)."""
    found: dict[str, str] = {}
    for channel in api.messages.values():
        for message in channel:
            meta = message.get("metadata") or {}
            assert meta.get("event_type") == EVENT_TYPE
            claim = str(meta["event_payload"]["claim"])
            assert claim not in found, f"claim {claim} posted twice"
            found[claim] = str(message["ts"])
    return found


def assert_record_matches_slack(url: str, api: FakeSlackApi, count: int) -> None:
    in_slack = messages(api)
    recorded = {str(n.id): n.message_ts for n in rows(url) if n.posted_at is not None}
    assert len(api.calls("chat.postMessage")) == count
    assert recorded == in_slack and len(in_slack) == count
    assert posted_metric(url) == count


def test_a_lost_answer_is_found_in_the_history_not_posted_again(
    sqlite_url: str,
    api: FakeSlackApi,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed(sqlite_url, 3)
    in_process(monkeypatch, tmp_path, sqlite_url, api)
    api.lose_next = 2  # posted, then the connection closes without an answer
    assert notify.main(["--once", "--no-tls", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["expiry"]
    assert report["posted"] == 3 and report["failed"] == 0
    assert api.lost == 2
    history = api.calls("conversations.history")
    assert len(history) == 2
    assert all(str(c.params["include_all_metadata"]).lower() in {"1", "true"} for c in history)
    assert all(int(c.params["limit"]) == 200 and float(c.params["oldest"]) > 0 for c in history)
    assert_record_matches_slack(sqlite_url, api, 3)


def test_an_unknown_outcome_not_in_the_history_is_posted_once_more(
    sqlite_url: str, api: FakeSlackApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(sqlite_url, 1)
    in_process(monkeypatch, tmp_path, sqlite_url, api)
    api.fail_next("chat.postMessage", status=500)  # a 5xx: Slack may or may not have posted
    assert notify.main(["--once", "--no-tls"]) == 0
    assert len(api.failed_calls("chat.postMessage")) == 1
    assert len(api.calls("conversations.history")) == 1
    assert_record_matches_slack(sqlite_url, api, 1)


def test_a_lost_answer_with_an_unreadable_history_keeps_the_claim(
    sqlite_url: str, api: FakeSlackApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Neither posted again nor given back: the next scan after the lease settles it."""
    seed(sqlite_url, 1)
    in_process(monkeypatch, tmp_path, sqlite_url, api)
    api.lose_next = 1
    api.fail_next("conversations.history", error="missing_scope")
    assert notify.main(["--once", "--no-tls"]) == 1
    (row,) = rows(sqlite_url)
    assert row.posted_at is None and len(api.calls("chat.postMessage")) == 1
    assert notify.main(["--once", "--no-tls"]) == 0  # within the lease: left alone
    assert len(api.calls("chat.postMessage")) == 1
    monkeypatch.setenv("CERTOPS_WARNING_LEASE_SECONDS", "0.01")
    time.sleep(0.05)
    assert notify.main(["--once", "--no-tls"]) == 0
    assert_record_matches_slack(sqlite_url, api, 1)


def test_the_sdk_never_retries_a_warning_post_after_a_broken_connection(
    sqlite_url: str, api: FakeSlackApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(sqlite_url, 1)
    in_process(monkeypatch, tmp_path, sqlite_url, api)
    api.lose_next = 1
    api.fail_next("conversations.history", error="internal_error")
    notify.main(["--once", "--no-tls"])
    assert len(api.calls("chat.postMessage")) == 1  # one try: no ConnectionErrorRetryHandler


def _pg_env(url: str, api: FakeSlackApi, **extra: str) -> dict[str, str]:
    env = environment(url, api)
    env.update(extra)
    return env


def test_a_replica_killed_after_slack_posted_is_reconciled(
    pg_url: str, api: FakeSlackApi, tmp_path: Path
) -> None:
    """SIGKILL while Slack holds the answer: the message exists and the row says
    unposted; the next replica after the lease records the message's ts, posts nothing."""
    seed(pg_url, 2)
    api.hold_answers["chat.postMessage"] = 60.0
    victim = subprocess.Popen(
        NOTIFY,
        cwd=tmp_path,
        env=_pg_env(pg_url, api),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        api.wait_for("chat.postMessage", 1, timeout=60)
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=30)
    api.hold_answers.clear()
    (claim,) = rows(pg_url)
    assert claim.posted_at is None
    assert posted_metric(pg_url) == 0  # the record says 0, Slack has 1: the gap of issue 13

    env = _pg_env(pg_url, api, CERTOPS_WARNING_LEASE_SECONDS="0.5")
    time.sleep(0.6)
    again = subprocess.run(NOTIFY, cwd=tmp_path, env=env, capture_output=True, timeout=60)
    assert again.returncode == 0, again.stderr.decode()
    report = json.loads(again.stdout)["expiry"]
    assert report["reconciled"] == 1 and report["posted"] == 1  # the other, never claimed
    assert_record_matches_slack(pg_url, api, 2)


def test_three_replicas_and_lost_answers_post_each_warning_once(
    pg_url: str, api: FakeSlackApi, tmp_path: Path
) -> None:
    seed(pg_url, 9)
    api.lose_every = 3
    env = _pg_env(pg_url, api)
    runs = [
        subprocess.Popen(
            NOTIFY, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(3)
    ]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], [e.decode() for _, e in outputs]
    assert api.lost == 3
    assert_record_matches_slack(pg_url, api, 9)


SLOTS = """
import sys
from storage.db import Database
from storage import queries
database = Database(sys.argv[1])
now = float(sys.argv[2])
slots = []
for _ in range(5):
    with database.session() as session:
        slots.append(queries.take_channel_slot(session, "C0PACE", now, 1.0))
print(" ".join(repr(s) for s in slots))
"""


def test_the_channel_pace_holds_across_processes(pg_url: str, tmp_path: Path) -> None:
    """Three processes take five slots each in one channel at once: fifteen distinct
    slots, exactly one second apart (no two posts share a second in that channel)."""
    now = time.time()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", SLOTS, pg_url, repr(now)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    outputs = [run.communicate(timeout=60) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], [e.decode() for _, e in outputs]
    slots = sorted(float(s) for out, _ in outputs for s in out.split())
    assert slots == [now + index for index in range(15)]


def test_a_429_holds_the_channel_for_every_replica(
    pg_url: str, api: FakeSlackApi, tmp_path: Path
) -> None:
    seed(pg_url, 1)
    api.fail_next("chat.postMessage", status=429, retry_after=2)
    before = time.time()
    run = subprocess.run(
        NOTIFY, cwd=tmp_path, env=_pg_env(pg_url, api), capture_output=True, timeout=60
    )
    assert run.returncode == 0, run.stderr.decode()
    assert len(api.calls("chat.postMessage")) == 1  # the SDK waited and posted it
    database = Database(pg_url)
    try:
        with database.session() as session:
            (pace,) = session.exec(select(ChannelPace)).all()
    finally:
        database.dispose()
    assert pace.channel == "C0CHAN000"
    # what another replica's next slot in this channel is: after Retry-After and one slot
    assert pace.next_at >= before + 2 + 1


def test_the_shared_pace_wait_ends_when_the_process_stops(sqlite_url: str) -> None:
    """A channel held for a minute (a 429): the wait is cut short once stopping() is true,
    and a second pacer (another replica) sees the same hold."""
    database = Database(sqlite_url)
    now = [1_000.0]
    slept: list[float] = []
    stop = [False]

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds
        stop[0] = len(slept) >= 3

    try:
        ctx = ServiceContext(database=database)
        first = SharedPacer(ctx, stopping=lambda: stop[0], clock=lambda: now[0], sleep=sleep)
        first.hold("C0HELD", 60.0)
        other = SharedPacer(ctx, stopping=lambda: True, clock=lambda: now[0])
        assert other.wait("C0HELD") == 61.0  # another replica waits out Retry-After too
        assert first.wait("C0HELD") == 62.0
        assert slept == [0.25, 0.25, 0.25]  # then stopping() said stop
    finally:
        database.dispose()
