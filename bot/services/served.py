"""What every hostname really serves, compared with the record, and its drift said once.

The probe runs over the hostname of every current assignment, every environment's default
host, and its custom hostname when no assignment covers it. Each is resolved through the
configured nameservers, dialled with SNI under one deadline (bot/pipeline/tls_probe.py), and
its leaf read with the pipeline's readers and judged (bot/pipeline/served.py). The outcomes:

- `ok`: the recorded certificate is served;
- `served_other_certificate`: another one is served;
- `served_expires_sooner`: the served one expires before the recorded one;
- `handshake_failed`: no certificate could be read (the reason says why);
- `unresolvable`: the hostname has no address;
- `cname_changed`: the DNS check fails where it passed at assignment;
- `address_refused`: the hostname points at a loopback, link-local, unspecified or
  multicast address, which the probe does not dial;
- `not_recorded`: the hostname (an environment's default host, say) serves a certificate
  that the record does not hold: the adopt flow's starting point.

Replicas share the work through the database: a hostname's row is inserted once (the
claim of its first probe) and `next_at` is moved on with a compare-and-set by whoever
probes it. A change of outcome bumps `change`; saying it in the environment's channel is
claimed like an expiry warning (`expiry.post_claimed`: a unique `notification` row, the
channel's shared pace, message metadata and the history lookup after a lost answer), so
exactly one replica posts each change. The five-minute check after an assignment
(tls_check.py) is the first probe of its hostname: it records the outcome here, and its
thread reply is the report of that change.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.pipeline import served as judge_served
from bot.pipeline.dns_report import VERDICT_OK
from bot.pipeline.tls_probe import ProbeResult, probe
from bot.services import audit, expiry
from bot.services.actors import SYSTEM
from bot.services.clock import as_utc
from bot.services.context import ServiceContext
from bot.services.errors import ServiceError
from bot.services.supersession import VALID_STATES
from storage import queries
from storage.enums import CertificateStatus
from storage.models import CURRENT_ASSIGNMENT_STATES, ServedProbe

log = logging.getLogger(__name__)

# The outcomes, named here for the Slack layer (which does not import the pipeline).
OK = judge_served.OK
SERVED_OTHER = judge_served.SERVED_OTHER
SERVED_EXPIRES_SOONER = judge_served.SERVED_EXPIRES_SOONER
HANDSHAKE_FAILED = judge_served.HANDSHAKE_FAILED
UNRESOLVABLE = judge_served.UNRESOLVABLE
CNAME_CHANGED = judge_served.CNAME_CHANGED
ADDRESS_REFUSED = judge_served.ADDRESS_REFUSED
NOT_RECORDED = judge_served.NOT_RECORDED
OUTCOMES = judge_served.OUTCOMES

# A certificate of the record in one of these states, served where nothing is assigned,
# counts as `ok` (a superseded or rejected one does not; "observed" is the adopt flow's).
KNOWN_STATES = frozenset({*(str(s.value) for s in VALID_STATES), str(CertificateStatus.OBSERVED)})

CLAIM_PREFIX = "served:"
DEFAULT_INTERVAL = dt.timedelta(hours=6)
# A new assignment's hostname waits for its own check (tls_check) this long at most.
TLS_CHECK_WINDOW = dt.timedelta(hours=6)
# A hostname the scheduler sees for the first time is probed this much later (a new
# environment or hostname may still be settling, as an assignment's endpoint does).
FIRST_DELAY = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class ProbeConfig:
    interval: dt.timedelta = DEFAULT_INTERVAL
    concurrency: int = 16
    timeout: float = 5.0  # one connection and handshake, in all
    port: int = 443  # tests and labs only
    allow_loopback: bool = False  # tests and labs only
    nameservers: tuple[tuple[str, int], ...] = ()  # empty: the system resolver
    dns_timeout: float = 5.0
    default_channel: str | None = None


def config_from_settings(settings: Any) -> ProbeConfig:
    return ProbeConfig(
        interval=dt.timedelta(seconds=settings.probe_interval_seconds),
        concurrency=settings.probe_concurrency,
        timeout=settings.probe_timeout_seconds,
        port=settings.probe_port,
        allow_loopback=settings.probe_allow_loopback,
        nameservers=tuple(settings.nameservers),
        default_channel=settings.default_channel,
    )


@dataclass(frozen=True)
class Target:
    """One hostname to probe, and what the record says it should serve."""

    hostname: str
    environment_id: int
    environment: str
    cname_target: str  # the environment's default host
    certificate_id: int | None = None
    fingerprint: str | None = None
    not_after: dt.datetime | None = None
    dns_passed: bool = False  # the DNS check passed at assignment: check it again


@dataclass(frozen=True)
class Observation:
    hostname: str
    outcome: str
    detail: str | None = None
    served: judge_served.ServedLeaf | None = None
    address: str | None = None
    # The connection's result, kept so `certops probe --once --adopt` adopts what was
    # read here without dialling again (not part of the report's JSON).
    probe: ProbeResult | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        served = self.served
        return {
            "hostname": self.hostname,
            "outcome": self.outcome,
            "detail": self.detail,
            "address": self.address,
            "served_fingerprint": served.fingerprint_sha256 if served else None,
            "served_not_after": served.not_after.isoformat() if served else None,
            "served_subject": served.subject if served else None,
        }


@dataclass
class ProbeReport:
    probed: int = 0
    changed: int = 0
    posted: int = 0
    failed_posts: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    results: list[dict[str, Any]] = field(default_factory=list)
    # (target, observation, outcome stored) of every hostname probed, for `--adopt`.
    observed: list[tuple[Target, Observation, str]] = field(default_factory=list, repr=False)
    adopted: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "probed": self.probed,
            "changed": self.changed,
            "posted": self.posted,
            "failed_posts": self.failed_posts,
            "outcomes": dict(sorted(self.outcomes.items())),
            "results": self.results,
            **({"adopted": self.adopted} if self.adopted else {}),
        }


# -- what to probe --------------------------------------------------------------------------


def targets(ctx: ServiceContext, *, waiting_checks: bool = True) -> list[Target]:
    """Every hostname to probe, once each: current assignments first (their certificate is
    the recorded one), then each environment's default host and custom hostname.
    `waiting_checks` False leaves out the hostnames whose post-assignment check has not
    run yet (that check is their first probe)."""
    now = ctx.now()
    found: dict[str, Target] = {}
    skipped: set[str] = set()  # left to their own check: not even as a default host
    with ctx.session() as session:
        envs = {env.id: env for env in queries.environments(session)}
        waiting = set() if waiting_checks else _awaiting_check(session, now)
        for (
            host,
            env_id,
            cert_id,
            fingerprint,
            not_after,
            report,
        ) in queries.served_assignment_targets(session):
            env = envs.get(env_id)
            if env is None or host in found or host in skipped:
                continue
            if host in waiting:
                skipped.add(host)
                continue
            passed = isinstance(report, dict) and report.get("verdict") == VERDICT_OK
            found[host] = Target(
                host,
                env_id,
                env.name,
                env.default_host,
                cert_id,
                fingerprint,
                as_utc(not_after) if not_after else None,
                passed,
            )
        for env in envs.values():
            for host in (env.default_host, env.hostname):
                if host and host not in found and host not in skipped:
                    found[host] = Target(host, env.id or 0, env.name, env.default_host)
    return list(found.values())


def _awaiting_check(session: Any, now: dt.datetime) -> set[str]:
    """Hostnames of recent assignments whose post-assignment check is pending or not yet
    scheduled: that check is their first probe (probing now would see the old one)."""
    waiting: set[str] = set()
    for assignment in queries.assignments_without_check(session, now - TLS_CHECK_WINDOW):
        waiting.add(assignment.hostname)
    for check in queries.due_tls_checks(session, now + TLS_CHECK_WINDOW):
        pending = queries.assignment_by_id(session, check.assignment_id)
        if pending is not None and pending.state in CURRENT_ASSIGNMENT_STATES:
            waiting.add(pending.hostname)
    return waiting


# -- one hostname ---------------------------------------------------------------------------


def observe(ctx: ServiceContext, config: ProbeConfig, target: Target) -> Observation:
    """Resolve, check the CNAME if it passed at assignment, dial, read, judge. Never raises
    for anything the network or the served bytes do."""
    host = target.hostname
    address, failed = dial_address(config, host)
    if failed is not None:
        return failed
    if target.dns_passed:
        changed = _cname_failure(ctx, config, target)
        if changed:
            return Observation(host, judge_served.CNAME_CHANGED, changed, address=address)
    result = probe(host, port=config.port, timeout=config.timeout, address=address)
    return judge_probe(ctx, target, result)


def dial_address(config: ProbeConfig, host: str) -> tuple[str | None, Observation | None]:
    """The address of `host` the probe may dial (asked of the configured nameservers), or
    the outcome that says why there is none (`unresolvable`, `address_refused`)."""
    try:
        address = judge_served.resolve_address(
            host,
            config.nameservers,
            timeout=config.dns_timeout,
            allow_loopback=config.allow_loopback,
        )
    except judge_served.ServedProblem as problem:
        return None, Observation(host, problem.code, problem.message)
    return address, None


def check_served(config: ProbeConfig, host: str) -> tuple[ProbeResult, Observation | None]:
    """The five-minute check's connection, resolved and bounded as every probe is: the
    result, and the outcome when no address could be dialled."""
    address, failed = dial_address(config, host)
    if failed is not None:
        error = f"{failed.outcome}: {failed.detail}"
        return ProbeResult(host, host, config.port, error=error), failed
    return probe(host, port=config.port, timeout=config.timeout, address=address), None


def _cname_failure(ctx: ServiceContext, config: ProbeConfig, target: Target) -> str | None:
    """Why the DNS check fails now (it passed at assignment), or None."""
    from bot.services.dns import run_check

    try:
        run_check(
            ctx,
            target.hostname,
            target.cname_target,
            nameservers=list(config.nameservers) or None,
            timeout=config.dns_timeout,
        )
    except ServiceError as error:
        return error.message[:500]
    return None


def judge_probe(ctx: ServiceContext, target: Target, result: ProbeResult) -> Observation:
    """A probe's result judged against the record (the five-minute check uses it too)."""
    host = target.hostname
    if result.leaf_der is None:
        return Observation(
            host, judge_served.HANDSHAKE_FAILED, (result.error or "no certificate")[:500]
        )
    try:
        leaf = judge_served.served_leaf(judge_served.read_served_leaf(result.leaf_der, host))
    except judge_served.ServedProblem as problem:  # served_unreadable: no handshake to speak of
        return Observation(
            host, judge_served.HANDSHAKE_FAILED, problem.message, address=result.address
        )
    recorded = (
        judge_served.Recorded(target.fingerprint, target.not_after) if target.fingerprint else None
    )
    outcome = judge_served.judge(leaf, recorded)
    return Observation(host, outcome, None, leaf, result.address, probe=result)


