"""The work pool itself: round-robin over people, timers, in-flight counting, the quota.

The app-level proofs (acks while the pool is saturated, the per-person cap, the
download deadline) are in tests/test_slack_load.py, through signed HTTP.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from bot.work_pool import AllWork, Quota, WorkPool


@pytest.fixture
def pool() -> Iterator[WorkPool]:
    work = WorkPool(1, name="test-work")
    yield work
    work.shutdown()


def test_one_persons_backlog_does_not_delay_anyone_elses_first(pool: WorkPool) -> None:
    gate, started = threading.Event(), threading.Event()
    order: list[str] = []

    def first() -> None:
        started.set()
        gate.wait(10)

    pool.submit("alice", first)  # the one worker is busy with alice's first
    assert started.wait(5)
    for index in range(2, 11):
        pool.submit("alice", order.append, f"alice-{index}")
    pool.submit("bob", order.append, "bob-1")
    pool.submit("carol", order.append, "carol-1")
    assert pool.load("alice") == 10 and pool.queued == 11
    gate.set()
    assert pool.wait_idle(10)
    assert order.index("bob-1") < order.index("alice-3")
    assert order.index("carol-1") < order.index("alice-4")
    assert order[-1] == "alice-10" and len(order) == 11


def test_at_most_workers_run_at_once() -> None:
    pool = WorkPool(3)
    running, most = 0, 0
    lock, gate = threading.Lock(), threading.Event()

    def work() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        gate.wait(5)
        with lock:
            running -= 1

    try:
        for index in range(8):
            pool.submit(f"user{index}", work)
        threading.Timer(0.3, gate.set).start()
        assert pool.wait_idle(10)
    finally:
        pool.shutdown()
    assert most == 3


def test_a_timer_runs_once_when_due_and_counts_as_in_flight(pool: WorkPool) -> None:
    ran = threading.Event()
    pool.call_later(0.2, ran.set)
    assert pool.pending == 1  # a shutdown waits for it
    assert not ran.is_set()
    assert pool.wait_idle(5) and ran.is_set()


def test_a_cancelled_timer_never_runs(pool: WorkPool) -> None:
    ran = threading.Event()
    timer = pool.call_later(0.2, ran.set)
    timer.cancel()
    assert pool.pending == 0
    assert not ran.wait(0.4)


def test_a_failing_timer_or_task_does_not_stop_the_others(pool: WorkPool) -> None:
    def boom() -> None:
        raise RuntimeError("boom")

    pool.call_later(0, boom)
    pool.start("x", boom, "a test task")
    later = pool.submit("x", lambda: "still working")
    pool.call_later(0.05, lambda: None)
    assert later.result(5) == "still working"
    assert pool.wait_idle(5)


def test_work_handed_on_is_waited_for_as_one(pool: WorkPool) -> None:
    """A timer that hands work to the pool: idle only once both are done."""
    done = threading.Event()
    pool.call_later(0.05, lambda: pool.submit("u", done.wait, 0.3))
    assert AllWork([pool]).wait_idle(5)
    assert pool.pending == 0


def test_the_quota_bounds_each_person_and_forgets_who_is_done() -> None:
    quota = Quota(2)
    assert quota.take("alice") and quota.take("alice")
    assert not quota.take("alice")  # the third is refused...
    assert quota.take("bob")  # ...and nobody else is
    quota.give("alice")
    assert quota.take("alice")
    for _ in range(3):
        quota.give("alice")
    quota.give("bob")
    assert quota.held("alice") == 0 and quota._held == {}


def test_contextvars_follow_the_work(pool: WorkPool) -> None:
    from handlers.common.request_context import request_id_var

    token = request_id_var.set("Ev-test")
    try:
        seen = pool.submit("u", request_id_var.get)
        timer_seen: list[str] = []
        pool.call_later(0, lambda: timer_seen.append(request_id_var.get()))
    finally:
        request_id_var.reset(token)
    assert seen.result(5) == "Ev-test"
    assert pool.wait_idle(5) and timer_seen == ["Ev-test"]


def test_one_person_never_holds_more_than_their_share_of_workers() -> None:
    pool = WorkPool(4)  # per person: half, 2
    gate, lock = threading.Event(), threading.Lock()
    running: dict[str, int] = {}
    most: dict[str, int] = {}
    other_ran = threading.Event()

    def work(key: str) -> None:
        with lock:
            running[key] = running.get(key, 0) + 1
            most[key] = max(most.get(key, 0), running[key])
        gate.wait(5)
        with lock:
            running[key] -= 1

    try:
        for _ in range(6):
            pool.submit("alice", work, "alice")
        pool.submit("bob", other_ran.set)
        assert other_ran.wait(5)  # a free worker, while alice's four wait their turn
        gate.set()
        assert pool.wait_idle(10)
    finally:
        pool.shutdown()
    assert most["alice"] == 2


def test_nothing_is_kept_per_person_once_the_work_is_done(pool: WorkPool) -> None:
    """Memory (issue 11, point 9): queues and counters of people come and go with their
    work; a workspace of thousands leaves nothing behind."""
    for index in range(50):
        pool.submit(f"person{index}", lambda: None)
        pool.call_later(0, lambda: None)
    assert pool.wait_idle(5)
    assert pool._queues == {} and pool._running == {} and not pool._turns
    assert pool._heap == [] and pool.pending == 0


def test_checks_give_memory_back_and_take_one_slot() -> None:
    from bot import memory

    pool = WorkPool(2)
    inside: list[int] = []
    lock = threading.Lock()

    def check() -> None:
        with pool.cpu():
            with lock:
                inside.append(1)
                assert len(inside) == 1  # one check at a time
            threading.Event().wait(0.05)
            with lock:
                inside.pop()

    try:
        futures = [pool.submit(f"u{i}", check) for i in range(4)]
        for future in futures:
            future.result(5)
    finally:
        pool.shutdown()
    assert memory._libc() is not None  # glibc here: malloc_trim really runs
    memory.give_back()


def test_the_settings_are_read_and_a_bad_one_is_named() -> None:
    from bot import settings

    read = settings.load(
        {
            "CERTOPS_WORK_THREADS": "6",
            "CERTOPS_MAX_SUBMISSIONS_PER_PERSON": "2",
            "CERTOPS_DOWNLOAD_DEADLINE_SECONDS": "12.5",
            "CERTOPS_ISOLATE_CHECKS": "0",
        },
        dotenv=False,
    )
    assert (read.work_threads, read.max_submissions_per_person) == (6, 2)
    assert read.download_deadline_seconds == 12.5 and read.isolate_checks is False
    default = settings.load({}, dotenv=False)
    assert (default.work_threads, default.max_submissions_per_person) == (4, 3)
    assert default.download_deadline_seconds == 30 and default.isolate_checks is True
    bad = settings.load(
        {"CERTOPS_WORK_THREADS": "0", "CERTOPS_ISOLATE_CHECKS": "maybe"}, dotenv=False
    )
    problems = " ".join(bad.problems())
    assert "CERTOPS_WORK_THREADS must be a number from 1 to 64" in problems
    assert "CERTOPS_ISOLATE_CHECKS must be 1 or 0" in problems
