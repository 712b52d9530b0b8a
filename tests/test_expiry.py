"""Expiry warnings: thresholds, the scan's rules, exactly-once claims, snooze/acknowledge,
renewals, on SQLite and PostgreSQL, with a clock the tests move."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import col, select

from bot.services import expiry
from bot.services.actors import Actor
from bot.services.clock import ManualClock
from bot.services.context import ServiceContext
from bot.services.errors import ServiceError
from bot.services.expiry import ChannelPacer, DueWarning, ExpiryConfig, RenewedNotice
from bot.services.expiry_digest import NO_ENVIRONMENT, expiring_digest
from bot.services.expiry_thresholds import (
    due_threshold,
    horizon,
    parse_thresholds,
    render,
)
from bot.settings import load
from storage import queries
from storage.models import (
    AuditEvent,
    CertificateStatus,
    WarningSilence,
)
from tests.support import expiry as expiry_support
from tests.support.expiry import (
    DEFAULT,
    START,
    Recorder,
    add_cert,
    add_env,
    assign,
    claims,
    config,
)

# The expiry fixtures, bound here: conftest registers other `clock` and `ctx` (the services').
clock, ctx = expiry_support.clock, expiry_support.ctx


# -- thresholds (pure) ---------------------------------------------------------------------


def test_parse_days_shares_and_expired() -> None:
    parsed = parse_thresholds("7, 30;33%,0, 14")
    assert [t.key for t in parsed] == ["30d", "14d", "7d", "33%", "expired"]
    assert render(parsed) == "30,14,7,33%,0"
    assert parse_thresholds(render(parsed)) == parsed
    assert parse_thresholds("30")[-1].key == "expired"  # always warned about
    for bad in ("soon", "0%", "150%", "", "-3"):
        with pytest.raises(ValueError):
            parse_thresholds(bad)


def test_most_severe_crossed_threshold() -> None:
    end = START + dt.timedelta(days=20)
    assert due_threshold(DEFAULT, None, end, START) is not None
    assert due_threshold(DEFAULT, None, end, START).key == "30d"  # type: ignore[union-attr]
    assert due_threshold(DEFAULT, None, end, end - dt.timedelta(days=5)).key == "7d"  # type: ignore[union-attr]
    assert due_threshold(DEFAULT, None, end, end).key == "expired"  # type: ignore[union-attr]
    assert due_threshold(DEFAULT, None, end + dt.timedelta(days=40), START) is None


def test_share_of_lifetime() -> None:
    share = parse_thresholds("33%")
    begin = START
    end = begin + dt.timedelta(days=47)  # a 2029 lifetime: 33% is 15.5 days
    assert due_threshold(share, begin, end, end - dt.timedelta(days=16)) is None
    crossed = due_threshold(share, begin, end, end - dt.timedelta(days=15))
    assert crossed is not None and crossed.key == "33%"
    assert horizon(share) == dt.timedelta(days=825) * 0.33


def test_settings_read_shares(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load({"CERTOPS_WARNING_DAYS": "30,7,33%", "CERTOPS_NOTIFY_INTERVAL": "5"})
    assert settings.warning_thresholds_days == (30, 7)
    assert settings.warning_shares == (33.0,)
    assert settings.notify_interval_seconds == 5.0
    assert settings.problems() == []
    assert load({"CERTOPS_WARNING_DAYS": "30,soon"}).problems()


def test_pacer_keeps_a_second_between_posts_in_one_channel() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = ChannelPacer(1.0, monotonic=lambda: now[0], sleep=sleep)
    assert pacer.wait("C1") == 0
    assert pacer.wait("C2") == 0  # another channel: no wait
    now[0] += 0.25
    assert pacer.wait("C1") == pytest.approx(0.75)
    now[0] += 3
    assert pacer.wait("C1") == 0
    assert slept == [pytest.approx(0.75)]


# -- the scan, with a recording publisher (tests/support/expiry.py) ---------------------


NO_PAUSE = ChannelPacer(0.0)


def scan(
    ctx: ServiceContext, publisher: Recorder, cfg: ExpiryConfig | None = None
) -> expiry.ScanReport:
    return expiry.run_scan(ctx, publisher, cfg or config(), NO_PAUSE)


def test_each_threshold_once_updated_in_place_then_expired_is_new(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    env = add_env(ctx, "prod", "C0PROD")
    cert = add_cert(ctx, "shop-2026", days=40)
    assign(ctx, cert, env, "shop.example.com")
    publisher = Recorder()

    assert scan(ctx, publisher).due == 0  # 40 days left: nothing yet
    expected: list[tuple[str, str]] = []
    for days_left, key in ((30, "30d"), (14, "14d"), (7, "7d"), (3, "3d"), (1, "1d")):
        clock.now = START + dt.timedelta(days=40 - days_left, minutes=1)
        first = scan(ctx, publisher)
        again = scan(ctx, publisher)  # same moment: nothing new
        assert first.due == 1 and again.due == 0, key
        expected.append(("post" if key == "30d" else "update", key))
    clock.now = START + dt.timedelta(days=40, minutes=1)
    scan(ctx, publisher)
    expected.append(("post", "expired"))
    assert publisher.kinds() == expected
    # Updated in place: every threshold before expiry names the first message.
    first_ts = publisher.calls[0][2]
    assert {ts for kind, _, ts in publisher.calls if kind == "update"} == {first_ts}
    assert publisher.calls[-1][2] != first_ts  # expired: a new, loud message
    assert publisher.calls[-1][1].channel == "C0PROD"  # type: ignore[union-attr]
    assert len(claims(ctx)) == 6
    assert scan(ctx, publisher).due == 0


def test_crossed_pair_posts_only_the_most_severe(ctx: ServiceContext) -> None:
    add_cert(ctx, "late", days=5)  # 30, 14 and 7 crossed at once
    publisher = Recorder()
    report = scan(ctx, publisher)
    assert report.posted == 1
    assert publisher.kinds() == [("post", "7d")]
    warning = publisher.calls[0][1]
    assert isinstance(warning, DueWarning)
    assert warning.channel == "C0DEFAULT" and warning.placements == ()
    assert [c[1] for c in claims(ctx)] == ["7d"]
    # the less severe ones are never posted afterwards
    assert scan(ctx, publisher).due == 0


def test_channels_environment_else_default_and_per_environment_thresholds(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    with_channel = add_env(ctx, "prod", "C0PROD", warning_days="60,33%")
    without = add_env(ctx, "dev", None)
    cert = add_cert(ctx, "shop", days=50, lifetime_days=90)
    assign(ctx, cert, with_channel, "shop.example.com")
    assign(ctx, cert, without, "dev.example.com")
    publisher = Recorder()
    scan(ctx, publisher)
    # prod warns at 60 days; dev (default channel, global thresholds) not yet
    assert [(w.channel, w.threshold) for _, w, _ in publisher.calls] == [("C0PROD", "60d")]  # type: ignore[union-attr]
    clock.now = START + dt.timedelta(days=21)  # 29 days left
    scan(ctx, publisher)
    posted = {(w.channel, w.threshold) for _, w, _ in publisher.calls}  # type: ignore[union-attr]
    assert ("C0DEFAULT", "30d") in posted and ("C0PROD", "33%") in posted
    places = {p.environment for p in publisher.calls[-1][1].placements}  # type: ignore[union-attr]
    assert places == {"prod", "dev"}


def test_no_channel_no_post(ctx: ServiceContext) -> None:
    add_cert(ctx, "orphan", days=2)
    publisher = Recorder()
    assert scan(ctx, publisher, config(default_channel=None)).due == 0
    assert publisher.calls == []


def test_failed_post_releases_the_claim_and_the_next_run_posts(ctx: ServiceContext) -> None:
    add_cert(ctx, "shop", days=10)
    publisher = Recorder(fail=1)
    report = scan(ctx, publisher)
    assert report.failed == 1 and report.posted == 0 and report.errors
    assert claims(ctx) == []  # released
    report = scan(ctx, publisher)
    assert report.posted == 1
    assert [c[1] for c in claims(ctx)] == ["14d"]
    assert claims(ctx)[0][3] is not None  # the message ts is recorded


def test_a_claim_taken_elsewhere_is_not_posted(ctx: ServiceContext) -> None:
    cert = add_cert(ctx, "shop", days=10)
    with ctx.session() as session:  # another replica's claim, in flight
        assert queries.claim_notification(session, cert, "14d", "C0DEFAULT", "other") is not None
    publisher = Recorder()
    assert scan(ctx, publisher).due == 0
    assert publisher.calls == []


def test_snooze_quiets_then_reminds_once(ctx: ServiceContext, clock: ManualClock) -> None:
    cert = add_cert(ctx, "shop", days=12)
    publisher = Recorder()
    scan(ctx, publisher)  # 14d posted
    result = expiry.silence(ctx, Actor("U1"), cert, "C0DEFAULT", snooze_days=1)
    assert result.kind == "snooze" and result.threshold == "14d"
    assert "Snoozed by <@U1>" in result.text()
    clock.advance(hours=12)
    assert scan(ctx, publisher).due == 0  # snoozed
    clock.advance(hours=13)
    report = scan(ctx, publisher)
    assert report.reminded == 1
    assert publisher.kinds()[-1] == ("remind", f"snooze-{_silence_ids(ctx)[0]}")
    assert scan(ctx, publisher).due == 0  # one reminder only
    with ctx.session() as session:
        silence = session.get(WarningSilence, _silence_ids(ctx)[0])
        assert silence is not None and silence.actor == "U1"
        assert silence.at == START and silence.until == START + dt.timedelta(days=1)
        actions = [e.action for e in session.exec(select(AuditEvent)).all()]
        assert "warning.snooze" in actions


def test_snooze_holds_back_a_threshold_until_it_ends(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    cert = add_cert(ctx, "shop", days=8)
    publisher = Recorder()
    scan(ctx, publisher)  # 14d
    expiry.silence(ctx, Actor("U1"), cert, "C0DEFAULT", snooze_days=7)
    clock.advance(days=2)  # 6 days left: 7d crossed, but snoozed
    assert scan(ctx, publisher).due == 0
    clock.advance(days=5, hours=1)  # snooze over, 1 day left
    scan(ctx, publisher)
    assert publisher.kinds()[-1] == ("update", "1d")
    assert scan(ctx, publisher).due == 0  # no reminder on top of the new threshold


def test_acknowledge_is_quiet_until_the_next_threshold(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    cert = add_cert(ctx, "shop", days=10)
    publisher = Recorder()
    scan(ctx, publisher)  # 14d
    result = expiry.silence(ctx, Actor("U2"), cert, "C0DEFAULT")
    assert result.kind == "acknowledge" and "Acknowledged by <@U2>" in result.text()
    clock.advance(days=1)
    assert scan(ctx, publisher).due == 0
    clock.advance(days=2)  # 7 days left: the next threshold
    scan(ctx, publisher)
    assert publisher.kinds() == [("post", "14d"), ("update", "7d")]


def test_silence_needs_a_warning_and_a_known_snooze(ctx: ServiceContext) -> None:
    cert = add_cert(ctx, "shop", days=10)
    with pytest.raises(ServiceError) as refused:
        expiry.silence(ctx, Actor("U1"), cert, "C0DEFAULT")
    assert refused.value.code == "not_found"
    scan(ctx, Recorder())
    with pytest.raises(ServiceError):
        expiry.silence(ctx, Actor("U1"), cert, "C0DEFAULT", snooze_days=3)


def test_a_renewal_stops_the_warnings_and_updates_them_once(ctx: ServiceContext) -> None:
    env = add_env(ctx, "prod", "C0PROD")
    old = add_cert(ctx, "shop-2025", days=10)
    assign(ctx, old, env, "shop.example.com")
    publisher = Recorder()
    scan(ctx, publisher)
    assert publisher.kinds() == [("post", "14d")]
    add_cert(ctx, "shop-2026", days=200, renews=old, sans=("shop.example.com", "x.example.com"))
    report = scan(ctx, publisher)
    assert report.due == 0 and report.renewed == 1
    kind, notice, _ = publisher.calls[-1]
    assert kind == "renewed" and isinstance(notice, RenewedNotice)
    assert notice.renewed_by == "shop-2026" and notice.message_ts == (publisher.calls[0][2],)
    assert [t["environment"] for t in notice.targets] == ["prod"]  # the one-step offer
    assert scan(ctx, publisher).renewed == 0  # once


def test_same_names_and_issuer_newer_is_renewed_not_expiring(ctx: ServiceContext) -> None:
    add_cert(ctx, "shop-old", days=5, sans=("shop.example.com", "www.example.com"))
    # another subject (CN), the same Domain field and names in another order: renewed
    add_cert(
        ctx,
        "shop-new",
        days=300,
        sans=("www.example.com", "shop.example.com"),
        domain="shop.example.com",
    )
    add_cert(ctx, "api-old", days=5, sans=("api.example.com",))
    add_cert(ctx, "api-other-ca", days=300, sans=("api.example.com",), issuer="CN=Other CA")
    publisher = Recorder()
    scan(ctx, publisher)
    assert [w.certificate for _, w, _ in publisher.calls] == ["api-old"]  # type: ignore[union-attr]
    digest = expiring_digest(ctx, 30)
    items = {i.certificate: i for g in digest for i in g.items}
    assert items["shop-old"].renewed_by == "shop-new"
    assert items["api-old"].renewed_by is None


def test_digest_by_environment(ctx: ServiceContext) -> None:
    prod = add_env(ctx, "prod", "C0PROD")
    cert = add_cert(ctx, "shop", days=10)
    assign(ctx, cert, prod, "shop.example.com")
    add_cert(ctx, "spare", days=20)
    add_cert(ctx, "later", days=90)
    add_cert(ctx, "gone", days=-2)
    add_cert(ctx, "rejected", days=3, status=CertificateStatus.REJECTED)
    digest = expiring_digest(ctx, 30)
    assert [g.environment for g in digest] == ["prod", NO_ENVIRONMENT]
    assert [(i.certificate, i.hostname, i.days_left) for i in digest[0].items] == [
        ("shop", "shop.example.com", 10)
    ]
    assert [(i.certificate, i.days_left) for i in digest[1].items] == [("gone", -1), ("spare", 20)]


def test_environment_thresholds_are_checked_and_audited(ctx: ServiceContext) -> None:
    add_env(ctx, "prod", "C0PROD")
    admin = Actor("UADMIN", True)
    assert expiry.set_environment_thresholds(ctx, admin, "prod", "7, 30, 33%") == "30,7,33%,0"
    with pytest.raises(ServiceError) as refused:
        expiry.set_environment_thresholds(ctx, admin, "prod", "soon")
    assert refused.value.code == "invalid_input"
    with pytest.raises(ServiceError):
        expiry.set_environment_thresholds(ctx, Actor("U1"), "prod", "30")
    assert expiry.set_environment_thresholds(ctx, admin, "prod", None) is None


def _silence_ids(ctx: ServiceContext) -> list[int]:
    with ctx.session() as session:
        rows = session.exec(select(WarningSilence).order_by(col(WarningSilence.id))).all()
        return [s.id or 0 for s in rows]


def test_long_expired_certificates_are_left_alone(ctx: ServiceContext) -> None:
    add_cert(ctx, "ancient", days=-40)  # expired before the 30-day grace
    add_cert(ctx, "recent", days=-3)
    publisher = Recorder()
    scan(ctx, publisher)
    assert [(w.certificate, w.threshold) for _, w, _ in publisher.calls] == [  # type: ignore[union-attr]
        ("recent", "expired")
    ]


def test_a_renewal_that_does_not_outlive_the_old_one_does_not_silence_it(
    ctx: ServiceContext,
) -> None:
    """`--renews` naming a certificate that expires no later (the old file again, by
    mistake) must not stop the warnings of the one still serving the site."""
    env = add_env(ctx, "prod", "C0PROD")
    old = add_cert(ctx, "shop-2025", days=10)
    assign(ctx, old, env, "shop.example.com")
    add_cert(ctx, "shop-again", days=10, renews=old)
    publisher = Recorder()
    report = scan(ctx, publisher)
    assert report.renewed == 0
    assert ("post", "14d") in publisher.kinds()
    digest = expiring_digest(ctx, 30)
    items = {i.certificate: i for g in digest for i in g.items}
    assert items["shop-2025"].renewed_by is None


def test_a_claim_the_database_would_not_give_back_goes_back_on_the_next_scan(
    ctx: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The post failed and the database went down before the claim was given back: the
    scan goes on, and the next one gives it back and posts (it was lost for ever)."""
    add_cert(ctx, "shop", days=10)
    add_cert(ctx, "other", days=10)
    real = queries.release_notification

    def database_down(session: object, claim_id: int) -> None:
        raise OSError("the database went away")

    monkeypatch.setattr(queries, "release_notification", database_down)
    cfg = config()
    publisher = Recorder(fail=1)
    report = scan(ctx, publisher, cfg)
    assert report.failed == 1 and report.posted == 1  # the scan went on to the next one
    assert len(claims(ctx)) == 2  # one claim is stuck, for now
    monkeypatch.setattr(queries, "release_notification", real)
    report = scan(ctx, publisher, cfg)
    assert report.posted == 1
    assert len(claims(ctx)) == 2 and all(c[3] is not None for c in claims(ctx))