# -- running the probe ----------------------------------------------------------------------


def run_probe(
    ctx: ServiceContext,
    config: ProbeConfig,
    *,
    every: bool = False,
    stopping: Callable[[], bool] = lambda: False,
) -> ProbeReport:
    """Probe the hostnames that are due (`every`: all of them now, as `certops probe
    --once` does), `config.concurrency` at a time, and record each outcome. Once
    `stopping()` is true no further connection starts. Posting is `post_changes`."""
    chosen = _take_due(ctx, config, targets(ctx, waiting_checks=False), ctx.now(), every)
    report = ProbeReport()
    if not chosen:
        return report
    workers = max(1, min(config.concurrency, len(chosen)))

    def one(target: Target) -> Observation | None:
        return None if stopping() else _observe_safely(ctx, config, target)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="certops-probe") as pool:
        observations = list(pool.map(one, chosen))
    done = [(t, o) for t, o in zip(chosen, observations, strict=True) if o is not None]
    for start in range(0, len(done), BATCH):
        with ctx.session() as session:
            for target, observation in done[start : start + BATCH]:
                changed, outcome = _record(session, ctx, config, target, observation)
                report.probed += 1
                report.changed += int(changed)
                report.outcomes[outcome] = report.outcomes.get(outcome, 0) + 1
                report.results.append(
                    {"environment": target.environment, **observation.to_dict(), "outcome": outcome}
                )
                report.observed.append((target, observation, outcome))
    return report


