"""One person's burst of uploads, or a slow file host, must not stop the bot for anyone
(issue 11, points 5 and 6). Through signed HTTP into the app on loopback, files served by
the stand-in: the work pool saturated by one person, another person's command is still
acknowledged and another person's first upload is checked before the first person's
tenth; a person over the per-person cap is answered at once; a host that drips bytes is
cut off by the download deadline. The figures (ack p50/p99 under load) are in
bench/bench_load.py; nothing here is timed."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from bot.app import listener_runs
from bot.console.slack_api import Call
from bot.metrics import metrics_for
from handlers.common.ids import UploadId
from handlers.common.slack_files import Downloader, DownloadError
from tests.support.slack_harness import ADMIN, OTHER, USER, SlackHarness, slack_harness
from tests.support.slack_upload_fixtures import file_share_event, submit_view, text_value

JUNK = b"not a certificate at all\n"


@contextmanager
def loaded(sqlite_url: str, **overrides: Any) -> Iterator[SlackHarness]:
    """Every message its own submission (no window), few workers: easy to saturate."""
    with slack_harness(sqlite_url, upload_window_seconds=0.0, **overrides) as slack:
        yield slack


def share(slack: SlackHarness, user: str, name: str, gate: threading.Event | None = None) -> str:
    """One DM upload, sent without waiting for its answer; returns the file id."""
    info = slack.api.add_file(name, JUNK)
    if gate is not None:
        slack.api.file_gates[str(info["id"])] = gate
    sent = slack.sender.event(file_share_event([info], user))
    assert sent.status == 200
    listeners_done(slack)  # or the next message would join this one's submission
    return str(info["id"])


def answered_in(calls: list[Call]) -> list[str]:
    """The DM channel of each verdict, in the order they were posted."""
    return [str(call.params["channel"]) for call in calls if call.method == "chat.update"]


def listeners_done(slack: SlackHarness) -> None:
    assert listener_runs(slack.app).wait_idle(10), "a listener is still running"


def test_a_saturated_pool_still_acks_others_and_serves_them_in_turn(sqlite_url: str) -> None:
    with loaded(sqlite_url, work_threads=1, max_submissions_per_person=10) as slack:
        since = slack.api.mark()
        gate = threading.Event()
        share(slack, USER, "first.pem", gate)  # the only worker now waits on this file
        for index in range(2, 11):
            share(slack, USER, f"file-{index}.pem")
        share(slack, OTHER, "other.pem")
        assert slack.deps.work.load(USER) == 10 and slack.deps.work.load(OTHER) == 1
        metrics = metrics_for(slack.app)
        assert metrics is not None
        scraped = metrics.render().decode()
        assert "certops_work_queued 10.0" in scraped  # an operator sees the backlog
        assert "certops_work_in_flight 11.0" in scraped
        # A command from a third person is acknowledged while all of that waits.
        helped = slack.sender.command("help", user_id=ADMIN, response_url=slack.api.response_url())
        assert helped.status == 200 and "/cert" in helped.body
        assert answered_in(slack.api.calls(since=since)) == []  # nothing was answered yet
        gate.set()
        slack.settle()
        order = answered_in(slack.api.calls(since=since))
    mine, theirs = "D" + USER[1:], "D" + OTHER[1:]
    assert order.count(mine) == 10 and order.count(theirs) == 1
    # Round-robin: the other person's first comes right after the one in progress and the
    # next in line, not after the first person's tenth.
    assert order.index(theirs) <= 2, order


def test_one_submission_too_many_is_answered_at_once(sqlite_url: str) -> None:
    with loaded(sqlite_url, work_threads=2, max_submissions_per_person=2) as slack:
        gate = threading.Event()
        since = slack.api.mark()
        share(slack, USER, "one.pem", gate)
        share(slack, USER, "two.pem", gate)
        refused = share(slack, USER, "three.pem")
        texts = [
            str(c.params.get("text")) for c in slack.api.calls("chat.postMessage", since=since)
        ]
        assert sum("Checking your files" in t for t in texts) == 2
        (busy,) = [t for t in texts if "still checking your earlier files" in t]
        assert "2 submissions at a time" in busy
        other = share(slack, OTHER, "theirs.pem")  # the cap is per person
        gate.set()
        slack.settle()
        calls = slack.api.calls(since=since)
        assert len([c for c in calls if c.method == "chat.update"]) == 3
        assert refused not in str([c.params for c in calls if c.method == "chat.update"])
        assert other
        # Once answered, the person may send again.
        mark = slack.api.mark()
        share(slack, USER, "four.pem")
        slack.settle()
        assert len(slack.api.calls("chat.update", since=mark)) == 1
        assert slack.deps.submissions.held(USER) == 0


def test_the_password_form_is_refused_at_the_cap_too(sqlite_url: str) -> None:
    with loaded(sqlite_url, work_threads=1, max_submissions_per_person=1) as slack:
        gate = threading.Event()
        share(slack, USER, "locked.pem", gate)
        view = {
            "id": "VPASS1",
            "type": "modal",
            "callback_id": UploadId.PASSWORD_MODAL,
            "private_metadata": '{"files": ["F1"], "zip": false, "channel": "DUSER0001"}',
        }
        sent = slack.sender.interaction(
            {
                "type": "view_submission",
                "user": {"id": USER, "username": "user"},
                "view": {**view, "state": {"values": {"password": text_value("secret-1")}}},
            }
        )
        gate.set()
        slack.settle()
    assert sent.status == 200
    errors = sent.json()["errors"]
    assert "still checking your earlier files" in errors["password"]


def test_a_file_host_that_drips_bytes_is_cut_off_by_the_deadline(sqlite_url: str) -> None:
    with loaded(sqlite_url, download_deadline_seconds=1.0) as slack:
        info = slack.api.add_file("drip.pem", b"-" * 200)  # 40 s at one byte per 0.2 s
        slack.api.file_drip[str(info["id"])] = 0.2
        since = slack.api.mark()
        assert slack.sender.event(file_share_event([info])).status == 200
        slack.settle()
        (update,) = slack.api.calls("chat.update", since=since)
    text = str(update.params.get("text"))
    assert "took longer than 1 s to download" in text, text


def test_the_downloader_deadline_covers_the_whole_download(sqlite_url: str) -> None:
    with slack_harness(sqlite_url) as slack:
        info = slack.api.add_file("drip.bin", b"x" * 100)
        slack.api.file_drip[str(info["id"])] = 0.2
        downloader = Downloader.for_api("xoxb-test-token", slack.api.api_url, deadline=0.6)
        with pytest.raises(DownloadError) as caught:
            downloader.download(str(info["url_private_download"]), "drip.bin")
        assert caught.value.code == "too_slow"
        # Under the deadline the same host is fine: the deadline is what stopped it.
        quick = slack.api.add_file("quick.bin", b"x" * 3)
        slack.api.file_drip[str(quick["id"])] = 0.05
        assert downloader.download(str(quick["url_private_download"]), "quick.bin") == b"xxx"


def test_a_modal_whose_work_fails_says_so_with_the_request_id(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The modal's work and its answer run on the pool in the request's context."""
    from bot.services import certificates

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(certificates, "submit_certificate", broken)
    with loaded(sqlite_url) as slack:
        info = slack.api.add_file("cert.pem", JUNK)
        view = {
            "callback_id": UploadId.SAVE_MODAL,
            "private_metadata": f'{{"files": ["{info["id"]}"], "channel": "DUSER0001"}}',
        }
        sent = submit_view(slack, view, {"name": text_value("shop")})
        assert slack.deps.submissions.held(USER) == 0  # given back, though it failed
    assert sent.ack_json["response_action"] == "update"
    text = json.dumps(sent.ack_json["view"])
    assert "Something went wrong" in text
    reference = text.split("Reference `")[1].split("`")[0]
    assert reference not in {"", "-"}


def test_a_save_form_at_the_cap_is_answered_at_once(sqlite_url: str) -> None:
    with loaded(sqlite_url, work_threads=1, max_submissions_per_person=1) as slack:
        gate = threading.Event()
        share(slack, USER, "slow.pem", gate)
        view = {
            "callback_id": UploadId.SAVE_MODAL,
            "private_metadata": '{"files": ["F1"], "channel": "DUSER0001"}',
        }
        sent = slack.sender.interaction(
            {
                "type": "view_submission",
                "user": {"id": USER, "username": "user"},
                "view": {
                    **view,
                    "id": "VSAVE1",
                    "type": "modal",
                    "state": {"values": {"name": text_value("shop")}},
                },
            }
        )
        gate.set()
        slack.settle()
        assert slack.deps.submissions.held(USER) == 0  # given back after the work
    answer = sent.json()
    assert answer["response_action"] == "update"
    assert "still checking your earlier files" in json.dumps(answer["view"])
