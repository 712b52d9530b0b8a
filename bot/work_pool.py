"""The slow work after an ack: a bounded, per-person fair worker pool and its timers.

Slack wants every request acknowledged within 3 s, and Bolt runs the listeners that
acknowledge on one executor. Anything that waits (the upload window that groups files
shared together) or is slow (downloads, checking certificate files, DNS) must not sit on
those threads, or one person's burst of uploads delays everybody's `/cert help`. So:

- waits are timers: one thread holds a heap of deadlines and runs each callback when
  due; a callback only decides and hands work on, it never does the work itself;
- slow work runs here, on `workers` threads of its own, taken round-robin over people:
  each person (any key) has a queue, and a free worker takes the next item of the next
  person in turn. One person's tenth submission therefore waits behind that person's
  first nine, never in front of anybody else's first;
- `Quota` bounds how many submissions one person may have in flight at all, so a burst
  is refused at once ("still checking your earlier files") instead of piling up.

Timers and queued or running work count as in flight (`pending`, `wait_idle`), which is
what a clean shutdown (bot/shutdown.py) and the test harness wait for. `AllWork` adds the
listener executor to that, so the two are waited for together and nothing twice: a
listener that hands work here has returned by the time the work runs.

Every callable runs in a copy of the submitter's contextvars (request id in the logs,
the app's metrics). Stdlib only: the composition root wires it (handlers get it in Deps).
"""

from __future__ import annotations

import contextvars
import heapq
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bot.memory import give_back
from bot.shutdown import InFlight

log = logging.getLogger("certops.work")
T = TypeVar("T")

DEFAULT_WORKERS = 4
DEFAULT_PER_PERSON = 3
# Checks that run at once (reading and validating files). cryptography holds Python's
# global lock for a whole key derivation or parse: several such checks side by side only
# take turns on the one lock, and each turn is time the ack threads wait. One at a time
# costs no throughput (the lock allows one anyway) and, with key derivations of 200,000
# rounds being checked, brought the command-ack p99 from about 900 ms to 300-480 ms
# (bench/bench_load.py, 2 busy cores); downloads and DNS still run side by side.
CPU_SLOTS = 1


@dataclass
class _Item:
    future: Future[Any]
    run: Callable[[], Any]


@dataclass(order=True)
class _Due:
    when: float
    seq: int
    timer: Timer = field(compare=False)


class Timer:
    """A scheduled callback; `cancel()` before it is due and it never runs."""

    def __init__(self, pool: WorkPool, run: Callable[[], Any]) -> None:
        self._pool = pool
        self._run = run
        self.cancelled = False

    def cancel(self) -> None:
        self._pool._cancel(self)