def record_adopted(
    ctx: ServiceContext, config: ProbeConfig, adopted: Sequence[tuple[Target, Observation]]
) -> None:
    """After `--adopt`: each adopted hostname's observation judged again against the record
    (which now holds what it serves: `ok`), the change said by the adoption (no post)."""
    with ctx.session() as session:
        for target, observation in adopted:
            _record(session, ctx, config, target, observation, reported=True)


def _observe_safely(ctx: ServiceContext, config: ProbeConfig, target: Target) -> Observation:
    try:
        return observe(ctx, config, target)
    except Exception as error:  # a bug must cost one hostname, not the run
        log.warning("probe of %s failed: %s", target.hostname, type(error).__name__)
        return Observation(target.hostname, judge_served.HANDSHAKE_FAILED, type(error).__name__)


BATCH = 200  # hostnames per transaction when taking and recording (row locks stay short)


def _take_due(
    ctx: ServiceContext, config: ProbeConfig, targets: list[Target], now: dt.datetime, every: bool
) -> list[Target]:
    """Claim this run's probes: the insert of a new hostname's row, or the compare-and-set
    on a due row's next_at. The rows are read in one query (the scheduler asks every
    tick), and written `BATCH` hostnames per transaction (SQLite commits cost a sync)."""
    with ctx.session() as session:
        known = {
            row.hostname: (row.id or 0, as_utc(row.next_at))
            for row in queries.served_probes(session)
        }
    wanted = [t for t in targets if t.hostname not in known or every or known[t.hostname][1] <= now]
    taken: list[Target] = []
    for start in range(0, len(wanted), BATCH):
        with ctx.session() as session:
            for target in wanted[start : start + BATCH]:
                seen = known.get(target.hostname)
                if seen is None:
                    row = ServedProbe(
                        hostname=target.hostname,
                        environment_id=target.environment_id,
                        next_at=now + (config.interval if every else FIRST_DELAY),
                    )
                    if queries.add_served_probe(session, row) is not None and every:
                        taken.append(target)
                elif queries.take_served_probe(session, seen[0], seen[1], now + config.interval):
                    taken.append(target)
    return taken


