"""Expiry warnings: which are due, and posting each exactly once.

The rules, in the order the scan applies them:
- only validated or approved certificates are watched; one that a valid certificate
  renews (`renews`), or whose names and issuer a newer valid one repeats, is *renewed*,
  not expiring: it gets no warning, and its posted warnings are updated to say so;
- a certificate is warned about in each channel of the environments it serves (the
  environment's channel, else the default channel; one with no environment: the default
  channel), with that environment's thresholds, else the global ones;
- of the thresholds crossed, only the most severe is posted, and never one less severe
  than (or as severe as) one already claimed in that channel;
- a snooze keeps the channel quiet until it ends (then one reminder); an acknowledgement
  keeps it quiet until the next threshold;
- exactly once: the (certificate, threshold, channel) row is claimed and committed before
  the post; a post that fails deletes the claim so the next run retries; a claim that is
  taken already (another replica, an earlier run) is skipped;
- a post whose outcome is unknown (the connection broke, a timeout, a 5xx) is not a
  failure: every message carries the claim's id in its Slack metadata, and the channel's
  recent history is searched for it before posting again (found: recorded as posted);
- a claim never marked posted and older than the lease (its process died) is taken over
  at the start of a scan and looked up the same way: found, it is recorded as posted (the
  record matches Slack); not found, it is given back and posted in this scan;
- about one post per second per channel across replicas (`SharedPacer`, a row per channel).
One message per certificate and channel is updated in place as thresholds pass; expired
gets a new, loud message. The Slack side is a `Publisher` (handlers/warnings/publisher.py), so
this module holds the rules and no Slack.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import os
import socket
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.services import audit
from bot.services.actors import SYSTEM, Actor
from bot.services.clock import as_utc
from bot.services.context import ServiceContext
from bot.services.errors import ServiceError
from bot.services.expiry_thresholds import (
    EXPIRED,
    Threshold,
    due_threshold,
    horizon,
    normalized,
    parse_thresholds,
    render,
    threshold_for_key,
)
from bot.services.held_claims import HeldClaims
from bot.services.mrkdwn import mention
from storage import queries
from storage.models import CertificateStatus, Notification, SilenceKind, WarningSilence

log = logging.getLogger(__name__)

RENEWED = "renewed"  # the claim key of "this warning now says renewed"
REMINDER_PREFIX = "snooze-"  # + silence id: the one reminder when a snooze ends
SNOOZE_DAYS = (1, 7)
# A certificate that expired longer ago than this gets no more messages (its expired
# warning, if any, was posted then): the scan never grows with the record's history.
EXPIRED_GRACE = dt.timedelta(days=30)


class PublishFailed(Exception):
    """The post or update did not go through; the claim is released and retried later."""

    def __init__(self, reason: str, *, not_found: bool = False, unknown: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.not_found = not_found
        # The request may have reached Slack (connection lost, timeout, 5xx): look before
        # posting again, or the warning may be posted twice.
        self.unknown = unknown


@dataclass(frozen=True)
class Placement:
    environment: str
    hostname: str | None
    is_lifetime: bool


@dataclass(frozen=True)
class DueWarning:
    """One message to post (or update, or remind of) in one channel."""

    certificate_id: int
    certificate: str
    domain: str
    sans: tuple[str, ...]
    not_after: dt.datetime
    days_left: int
    threshold: str  # claim key: 30d, 33%, expired, snooze-<id>
    label: str
    channel: str
    placements: tuple[Placement, ...]
    previous_ts: str | None = None  # the message to update in place (or to thread under)
    claim_id: int | None = None  # set once claimed: the message's metadata carries it
    # Taken in from what a hostname serves (`certops adopt`): certops holds no key, so
    # renewing means submitting the new certificate with its key.
    observed: bool = False

    @property
    def is_expired(self) -> bool:
        return self.threshold == EXPIRED

    @property
    def is_reminder(self) -> bool:
        return self.threshold.startswith(REMINDER_PREFIX)

    @property
    def action(self) -> str:
        """post (a new message), update (in place) or remind (in the message's thread)."""
        if self.is_reminder:
            return "remind"
        if self.is_expired or self.previous_ts is None:
            return "post"
        return "update"


@dataclass(frozen=True)
class RenewedNotice:
    """A posted warning to update: the certificate was renewed."""

    certificate_id: int
    certificate: str
    renewed_by: str
    channel: str
    message_ts: tuple[str, ...]
    targets: tuple[dict[str, Any], ...]  # where the renewal can go in one step (offer)
    claim_id: int | None = None  # set once claimed: the offer's metadata carries it


class Publisher(Protocol):
    """Where warnings go (Slack in the bot; a list in some tests). Raise PublishFailed."""

    def post_warning(self, warning: DueWarning) -> str: ...

    def update_warning(self, warning: DueWarning, ts: str) -> None: ...

    def remind(self, warning: DueWarning) -> str: ...

    def mark_renewed(self, notice: RenewedNotice) -> str | None: ...


class FindsWarnings(Protocol):
    """A publisher that can search a channel's recent messages for a claim's metadata."""

    def find_warning(self, channel: str, claim_id: int, since: dt.datetime) -> str | None:
        """The ts of the message posted for `claim_id` since `since`, None when there is
        none; raises PublishFailed when the history could not be read."""
        ...


# How far before its claim a message is looked for (clocks of the replica and Slack differ).
LOOKUP_SLACK = dt.timedelta(minutes=2)
POST_ATTEMPTS = 2  # a post whose outcome was unknown and is not in the history: once more


class ChannelPacer:
    """About one message per second per channel, as Slack asks: waits before a post when
    the channel's previous one was too recent."""

    def __init__(
        self,
        interval: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = interval
        self._monotonic = monotonic
        self._sleep = sleep
        self._last: dict[str, float] = {}

    def wait(self, channel: str) -> float:
        """Sleep as long as needed for `channel`; return how long it slept."""
        now = self._monotonic()
        last = self._last.get(channel)
        pause = 0.0 if last is None else max(0.0, last + self.interval - now)
        if pause > 0:
            self._sleep(pause)
        self._last[channel] = now + pause
        return pause

    def hold(self, channel: str, seconds: float) -> None:
        """Slack answered 429 with `Retry-After: seconds` in `channel`: nothing before then."""
        self._last[channel] = max(self._last.get(channel, 0.0), self._monotonic() + seconds)


class SharedPacer(ChannelPacer):
    """One post per second per channel across every replica: each post takes the next slot
    from the channel's row in the database (`queries.take_channel_slot`), and a 429's
    `Retry-After` moves that row on, so every replica waits it out. The wait is cut short
    when `stopping()` turns true (the post is then not sent: the claim goes back)."""

    def __init__(
        self,
        ctx: ServiceContext,
        interval: float = 1.0,
        stopping: Callable[[], bool] = lambda: False,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(interval, sleep=sleep)
        self._ctx = ctx
        self._stopping = stopping
        self._clock = clock

    def wait(self, channel: str) -> float:
        now = self._clock()
        with self._ctx.session() as session:
            slot = queries.take_channel_slot(session, channel, now, self.interval)
        pause = max(0.0, slot - now)
        end = now + pause
        while not self._stopping():
            left = end - self._clock()
            if left <= 0:
                break
            self._sleep(min(left, 0.25))
        return pause

    def hold(self, channel: str, seconds: float) -> None:
        with self._ctx.session() as session:
            queries.hold_channel(session, channel, self._clock() + seconds + self.interval)


@dataclass(frozen=True)
class ExpiryConfig:
    thresholds: tuple[Threshold, ...]
    default_channel: str | None = None
    replica: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    # A claim not marked posted after this long was left by a process that died (the lease
    # restarts just before the post is sent, so it only has to cover one send and its 429s).
    claim_lease: dt.timedelta = dt.timedelta(minutes=5)
    # Claims made and not yet posting: given back when the process stops (SIGTERM).
    held: HeldClaims = field(default_factory=HeldClaims, compare=False, repr=False)


@dataclass
class ScanReport:
    due: int = 0
    posted: int = 0
    updated: int = 0
    reminded: int = 0
    renewed: int = 0
    skipped_claimed: int = 0
    reconciled: int = 0  # abandoned claims found in Slack and recorded as posted
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# -- finding what is due -------------------------------------------------------------------


@dataclass
class _Candidate:
    id: int
    name: str
    domain: str
    not_before: dt.datetime | None
    not_after: dt.datetime
    observed: bool = False
    sans: tuple[str, ...] = ()  # filled in for the due ones only
    placements: list[Placement] = field(default_factory=list)
    # channel -> thresholds of the environments that post there
    channels: dict[str, set[Threshold]] = field(default_factory=dict)


def _env_thresholds(
    raw: str | None, default: tuple[Threshold, ...], cache: dict[str, tuple[Threshold, ...]]
) -> tuple[Threshold, ...]:
    if not raw:
        return default
    if raw not in cache:
        try:
            cache[raw] = parse_thresholds(raw)
        except ValueError:
            log.warning("environment thresholds %r unreadable: using the global ones", raw)
            cache[raw] = default
    return cache[raw]


def _candidates(
    session: Any, config: ExpiryConfig, until: dt.datetime, since: dt.datetime
) -> dict[int, _Candidate]:
    found: dict[int, _Candidate] = {}
    cache: dict[str, tuple[Threshold, ...]] = {}
    for row in queries.expiry_candidates(session, until, since):
        (cid, name, domain, not_before, not_after, env, channel, days, lifetime, host, status) = row
        cand = found.get(cid)
        if cand is None:
            cand = found[cid] = _Candidate(
                cid,
                name,
                domain,
                as_utc(not_before) if not_before else None,
                as_utc(not_after),
                observed=str(getattr(status, "value", status)) == CertificateStatus.OBSERVED,
            )
        where = channel or config.default_channel
        if env is not None:
            cand.placements.append(Placement(env, host, bool(lifetime)))
            thresholds = _env_thresholds(days, config.thresholds, cache)
        else:
            thresholds = config.thresholds
        if where:
            cand.channels.setdefault(where, set()).update(thresholds)
    return found


def renewed_by(session: Any, until: dt.datetime | None = None) -> dict[int, str]:
    """certificate id -> the name of the valid certificate that renews it (by `renews`, or
    by repeating its names and issuer with a later expiry)."""
    renewed: dict[int, str] = {}
    for old_id, name in queries.valid_renewals_of_watched(session, until):
        renewed.setdefault(old_id, name)
    if until is not None:
        for old_id, old_sans, new_name, new_sans in queries.same_name_successors(session, until):
            same = {s.lower() for s in old_sans or []} == {s.lower() for s in new_sans or []}
            if same and old_sans:
                renewed.setdefault(int(old_id), str(new_name))
    return renewed


def _scan_horizon(config: ExpiryConfig, session: Any) -> dt.timedelta:
    """How far ahead any threshold (global or an environment's) can reach."""
    thresholds: list[Threshold] = list(config.thresholds)
    for env in queries.environments(session):
        if env.warning_days:
            with contextlib.suppress(ValueError):
                thresholds += parse_thresholds(env.warning_days)
    return horizon(thresholds)


def find_due(ctx: ServiceContext, config: ExpiryConfig) -> list[DueWarning]:
    """Every warning due now, at most one per certificate and channel (no claim made)."""
    now = ctx.now()
    with ctx.session() as session:
        until = now + _scan_horizon(config, session)
        since = now - EXPIRED_GRACE
        candidates = _candidates(session, config, until, since)
        if not candidates:
            return []
        renewed = renewed_by(session, until)
        claims: dict[tuple[int, str], list[Notification]] = defaultdict(list)
        for note in queries.notifications_of_watched(session, until, since):
            if note.certificate_id is not None:
                claims[(note.certificate_id, note.channel)].append(note)
        silences: dict[tuple[int, str], list[WarningSilence]] = defaultdict(list)
        for silence in queries.silences_of_watched(session, until, since):
            silences[(silence.certificate_id, silence.channel)].append(silence)
        due: list[DueWarning] = []
        orders: dict[frozenset[Threshold], tuple[Threshold, ...]] = {}
        for cand in candidates.values():
            if cand.id in renewed:
                continue
            for channel, thresholds in cand.channels.items():
                key = frozenset(thresholds)
                if key not in orders:
                    orders[key] = normalized(thresholds)
                warning = _due_in_channel(
                    cand,
                    channel,
                    orders[key],
                    claims.get((cand.id, channel), []),
                    silences.get((cand.id, channel), []),
                    now,
                )
                if warning is not None:
                    due.append(warning)
        names = queries.sans_of(session, [w.certificate_id for w in due])
    return [dataclasses.replace(w, sans=tuple(names.get(w.certificate_id, ()))) for w in due]


def _latest_ts(notes: Sequence[Notification], *, include_expired: bool) -> str | None:
    posted = [
        n
        for n in notes
        if n.message_ts
        and n.posted_at
        and not n.threshold.startswith(REMINDER_PREFIX)
        and n.threshold != RENEWED
        and (include_expired or n.threshold != EXPIRED)
    ]
    if not posted:
        return None
    return max(posted, key=lambda n: (as_utc(n.posted_at or n.claimed_at), n.id or 0)).message_ts


def _lead_of_key(key: str, cand: _Candidate) -> dt.timedelta | None:
    try:
        return threshold_for_key(key).lead(cand.not_before, cand.not_after)
    except ValueError:
        return None


def _due_in_channel(
    cand: _Candidate,
    channel: str,
    thresholds: tuple[Threshold, ...],
    notes: Sequence[Notification],
    silences: Sequence[WarningSilence],
    now: dt.datetime,
) -> DueWarning | None:
    crossed = due_threshold(thresholds, cand.not_before, cand.not_after, now)
    snooze = _active_snooze(silences, now)
    if snooze is not None:
        return None
    days_left = (cand.not_after - now).days if cand.not_after > now else 0
    if (
        crossed is not None
        and not _claimed_as_severe(crossed, cand, notes)
        and not _acknowledged(crossed, cand, silences)
    ):
        return DueWarning(
            cand.id,
            cand.name,
            cand.domain,
            cand.sans,
            cand.not_after,
            days_left,
            crossed.key,
            crossed.label(),
            channel,
            tuple(cand.placements),
            previous_ts=_latest_ts(notes, include_expired=False),
            observed=cand.observed,
        )
    return _reminder(cand, channel, notes, silences, now, days_left)


def _claimed_as_severe(crossed: Threshold, cand: _Candidate, notes: Sequence[Notification]) -> bool:
    lead = crossed.lead(cand.not_before, cand.not_after)
    for note in notes:
        other = _lead_of_key(note.threshold, cand)
        if other is not None and other <= lead:
            return True
    return False


def _acknowledged(crossed: Threshold, cand: _Candidate, silences: Sequence[WarningSilence]) -> bool:
    lead = crossed.lead(cand.not_before, cand.not_after)
    for silence in silences:
        if silence.kind is SilenceKind.ACKNOWLEDGE:
            acked = _lead_of_key(silence.threshold, cand)
            if acked is not None and acked <= lead:
                return True
    return False


def _active_snooze(silences: Sequence[WarningSilence], now: dt.datetime) -> WarningSilence | None:
    for silence in silences:
        if silence.kind is SilenceKind.SNOOZE and silence.until and as_utc(silence.until) > now:
            return silence
    return None


def _reminder(
    cand: _Candidate,
    channel: str,
    notes: Sequence[Notification],
    silences: Sequence[WarningSilence],
    now: dt.datetime,
    days_left: int,
) -> DueWarning | None:
    """The one reminder after the latest snooze ended, unless acknowledged since."""
    ended = [
        s
        for s in silences
        if s.kind is SilenceKind.SNOOZE and s.until is not None and as_utc(s.until) <= now
    ]
    if not ended:
        return None
    latest = max(ended, key=lambda s: (as_utc(s.at), s.id or 0))
    key = f"{REMINDER_PREFIX}{latest.id}"
    if any(n.threshold == key for n in notes):
        return None
    if latest.until is not None and any(
        as_utc(n.claimed_at) >= as_utc(latest.until) for n in notes
    ):
        return None  # a new threshold was posted since the snooze ended: that reminds
    if any(
        s.kind is SilenceKind.ACKNOWLEDGE and as_utc(s.at) >= as_utc(latest.at) for s in silences
    ):
        return None
    ts = _latest_ts(notes, include_expired=True)
    expired = cand.not_after <= now
    return DueWarning(
        cand.id,
        cand.name,
        cand.domain,
        cand.sans,
        cand.not_after,
        days_left,
        key,
        "expired" if expired else f"{days_left} day{'s' if days_left != 1 else ''} left",
        channel,
        tuple(cand.placements),
        previous_ts=ts,
        observed=cand.observed,
    )


# -- posting exactly once ------------------------------------------------------------------


def run_scan(
    ctx: ServiceContext,
    publisher: Publisher,
    config: ExpiryConfig,
    pacer: ChannelPacer | None = None,
) -> ScanReport:
    """Find what is due, claim each, post it; then update the warnings of renewed ones."""
    pacer = pacer or ChannelPacer()
    report = ScanReport()
    config.held.retry_give_backs(ctx)
    reconcile(ctx, publisher, config, report)
    due = find_due(ctx, config)
    report.due = len(due)
    for warning in due:
        if config.held.closing:
            return report  # stopping: claim nothing more
        deliver(ctx, publisher, config, warning, pacer, report)
    if not config.held.closing:
        announce_renewals(ctx, publisher, config, pacer, report)
    return report


@dataclass(frozen=True)
class ClaimKey:
    """What one claim is for: an expiry warning (certificate, threshold, channel), or a
    message about no certificate (`certificate_id` None, the key alone names it)."""

    certificate_id: int | None
    key: str
    channel: str


# claim id, time the post was sent -> the message's ts (PublishFailed when it failed)
Send = Callable[[int, dt.datetime], str]


def deliver(
    ctx: ServiceContext,
    publisher: Publisher,
    config: ExpiryConfig,
    warning: DueWarning,
    pacer: ChannelPacer,
    report: ScanReport,
) -> bool:
    """Claim, post, record; release the claim if the post fails. True when posted."""

    def send(claim_id: int, since: dt.datetime) -> str:
        claimed = dataclasses.replace(warning, claim_id=claim_id)
        return publish_settled(
            lambda: _publish(publisher, claimed),
            getattr(publisher, "find_warning", None),
            warning.channel,
            claim_id,
            since,
        )

    claim = ClaimKey(warning.certificate_id, warning.threshold, warning.channel)
    label = f"{warning.certificate} {warning.threshold}"
    ts = post_claimed(ctx, config, claim, pacer, send, report, label=label)
    if ts is None:
        return False
    if warning.action == "update":
        report.updated += 1
    elif warning.action == "remind":
        report.reminded += 1
    else:
        report.posted += 1
    log.info("warning %s %s in %s: %s", warning.certificate, warning.threshold, warning.channel, ts)
    return True


def post_claimed(
    ctx: ServiceContext,
    config: ExpiryConfig,
    claim: ClaimKey,
    pacer: ChannelPacer,
    send: Send,
    report: ScanReport,
    *,
    label: str,
    action: str = "notification.posted",
) -> str | None:
    """The exactly-once post of any claimed message: claim (a unique row), wait for the
    channel's pace, restart the lease, send, record the ts; give the claim back when the
    post fails. The message's ts, or None when not posted (claimed elsewhere, stopping,
    failed: `report` says which)."""
    with ctx.session() as session:
        row = queries.claim_notification(
            session, claim.certificate_id, claim.key, claim.channel, config.replica, at=ctx.now()
        )
        claim_id = row.id if row is not None else None
    if claim_id is None:
        report.skipped_claimed += 1
        return None
    config.held.hold(claim_id)
    pacer.wait(claim.channel)
    if not config.held.begin_post(ctx, claim_id):
        return None  # the process is stopping: the claim was given back
    since = ctx.now()
    with ctx.session() as session:  # the lease starts as the post is sent
        ours = queries.renew_claim(session, claim_id, config.replica, since)
    if not ours:  # the wait outlasted the lease and another replica settled the claim
        report.skipped_claimed += 1
        return None
    try:
        ts = send(claim_id, since)
    except Exception as error:
        _post_failed(ctx, config, label, claim.channel, claim_id, error, report)
        return None
    _record_posted(ctx, config, claim, claim_id, ts, action)
    return ts


class _Unsettled(PublishFailed):
    """The post's outcome is unknown and the channel's history could not be read."""


def publish_settled(
    post: Callable[[], str],
    find: Callable[[str, int, dt.datetime], str | None] | None,
    channel: str,
    claim_id: int,
    since: dt.datetime,
) -> str:
    """Post; when the outcome is unknown, look in the channel's history for the claim's
    message before posting again (never twice blindly: the SDK does not retry either)."""
    for attempt in range(1, POST_ATTEMPTS + 1):
        try:
            return post()
        except PublishFailed as error:
            if not error.unknown or find is None:
                raise
            try:
                found = find(channel, claim_id, since - LOOKUP_SLACK)
            except Exception as lookup:
                raise _Unsettled(f"{error.reason}, history unreadable: {lookup}") from None
            if found:
                log.info("claim %s was posted after all: %s", claim_id, found)
                return str(found)
            if attempt == POST_ATTEMPTS:
                raise
            log.info("claim %s is not in the channel: posting again", claim_id)
    raise AssertionError("unreachable")  # pragma: no cover


def _post_failed(
    ctx: ServiceContext,
    config: ExpiryConfig,
    label: str,
    channel: str,
    claim_id: int,
    error: Exception,
    report: ScanReport,
) -> None:
    """Give the claim back (the next run retries), unless the post may be in Slack and the
    history could not tell: then the claim stays, and a scan after the lease settles it."""
    reason = error.reason if isinstance(error, PublishFailed) else type(error).__name__
    unsettled = isinstance(error, _Unsettled)
    log.warning(
        "warning %s in %s failed (%s): %s",
        label,
        channel,
        reason,
        "kept until the lease ends" if unsettled else "released for the next run",
    )
    if not unsettled:
        config.held.give_back(ctx, claim_id)
    report.failed += 1
    report.errors.append(f"{label}: {reason}")


def _record_posted(
    ctx: ServiceContext,
    config: ExpiryConfig,
    claim: ClaimKey,
    claim_id: int,
    ts: str,
    action: str,
) -> None:
    with ctx.session() as session:
        row = session.get(Notification, claim_id)
        if row is None:  # taken over and given back while this post was slow: claim again
            row = queries.claim_notification(
                session,
                claim.certificate_id,
                claim.key,
                claim.channel,
                config.replica,
                at=ctx.now(),
            )
            if row is None:
                log.warning("claim %s was given away while posting: %s", claim_id, ts)
                return
        row.message_ts = ts
        row.posted_at = ctx.now()
        session.add(row)
        audit.record(session, ctx, SYSTEM, action, row)


def reconcile(
    ctx: ServiceContext, publisher: Publisher, config: ExpiryConfig, report: ScanReport
) -> None:
    """Settle the claims left unposted by a process that died (older than the lease): the
    message is looked for in the channel by the claim's metadata; found, the claim is
    recorded as posted; not found, it is given back and this scan posts it."""
    find = getattr(publisher, "find_warning", None)
    if find is None:
        return
    now = ctx.now()
    with ctx.session() as session:
        stale = [
            (n.id or 0, n.certificate_id, n.threshold, n.channel, n.claimed_at)
            for n in queries.unposted_claims(session, now - config.claim_lease)
        ]
    for claim_id, cert_id, threshold, channel, claimed_at in stale:
        if config.held.closing:
            return
        with ctx.session() as session:
            if not queries.take_over_claim(session, claim_id, claimed_at, config.replica, now):
                continue  # another replica is settling it
        try:
            ts = find(channel, claim_id, as_utc(claimed_at) - LOOKUP_SLACK)
        except Exception as error:
            log.warning("claim %s not settled (%s): after the next lease", claim_id, error)
            continue
        if not ts:
            log.info("claim %s of a stopped process is not in %s: posting it", claim_id, channel)
            config.held.give_back(ctx, claim_id)
            continue
        with ctx.session() as session:
            row = session.get(Notification, claim_id)
            if row is not None:
                row.message_ts = str(ts)
                row.posted_at = now
                session.add(row)
                audit.record(session, ctx, SYSTEM, "notification.reconciled", row)
        report.reconciled += 1
        log.info("claim %s (%s %s) was posted as %s: recorded", claim_id, cert_id, threshold, ts)


def _publish(publisher: Publisher, warning: DueWarning) -> str:
    if warning.action == "remind":
        return publisher.remind(warning)
    if warning.action == "update" and warning.previous_ts:
        try:
            publisher.update_warning(warning, warning.previous_ts)
            return warning.previous_ts
        except PublishFailed as error:
            if not error.not_found:
                raise
            log.info("warning message %s is gone: posting a new one", warning.previous_ts)
    return publisher.post_warning(warning)


def announce_renewals(
    ctx: ServiceContext,
    publisher: Publisher,
    config: ExpiryConfig,
    pacer: ChannelPacer,
    report: ScanReport,
) -> None:
    """Once per channel: update the posted warnings of a renewed certificate to say so,
    with the offer to put the renewal where the old one serves."""
    from bot.services.renewals import renewal_offer

    with ctx.session() as session:
        posted = queries.posted_notifications(session)
        if not posted:
            return
        renewed = renewed_by(session, ctx.now() + _scan_horizon(config, session))
        by_channel: dict[tuple[int, str], list[Notification]] = defaultdict(list)
        for note in posted:
            if note.certificate_id is not None:  # not a served-certificate message
                by_channel[(note.certificate_id, note.channel)].append(note)
        names = {
            cid: queries.certificate_by_id(session, cid).name
            for cid, _ in by_channel
            if cid in renewed
        }
        done = {(n.certificate_id, n.channel) for n in posted if n.threshold == RENEWED}
    for (cid, channel), notes in by_channel.items():
        if cid not in renewed or (cid, channel) in done:
            continue
        new_name = renewed[cid]
        try:
            targets = tuple(t.to_dict() for t in renewal_offer(ctx, new_name))
        except ServiceError:
            targets = ()
        stamps = tuple(
            dict.fromkeys(n.message_ts for n in notes if n.message_ts and n.threshold != RENEWED)
        )
        notice = RenewedNotice(cid, names[cid], new_name, channel, stamps, targets)
        if _deliver_renewed(ctx, publisher, config, notice, pacer):
            report.renewed += 1
        else:
            report.failed += 1


def _deliver_renewed(
    ctx: ServiceContext,
    publisher: Publisher,
    config: ExpiryConfig,
    notice: RenewedNotice,
    pacer: ChannelPacer,
) -> bool:
    with ctx.session() as session:
        claim = queries.claim_notification(
            session, notice.certificate_id, RENEWED, notice.channel, config.replica, at=ctx.now()
        )
        claim_id = claim.id if claim is not None else None
    if claim_id is None:
        return True  # someone else did it
    config.held.hold(claim_id)
    pacer.wait(notice.channel)
    if not config.held.begin_post(ctx, claim_id):
        return False  # the process is stopping: the claim was given back
    notice = dataclasses.replace(notice, claim_id=claim_id)
    try:
        ts = publisher.mark_renewed(notice) or (notice.message_ts[-1] if notice.message_ts else "")
    except Exception as error:
        log.warning("renewed notice for %s failed (%s): released", notice.certificate, error)
        config.held.give_back(ctx, claim_id)
        return False
    with ctx.session() as session:
        row = session.get(Notification, claim_id)
        if row is not None:
            row.message_ts = ts or None
            row.posted_at = ctx.now()
            session.add(row)
            audit.record(session, ctx, SYSTEM, "notification.renewed", row)
    return True


# -- snooze and acknowledge ----------------------------------------------------------------


@dataclass(frozen=True)
class SilenceResult:
    certificate: str
    channel: str
    kind: str
    threshold: str
    until: dt.datetime | None
    actor: str

    def text(self) -> str:
        who = mention(self.actor)
        if self.kind == SilenceKind.SNOOZE.value and self.until is not None:
            return f"Snoozed by {who} until {self.until:%Y-%m-%d %H:%M} UTC."
        return f"Acknowledged by {who}: quiet until the next threshold."


def _current_threshold(session: Any, cert_id: int, channel: str) -> str:
    notes = [
        n
        for n in queries.notifications_of_certificate(session, cert_id)
        if n.channel == channel
        and n.posted_at is not None
        and not n.threshold.startswith(REMINDER_PREFIX)
        and n.threshold != RENEWED
    ]
    if not notes:
        raise ServiceError("not_found", "there is no warning about this certificate here")
    return max(notes, key=lambda n: (as_utc(n.posted_at or n.claimed_at), n.id or 0)).threshold


def silence(
    ctx: ServiceContext,
    actor: Actor,
    certificate_id: int,
    channel: str,
    *,
    snooze_days: int | None = None,
) -> SilenceResult:
    """Snooze the warning for `snooze_days`, or (None) acknowledge it; audited."""
    if snooze_days is not None and snooze_days not in SNOOZE_DAYS:
        raise ServiceError("invalid_input", f"snooze for {' or '.join(map(str, SNOOZE_DAYS))} days")
    now = ctx.now()
    with ctx.session() as session:
        cert = queries.certificate_by_id(session, certificate_id)
        threshold = _current_threshold(session, certificate_id, channel)
        kind = SilenceKind.SNOOZE if snooze_days else SilenceKind.ACKNOWLEDGE
        row = queries.add_silence(
            session,
            WarningSilence(
                certificate_id=certificate_id,
                channel=channel,
                kind=kind,
                threshold=threshold,
                until=now + dt.timedelta(days=snooze_days) if snooze_days else None,
                actor=actor.user_id,
                at=now,
            ),
        )
        audit.record(session, ctx, actor, f"warning.{kind.value}", row)
        return SilenceResult(cert.name, channel, kind.value, threshold, row.until, actor.user_id)


# -- thresholds per environment ------------------------------------------------------------


def set_environment_thresholds(
    ctx: ServiceContext, actor: Actor, environment: str, spec: str | None
) -> str | None:
    """Give an environment its own thresholds (`"30,14,7,33%"`), or None for the global."""
    actor.require_admin("change warning thresholds")
    text = None
    if spec:
        try:
            text = render(parse_thresholds(spec))
        except ValueError as error:
            raise ServiceError("invalid_input", f"thresholds: {error}") from None
    with ctx.session() as session:
        env = queries.environment(session, environment)
        before = audit.snapshot(env)
        env.warning_days = text
        session.add(env)
        audit.record(session, ctx, actor, "environment.warning_days", env, before=before)
    return text


def config_from_settings(settings: Any, replica: str | None = None) -> ExpiryConfig:
    """The scan's configuration from `bot.settings.Settings`."""
    from bot.services.expiry_thresholds import thresholds_of

    thresholds = thresholds_of(settings)
    lease = dt.timedelta(seconds=getattr(settings, "warning_lease_seconds", 300.0))
    if replica:
        return ExpiryConfig(thresholds, settings.default_channel, replica, claim_lease=lease)
    return ExpiryConfig(thresholds, settings.default_channel, claim_lease=lease)
