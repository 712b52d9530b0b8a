"""A stop (SIGTERM) gives back the warnings claimed and not yet posting, so none is lost."""

from __future__ import annotations

from bot.scheduler import Scheduler
from bot.services import expiry
from bot.services.context import ServiceContext
from bot.services.held_claims import HeldClaims
from storage import queries
from tests.support import expiry as expiry_support
from tests.support.expiry import Recorder, add_cert, claims, config

# The expiry fixtures, bound here: conftest registers other `clock` and `ctx` (the services').
clock, ctx = expiry_support.clock, expiry_support.ctx


class StopWhilePacing(expiry.ChannelPacer):
    """The stop arrives while the scan waits for its turn in the channel."""

    def __init__(self, context: ServiceContext, held: HeldClaims) -> None:
        super().__init__(0.0)
        self.ctx, self.held, self.released = context, held, -1

    def wait(self, channel: str) -> None:
        if self.released < 0:
            self.released = self.held.release_all(self.ctx)


def test_a_stop_between_claim_and_post_gives_the_claim_back(ctx: ServiceContext) -> None:
    add_cert(ctx, "shop", days=10)
    add_cert(ctx, "cart", days=5, sans=("cart.example.com",))
    cfg = config()
    publisher = Recorder()
    pacer = StopWhilePacing(ctx, cfg.held)
    report = expiry.run_scan(ctx, publisher, cfg, pacer)
    assert pacer.released == 1  # the first warning was claimed, then given back
    assert publisher.calls == [] and report.posted == 0
    assert claims(ctx) == []  # nothing left claimed: the second was never claimed
    # The next process (a restart, or another replica) posts both.
    report = expiry.run_scan(ctx, Recorder(), config(), expiry.ChannelPacer(0.0))
    assert report.posted == 2


def test_a_claim_made_as_the_stop_begins_is_given_back_too(ctx: ServiceContext) -> None:
    cert = add_cert(ctx, "shop", days=10)
    held = HeldClaims()
    with ctx.session() as session:
        claim = queries.claim_notification(session, cert, "14d", "C1", "replica")
        assert claim is not None and claim.id is not None
        claim_id = claim.id
    assert held.release_all(ctx) == 0  # the stop begins: nothing held yet
    held.hold(claim_id)
    assert held.begin_post(ctx, claim_id) is False
    assert claims(ctx) == []


def test_a_post_under_way_keeps_its_claim(ctx: ServiceContext) -> None:
    cert = add_cert(ctx, "shop", days=10)
    held = HeldClaims()
    with ctx.session() as session:
        claim = queries.claim_notification(session, cert, "14d", "C1", "replica")
        assert claim is not None and claim.id is not None
        claim_id = claim.id
    held.hold(claim_id)
    assert held.begin_post(ctx, claim_id) is True  # posting: may reach Slack any moment
    assert held.release_all(ctx) == 0
    assert len(claims(ctx)) == 1


def test_the_scheduler_gives_claims_back_when_it_stops() -> None:
    given_back: list[str] = []
    scheduler = Scheduler([], 60.0, first_delay=60.0, on_stop=lambda: given_back.append("x"))
    scheduler.start()
    scheduler.stop(timeout=5)
    scheduler.stop(timeout=5)
    assert given_back == ["x"]  # once, however often stop is called


def test_only_the_first_stop_waits_for_the_tick() -> None:
    """The shutdown callback and `certops run`'s `finally` both stop the scheduler: the
    second call must not wait again (it made a 3 s grace period last 20 s)."""
    import threading
    import time

    release = threading.Event()
    scheduler = Scheduler([("stuck", release.wait)], 60.0, first_delay=0.0).start()
    time.sleep(0.1)  # the tick is under way, stuck
    scheduler.stop(timeout=0.2)
    started = time.monotonic()
    scheduler.stop(timeout=30)
    waited = time.monotonic() - started
    release.set()
    assert waited < 5, waited


def test_a_shared_stop_event_gives_the_claims_back_at_once() -> None:
    """`certops run` shares its SIGTERM event: the claims go back when it is set, before
    the shutdown callbacks, so a tick still running claims no more warnings."""
    import threading

    stopping = threading.Event()
    given_back = threading.Event()
    scheduler = Scheduler(
        [], 60.0, first_delay=60.0, on_stop=given_back.set, stopping=stopping
    ).start()
    assert not given_back.is_set()
    stopping.set()  # SIGTERM
    assert given_back.wait(10)
    scheduler.stop(timeout=5)  # the callback later: nothing more to do
