"""After an assignment: does the hostname really serve the certificate assigned?

This check is the first run of the served-certificate probe (served.py) for the
hostname: its final outcome is recorded there too, and this thread reply reports it.

The secure endpoint changes in about five minutes, so each new assignment gets a check
row (`tls_check`, one per assignment: the insert is the claim) due five minutes after it.
Whoever runs an attempt first moves `next_at` forward with a compare-and-set, so two
replicas never probe or post the same attempt. A served certificate whose fingerprint is
the assigned one ends the check at once; anything else is tried again a few times
before the mismatch (or the failure to connect) is reported. The outcome goes in the
thread of the assignment message. In Slack that is the result message the handler posts
(`attach_thread` claims the check with its channel and ts, so the scheduler announces
nothing of its own); an assignment made elsewhere (`certops assign`) gets a message the
`TlsPublisher` posts when the scheduler first sees it, and the outcome goes in its thread.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.pipeline.tls_probe import HTTPS_PORT, ProbeResult, Resolve, normalize_fingerprint, probe
from bot.services import audit, served
from bot.services.actors import SYSTEM
from bot.services.clock import as_utc
from bot.services.context import ServiceContext
from bot.services.mrkdwn import escape, mention
from bot.services.served import ProbeConfig
from storage import queries
from storage.models import CURRENT_ASSIGNMENT_STATES, Assignment, TlsCheck, TlsCheckState

log = logging.getLogger(__name__)


DEFAULT_DELAY = dt.timedelta(minutes=5)  # the secure endpoint's update time


@dataclass(frozen=True)
class TlsCheckConfig:
    delay: dt.timedelta = DEFAULT_DELAY
    retry: dt.timedelta = dt.timedelta(minutes=2)
    attempts: int = 4
    port: int = HTTPS_PORT
    resolve: Resolve | None = None
    timeout: float = 10.0
    # Assignments older than this when first seen get no check (a first start on an old
    # record must not probe its whole history).
    lookback: dt.timedelta = dt.timedelta(hours=6)
    default_channel: str | None = None
    # The probe's bounds (nameservers, refused addresses, port, deadline): with no
    # `resolve`, the check connects as every probe does (the bot sets it from settings).
    probe: ProbeConfig | None = None


class TlsPublisher(Protocol):
    def announce(self, channel: str, text: str) -> str: ...

    def reply(self, channel: str, thread_ts: str | None, text: str) -> str: ...


@dataclass
class TlsReport:
    scheduled: int = 0
    checked: int = 0
    ok: int = 0
    retried: int = 0
    mismatched: int = 0
    unreachable: int = 0
    outcomes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def schedule_checks(
    ctx: ServiceContext, config: TlsCheckConfig, publisher: TlsPublisher | None = None
) -> int:
    """Give every new current assignment its check (and its thread's first message)."""
    now = ctx.now()
    made: list[tuple[int, str | None, str]] = []
    with ctx.session() as session:
        for assignment in queries.assignments_without_check(session, now - config.lookback):
            env = queries.environment_by_id(session, assignment.environment_id)
            cert = queries.certificate_by_id(session, assignment.certificate_id)
            channel = env.channel or config.default_channel
            row = queries.add_tls_check(
                session,
                TlsCheck(
                    assignment_id=assignment.id or 0,
                    channel=channel,
                    state=TlsCheckState.PENDING,
                    next_at=as_utc(assignment.assigned_at) + config.delay,
                    updated_at=now,
                ),
            )
            if row is not None:
                text = (
                    f":arrows_counterclockwise: *{escape(cert.name)}* was assigned to "
                    f"*{escape(env.name)}* as {escape(assignment.hostname)} by "
                    f"{mention(assignment.assigned_by)}. The endpoint takes about five "
                    "minutes to change; I'll check what it serves and say so here."
                )
                made.append((row.id or 0, channel, text))
    for check_id, channel, text in made:
        if channel and publisher is not None:
            try:
                ts = publisher.announce(channel, text)
            except Exception as error:  # no thread then: the outcome goes to the channel
                log.warning("could not announce TLS check %s: %s", check_id, error)
                continue
            _set_thread(ctx, check_id, channel, ts)
    return len(made)


def attach_thread(
    ctx: ServiceContext,
    assignment_id: int,
    channel: str,
    ts: str,
    *,
    delay: dt.timedelta = DEFAULT_DELAY,
) -> None:
    """Post the check of `assignment_id` in the thread of message `ts` in `channel`.

    The handler that posted the assignment's result calls this at once, so usually the
    check does not exist yet: inserting it here (due `delay` after the assignment) is the
    claim, and the scheduler then sees a checked assignment and announces nothing. When
    the scheduler got there first (its announcement is already out), the thread moves to
    this message: the outcome belongs under the result people read.
    """
    with ctx.session() as session:
        assignment = lookups_assignment(session, assignment_id)
        row = queries.add_tls_check(
            session,
            TlsCheck(
                assignment_id=assignment_id,
                channel=channel,
                thread_ts=ts,
                state=TlsCheckState.PENDING,
                next_at=as_utc(assignment.assigned_at) + delay,
                updated_at=ctx.now(),
            ),
        )
        if row is not None:
            return
    with ctx.session() as session:
        existing = queries.tls_check_of_assignment(session, assignment_id)
        check_id = existing.id if existing is not None else None
    if check_id is not None:
        _set_thread(ctx, check_id, channel, ts)


def _set_thread(ctx: ServiceContext, check_id: int, channel: str, ts: str) -> None:
    with ctx.session() as session:
        row = session.get(TlsCheck, check_id)
        if row is not None:
            row.channel, row.thread_ts = channel, ts
            session.add(row)


def run_checks(
    ctx: ServiceContext, config: TlsCheckConfig, publisher: TlsPublisher | None = None
) -> TlsReport:
    """Schedule new checks, then run every due attempt once (by one replica)."""
    report = TlsReport(scheduled=schedule_checks(ctx, config, publisher))
    now = ctx.now()
    with ctx.session() as session:
        due = [(c.id or 0, as_utc(c.next_at)) for c in queries.due_tls_checks(session, now)]
    for check_id, next_at in due:
        with ctx.session() as session:
            taken = queries.take_tls_check(session, check_id, next_at, now + config.retry)
        if taken:
            _attempt(ctx, config, publisher, check_id, report)
    return report


def _attempt(
    ctx: ServiceContext,
    config: TlsCheckConfig,
    publisher: TlsPublisher | None,
    check_id: int,
    report: TlsReport,
) -> None:
    with ctx.session() as session:
        row = session.get(TlsCheck, check_id)
        if row is None:
            return
        assignment = lookups_assignment(session, row.assignment_id)
        cert = queries.certificate_by_id(session, assignment.certificate_id)
        env = queries.environment_by_id(session, assignment.environment_id)
        expected = cert.fingerprint_sha256 or ""
        hostname, name, env_name = assignment.hostname, cert.name, env.name
        current = assignment.state in CURRENT_ASSIGNMENT_STATES
        attempts = row.attempts + 1
    report.checked += 1
    if not current:
        _finish(ctx, check_id, TlsCheckState.OK, attempts, None, "replaced before the check")
        return
    failed = None
    if config.resolve is None and config.probe is not None:
        result, failed = served.check_served(config.probe, hostname)
    else:
        result = probe(hostname, port=config.port, resolve=config.resolve, timeout=config.timeout)
    matches = bool(
        result.fingerprint_sha256
        and expected
        and normalize_fingerprint(result.fingerprint_sha256) == normalize_fingerprint(expected)
    )
    if matches:
        state: TlsCheckState | None = TlsCheckState.OK
    elif attempts < config.attempts:
        state = None  # try again later
    else:
        state = TlsCheckState.MISMATCH if result.ok else TlsCheckState.UNREACHABLE
    if state is None:
        report.retried += 1
        with ctx.session() as session:
            row = session.get(TlsCheck, check_id)
            if row is not None:
                row.attempts = attempts
                row.served_fingerprint = result.fingerprint_sha256
                row.detail = result.error
                row.next_at = ctx.now() + config.retry
                row.updated_at = ctx.now()
                session.add(row)
        log.info("TLS check %s: attempt %d did not match, again later", hostname, attempts)
        return
    text = outcome_text(state, hostname, name, env_name, expected, result, attempts)
    report.outcomes.append(text)
    if state is TlsCheckState.OK:
        report.ok += 1
    elif state is TlsCheckState.MISMATCH:
        report.mismatched += 1
    else:
        report.unreachable += 1
    _finish(ctx, check_id, state, attempts, result, text)
    _first_probe(ctx, check_id, result, failed)
    _post_outcome(ctx, publisher, check_id, text)


def _first_probe(
    ctx: ServiceContext, check_id: int, result: ProbeResult, failed: served.Observation | None
) -> None:
    """This check is the first run of the served-certificate probe for its hostname: its
    outcome is recorded there (and reported by this thread's reply, not posted again)."""
    with ctx.session() as session:
        row = session.get(TlsCheck, check_id)
        assignment_id = row.assignment_id if row is not None else None
    if assignment_id is None:
        return
    try:
        served.record_first_check(ctx, assignment_id, result, failed)
    except Exception as error:  # the check's own outcome stands; the next probe records
        log.warning("TLS check %s: outcome not recorded for the probe: %s", check_id, error)


def lookups_assignment(session: Any, assignment_id: int) -> Assignment:
    row = session.get(Assignment, assignment_id)
    if row is None:
        raise LookupError(f"assignment {assignment_id} is gone")
    return row


def _finish(
    ctx: ServiceContext,
    check_id: int,
    state: TlsCheckState,
    attempts: int,
    result: ProbeResult | None,
    detail: str,
) -> None:
    with ctx.session() as session:
        row = session.get(TlsCheck, check_id)
        if row is None:
            return
        before = audit.snapshot(row)
        row.state = state
        row.attempts = attempts
        row.served_fingerprint = result.fingerprint_sha256 if result else None
        row.detail = detail
        row.updated_at = ctx.now()
        session.add(row)
        audit.record(session, ctx, SYSTEM, f"tls_check.{state.value}", row, before=before)


def _post_outcome(
    ctx: ServiceContext, publisher: TlsPublisher | None, check_id: int, text: str
) -> None:
    with ctx.session() as session:
        row = session.get(TlsCheck, check_id)
        channel, thread = (row.channel, row.thread_ts) if row else (None, None)
    if publisher is None or not channel:
        log.info("TLS check %s: %s (no channel to post to)", check_id, text)
        return
    try:
        publisher.reply(channel, thread, text)
    except Exception as error:
        log.warning("TLS check %s outcome not posted: %s", check_id, error)


def outcome_text(
    state: TlsCheckState,
    hostname: str,
    certificate: str,
    environment: str,
    expected: str,
    result: ProbeResult,
    attempts: int,
) -> str:
    tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
    # mrkdwn for the channel: every value escaped (a name may predate the naming rule,
    # and the handshake error is the remote end's words).
    hostname, certificate, environment = escape(hostname), escape(certificate), escape(environment)
    if state is TlsCheckState.OK:
        return (
            f":white_check_mark: {hostname} serves *{certificate}* on {environment} "
            f"(SHA-256 {expected[:23]}…)."
        )
    if state is TlsCheckState.MISMATCH:
        return (
            f":x: {hostname} does not serve *{certificate}* after {tries}: it serves SHA-256 "
            f"{escape(str(result.fingerprint_sha256))}, expected {expected}. Check the secure endpoint of "
            f"{environment} and that the CNAME points at it."
        )
    return (
        f":x: I could not read the certificate of {hostname} after {tries} "
        f"({escape(str(result.error))}). Check the CNAME and the secure endpoint of {environment}."
    )