# Hosts under the platform's own domain serve OutSystems' certificate, which OutSystems
# renews: `not_recorded` there is what is expected (recorded, not posted), and
# `certops probe --once --adopt` does not take them in.
PLATFORM_DOMAIN = "outsystemsenterprise.com"


def is_platform_host(hostname: str) -> bool:
    return hostname == PLATFORM_DOMAIN or hostname.endswith("." + PLATFORM_DOMAIN)


def _record(
    session: Any,
    ctx: ServiceContext,
    config: ProbeConfig,
    target: Target,
    observation: Observation,
    *,
    reported: bool = False,
) -> tuple[bool, str]:
    """Store the hostname's latest outcome; (changed, the outcome stored). A first outcome
    other than `ok` is a change too; `not_recorded` becomes `ok` when the record holds
    the served certificate (by fingerprint). `reported`: the change is already said (the
    five-minute check's thread reply), so no post is made for it."""
    now = ctx.now()
    served = observation.served
    certificate_id = target.certificate_id
    outcome = observation.outcome
    if outcome == judge_served.NOT_RECORDED and served is not None:
        known = queries.certificate_by_fingerprint(session, served.fingerprint_sha256)
        if known is not None and str(known.status.value) in KNOWN_STATES:
            outcome, certificate_id = judge_served.OK, known.id  # held, not as this host's
    if outcome == judge_served.NOT_RECORDED and is_platform_host(target.hostname):
        reported = True  # OutSystems' own certificate, as expected: nothing to post
    row = queries.served_probe_of(session, target.hostname)
    if row is None:
        row = ServedProbe(hostname=target.hostname, next_at=now + config.interval)
    before = row.outcome
    changed = outcome != before and not (before is None and outcome == judge_served.OK)
    row.environment_id = target.environment_id
    row.certificate_id = certificate_id
    row.outcome = outcome
    row.detail = observation.detail
    row.served_fingerprint = served.fingerprint_sha256 if served else None
    row.served_not_after = served.not_after if served else None
    row.served_subject = served.subject if served else None
    row.checked_at = now
    if changed:
        row.change += 1
        row.changed_at = now
    if reported:
        row.reported = row.change
    session.add(row)
    if changed:
        session.flush()
        audit.record(
            session, ctx, SYSTEM, f"served_probe.{outcome}", row, before={"outcome": before}
        )
        log.info("%s: %s (was %s)", target.hostname, outcome, before or "never probed")
    return changed, outcome


def record_first_check(
    ctx: ServiceContext,
    assignment_id: int,
    result: ProbeResult,
    failed: Observation | None = None,
) -> None:
    """The five-minute check's outcome, as the first probe of its hostname (its thread
    reply reports it: no separate post). `failed`: no address could be dialled."""
    with ctx.session() as session:
        assignment = queries.assignment_by_id(session, assignment_id)
        if assignment is None:
            return
        env = queries.environment_by_id(session, assignment.environment_id)
        cert = queries.certificate_by_id(session, assignment.certificate_id)
        target = Target(
            assignment.hostname,
            env.id or 0,
            env.name,
            env.default_host,
            cert.id,
            cert.fingerprint_sha256,
            as_utc(cert.not_after) if cert.not_after else None,
            isinstance(assignment.dns_report, dict)
            and assignment.dns_report.get("verdict") == VERDICT_OK,
        )
    observation = failed or judge_probe(ctx, target, result)
    with ctx.session() as session:
        _record(session, ctx, ProbeConfig(), target, observation, reported=True)