class WorkPool:
    """`workers` threads fed round-robin over keys (people), plus one timer thread.

    Threads start on first use and are daemons: an app that never uploads costs none,
    and work cut short by the shutdown deadline does not keep the process alive.
    """

    def __init__(
        self,
        workers: int = DEFAULT_WORKERS,
        *,
        per_key: int | None = None,
        name: str = "certops-work",
    ) -> None:
        self.workers = max(1, workers)
        # How many workers one key may hold at once (default half): running work is never
        # taken back, so without this a person's slow files could hold every worker.
        self.per_key = max(1, per_key if per_key is not None else self.workers // 2)
        self.name = name
        self._cond = threading.Condition()
        self._queues: dict[str, deque[_Item]] = {}
        self._turns: deque[str] = deque()  # keys with queued items, in serving order
        self._running: dict[str, int] = {}
        self._threads: list[threading.Thread] = []
        self._idle_workers = 0
        self._queued = 0
        self._heap: list[_Due] = []
        self._seq = itertools.count()
        self._timer_thread: threading.Thread | None = None
        self._timers = 0
        self._pending = 0
        self._closed = False
        self._cpu = threading.BoundedSemaphore(CPU_SLOTS)

    # --- work -----------------------------------------------------------------------------
    def submit(self, key: str, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Queue `fn(*args, **kwargs)` behind `key`'s earlier work; its future."""
        context = contextvars.copy_context()
        future: Future[T] = Future()
        item = _Item(future, lambda: context.run(fn, *args, **kwargs))
        with self._cond:
            if self._closed:
                raise RuntimeError("the work pool is shut down")
            queue = self._queues.get(key)
            if queue is None:
                queue = self._queues[key] = deque()
                self._turns.append(key)
            queue.append(item)
            self._queued += 1
            self._pending += 1
            self._start_worker()
            self._cond.notify()
        return future

    def start(self, key: str, fn: Callable[[], Any], what: str = "background work") -> None:
        """Fire and forget: like `submit`, a failure is logged (nobody reads the future)."""

        def logged(future: Future[Any]) -> None:
            error = future.exception()
            if error is not None:
                log.error("%s failed: %s", what, type(error).__name__, exc_info=error)

        self.submit(key, fn).add_done_callback(logged)

    @contextmanager
    def cpu(self) -> Iterator[None]:
        """Around CPU-bound work (checking files): at most CPU_SLOTS at once; afterwards
        the memory it freed goes back to the system (bot/memory.py)."""
        with self._cpu:
            try:
                yield
            finally:
                give_back()

    def load(self, key: str) -> int:
        """How many items of `key` are queued or running."""
        with self._cond:
            return len(self._queues.get(key, ())) + self._running.get(key, 0)

    def _start_worker(self) -> None:
        if self._queued <= self._idle_workers or len(self._threads) >= self.workers:
            return
        thread = threading.Thread(
            target=self._work, name=f"{self.name}-{len(self._threads) + 1}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def _next(self) -> tuple[str, _Item] | None:
        """The next person's next item (round-robin), or None once shut down and empty."""
        with self._cond:
            while (key := self._next_key()) is None:
                if self._closed and not self._turns:
                    return None
                self._idle_workers += 1
                self._cond.wait()
                self._idle_workers -= 1
            queue = self._queues[key]
            item = queue.popleft()
            self._queued -= 1
            if queue:
                self._turns.append(key)  # this person's next item waits for everyone's turn
            else:
                del self._queues[key]
            self._running[key] = self._running.get(key, 0) + 1
            return key, item

    def _next_key(self) -> str | None:
        """The first key in turn that may run one more item (taken out of the turns)."""
        for index, key in enumerate(self._turns):
            if self._running.get(key, 0) < self.per_key:
                del self._turns[index]
                return key
        return None

    def _work(self) -> None:
        while (taken := self._next()) is not None:
            key, item = taken
            try:
                if item.future.set_running_or_notify_cancel():
                    try:
                        item.future.set_result(item.run())
                    except BaseException as error:  # handed to whoever reads the future
                        item.future.set_exception(error)
            finally:
                self._finished(key)

    def _finished(self, key: str) -> None:
        with self._cond:
            left = self._running[key] - 1
            if left:
                self._running[key] = left
            else:
                del self._running[key]  # keys come and go: nothing kept per person
            self._pending -= 1
            self._cond.notify_all()

    # --- timers ---------------------------------------------------------------------------
    def call_later(self, delay: float, fn: Callable[[], Any]) -> Timer:
        """Run `fn` on the timer thread in `delay` seconds. It must be quick: decide, then
        `submit` the slow part. It counts as in flight from now until it has run."""
        context = contextvars.copy_context()
        timer = Timer(self, lambda: context.run(fn))
        with self._cond:
            if self._closed:
                raise RuntimeError("the work pool is shut down")
            due = _Due(time.monotonic() + max(delay, 0.0), next(self._seq), timer)
            heapq.heappush(self._heap, due)
            self._timers += 1
            self._pending += 1
            if self._timer_thread is None:
                self._timer_thread = threading.Thread(
                    target=self._tick, name=f"{self.name}-timer", daemon=True
                )
                self._timer_thread.start()
            self._cond.notify_all()
        return timer

    def _cancel(self, timer: Timer) -> None:
        with self._cond:
            if timer.cancelled:
                return
            for index, due in enumerate(self._heap):
                if due.timer is timer:
                    self._heap.pop(index)
                    heapq.heapify(self._heap)
                    timer.cancelled = True
                    self._timers -= 1
                    self._pending -= 1
                    self._cond.notify_all()
                    return

    def _due(self) -> Timer | None:
        with self._cond:
            while True:
                if not self._heap:
                    if self._closed:
                        return None
                    self._cond.wait()
                    continue
                left = self._heap[0].when - time.monotonic()
                if left <= 0:
                    return heapq.heappop(self._heap).timer
                self._cond.wait(left)

    def _tick(self) -> None:
        while (timer := self._due()) is not None:
            try:
                timer._run()
            except Exception as error:  # one bad callback must not stop every timer
                log.error("timer callback failed: %s", type(error).__name__, exc_info=error)
            finally:
                with self._cond:
                    timer.cancelled = True  # ran: too late to cancel
                    self._timers -= 1
                    self._pending -= 1
                    self._cond.notify_all()

    # --- in flight, shutdown --------------------------------------------------------------
    @property
    def pending(self) -> int:
        """Timers not yet run, plus work queued or running."""
        with self._cond:
            return self._pending

    @property
    def queued(self) -> int:
        with self._cond:
            return self._queued

    def wait_idle(self, timeout: float) -> bool:
        """Until nothing is pending; False if something still was after `timeout` seconds."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout=max(timeout, 0.0))

    def shutdown(self, wait: bool = True) -> None:
        """Take no more work; threads leave once the queues and timers are empty."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            threads = list(self._threads)
        if wait:
            for thread in threads:
                if thread is not threading.current_thread():
                    thread.join()


class Quota:
    """At most `limit` things in flight per key: `take` before, `give` after.

    Only keys with something in flight are kept, so it never grows with the workspace.
    """

    def __init__(self, limit: int = DEFAULT_PER_PERSON) -> None:
        self.limit = max(1, limit)
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> bool:
        with self._lock:
            held = self._held.get(key, 0)
            if held >= self.limit:
                return False
            self._held[key] = held + 1
            return True

    def give(self, key: str) -> None:
        with self._lock:
            left = self._held.get(key, 0) - 1
            if left > 0:
                self._held[key] = left
            else:
                self._held.pop(key, None)

    def held(self, key: str) -> int:
        with self._lock:
            return self._held.get(key, 0)


class AllWork:
    """Several in-flight trackers seen as one (the listener executor and the work pool).

    Idle means all are idle at the same moment: work handed from one to another (a
    listener queues a check, a timer queues a submission) is counted by the receiver
    before the giver lets go of it, so a quiet moment is never seen in between.
    """

    def __init__(self, parts: Iterable[InFlight]) -> None:
        self.parts = tuple(parts)

    @property
    def pending(self) -> int:
        return sum(part.pending for part in self.parts)

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            for part in self.parts:
                if not part.wait_idle(deadline - time.monotonic()):
                    return False
            if self.pending == 0:
                return True
            if time.monotonic() >= deadline:
                return False