# -- saying a change, once -----------------------------------------------------------------


@dataclass(frozen=True)
class ServedChange:
    """One change of outcome to post in an environment's channel."""

    hostname: str
    environment_id: int
    environment: str
    channel: str
    outcome: str
    change: int
    detail: str | None = None
    served_fingerprint: str | None = None
    served_not_after: dt.datetime | None = None
    served_subject: str | None = None
    certificate: str | None = None  # the recorded one (renew starts from it)
    domain: str | None = None
    claim_id: int | None = None

    @property
    def key(self) -> str:
        return f"{CLAIM_PREFIX}{self.hostname}:{self.change}"


class ServedPublisher(Protocol):
    def post_served(self, change: ServedChange) -> str: ...


def post_changes(
    ctx: ServiceContext,
    config: ProbeConfig,
    publisher: ServedPublisher,
    expiry_config: expiry.ExpiryConfig,
    pacer: expiry.ChannelPacer,
    report: ProbeReport | None = None,
) -> ProbeReport:
    """Post every change not said yet, each claimed so that exactly one replica posts it."""
    report = report or ProbeReport()
    scan = expiry.ScanReport()
    find = getattr(publisher, "find_warning", None)
    for change in _unreported(ctx, config):
        if expiry_config.held.closing:
            break
        if _already_posted(ctx, change):
            continue

        def send(claim_id: int, since: dt.datetime, change: ServedChange = change) -> str:
            claimed = dataclasses.replace(change, claim_id=claim_id)
            return expiry.publish_settled(
                lambda: publisher.post_served(claimed), find, change.channel, claim_id, since
            )

        ts = expiry.post_claimed(
            ctx,
            expiry_config,
            expiry.ClaimKey(None, change.key, change.channel),
            pacer,
            send,
            scan,
            label=change.key,
            action="served_probe.posted",
        )
        if ts is not None:
            _mark_reported(ctx, change)
            report.posted += 1
    report.failed_posts += scan.failed
    return report


def _unreported(ctx: ServiceContext, config: ProbeConfig) -> list[ServedChange]:
    out: list[ServedChange] = []
    with ctx.session() as session:
        for row in queries.unreported_served_changes(session):
            env = (
                queries.environment_by_id(session, row.environment_id)
                if row.environment_id
                else None
            )
            channel = (env.channel if env else None) or config.default_channel
            if env is None or not channel or row.outcome is None:
                queries.mark_served_reported(session, row.id or 0, row.change)  # nowhere to say it
                continue
            cert = (
                queries.certificate_by_id(session, row.certificate_id)
                if row.certificate_id
                else None
            )
            out.append(
                ServedChange(
                    row.hostname,
                    env.id or 0,
                    env.name,
                    channel,
                    row.outcome,
                    row.change,
                    row.detail,
                    row.served_fingerprint,
                    as_utc(row.served_not_after) if row.served_not_after else None,
                    row.served_subject,
                    cert.name if cert else None,
                    cert.domain if cert else None,
                )
            )
    return out


def _already_posted(ctx: ServiceContext, change: ServedChange) -> bool:
    """A replica posted this change and stopped before marking it: mark it now."""
    with ctx.session() as session:
        note = queries.notification_for(session, None, change.key, change.channel)
        posted = note is not None and note.posted_at is not None
    if posted:
        _mark_reported(ctx, change)
    return posted


def _mark_reported(ctx: ServiceContext, change: ServedChange) -> None:
    with ctx.session() as session:
        row = queries.served_probe_of(session, change.hostname)
        if row is not None:
            queries.mark_served_reported(session, row.id or 0, change.change)


# -- the "Run the DNS check" button ------------------------------------------------------


def dns_check_of(
    ctx: ServiceContext, config: ProbeConfig, hostname: str, environment: str | int
) -> tuple[Any, str]:
    """The DNS check of `hostname` against its environment's default host (the button
    "Run the DNS check", naming the environment by id or name): the report, misconfigured
    included, and the environment's name."""
    from bot.services.dns import run_check

    with ctx.session() as session:
        env = queries.environment_by_id_or_name(session, environment)
        target, name = env.default_host, env.name
    if hostname == target:
        raise ServiceError(
            "invalid_input", f"{hostname} is the environment's default host: no CNAME to check"
        )
    report = run_check(
        ctx,
        hostname,
        target,
        nameservers=list(config.nameservers) or None,
        timeout=config.dns_timeout,
        refuse_misconfigured=False,
    )
    return report, name
