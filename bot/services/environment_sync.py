"""Environments from LifeTime (issue 17): `certops env sync` and `/cert env sync`.

LifeTime knows the environments; typing them in by hand drifts. A sync reads LifeTime's
list (bot/pipeline/lifetime_api.py) and brings the record in line: an environment is found
again by its LifeTime key, else (the first time) by its default host, and created or
updated with its name, default host, type and key. LifeTime itself is recorded too, as
the LifeTime environment (its certificate changes only by support ticket,
bot/services/tickets.py), at the host of the URL that was asked.

Never a deletion: an environment LifeTime no longer lists keeps its record, its
certificate and its history, and is reported; so is one recorded by hand that LifeTime
does not list. A name LifeTime gives that another environment already has is reported,
not taken. `dry_run` plans the same and writes nothing. The summary has one renderer
(`summary_lines`), shared by the terminal and Slack.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.pipeline.lifetime_api import (
    DEFAULT_TIMEOUT,
    LifetimeEnvironment,
    LifetimeError,
    LifetimeTarget,
    list_environments,
    parse_url,
)
from bot.services import audit
from bot.services.actors import Actor
from bot.services.context import ServiceContext
from bot.services.environments import ENV_NAME_MAX, check_name
from bot.services.errors import ServiceError
from bot.services.names import fit_name
from bot.settings import Settings
from storage import queries
from storage.models import Environment

if TYPE_CHECKING:
    from cryptography import x509

log = logging.getLogger(__name__)

LIFETIME_NAME = "LifeTime"
# LifetimeError.code -> the service's refusal code (a public contract, bot/services/errors.py).
_CODES = {
    "unauthorized": "lifetime_refused",
    "forbidden": "lifetime_refused",
    "no_environments": "lifetime_no_environments",
    "not_found": "lifetime_not_found",
    "bad_answer": "lifetime_bad_answer",
    "invalid_url": "invalid_input",
}
# How the fields are named in a summary and in `--json`.
_LABELS = {
    "name": "name",
    "default_host": "default host",
    "environment_type": "type",
    "lifetime_id": "LifeTime key",
    "is_lifetime": "LifeTime",
}
_JSON_FIELDS = {"lifetime_id": "lifetime_key"}


@dataclass(frozen=True)
class Change:
    field: str
    old: str | bool | None
    new: str | bool | None

    def to_dict(self) -> dict[str, Any]:
        return {"field": _JSON_FIELDS.get(self.field, self.field), "old": self.old, "new": self.new}


@dataclass(frozen=True)
class SyncEntry:
    """One environment in the summary: as recorded (or to be), what changed, why not."""

    name: str
    default_host: str
    environment_type: str | None = None
    lifetime_key: str | None = None
    is_lifetime: bool = False
    changes: tuple[Change, ...] = ()
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "default_host": self.default_host,
            "environment_type": self.environment_type,
            "lifetime_key": self.lifetime_key,
            "is_lifetime": self.is_lifetime,
        }
        if self.changes:
            data["changes"] = [c.to_dict() for c in self.changes]
        if self.note:
            data["note"] = self.note
        return data


@dataclass(frozen=True)
class SyncResult:
    lifetime: str  # the base URL asked (no credentials: there never are any in it)
    listed: int
    dry_run: bool
    added: tuple[SyncEntry, ...] = ()
    changed: tuple[SyncEntry, ...] = ()
    unchanged: tuple[SyncEntry, ...] = ()
    gone: tuple[SyncEntry, ...] = ()  # from LifeTime before, not listed now: kept
    not_in_lifetime: tuple[SyncEntry, ...] = ()  # recorded by hand, not listed: kept
    skipped: tuple[SyncEntry, ...] = ()  # listed, but left alone (a name conflict)

    def to_dict(self) -> dict[str, Any]:
        groups = ("added", "changed", "unchanged", "gone", "not_in_lifetime", "skipped")
        data: dict[str, Any] = {"lifetime": self.lifetime, "listed": self.listed}
        data["dry_run"] = self.dry_run
        for group in groups:
            data[group] = [entry.to_dict() for entry in getattr(self, group)]
        return data


# --- where to ask ----------------------------------------------------------------------


def lifetime_target(
    settings: Settings,
    url: str | None = None,
    *,
    timeout: float | None = None,
    extra_roots: Sequence[x509.Certificate] = (),
) -> LifetimeTarget:
    """LifeTime's address (`url`, else CERTOPS_LIFETIME_URL), the token from the settings,
    the roots (`extra_roots`: the context's, which hold CERTOPS_TRUST_STORE's, read once
    by bot/trust_roots.py), or a refusal saying what is missing.
    The CLI, Slack and `certops doctor` all ask LifeTime through this."""
    where = url or settings.lifetime_url
    if not where:
        raise ServiceError(
            "lifetime_not_configured",
            "no LifeTime URL: set CERTOPS_LIFETIME_URL (certops env sync also takes --lifetime URL)",
        )
    try:
        base, host, port = parse_url(where)
    except LifetimeError as error:
        raise ServiceError("invalid_input", error.message) from None
    if not settings.lifetime_api_token:
        raise ServiceError(
            "lifetime_not_configured",
            "LIFETIME_API_TOKEN is not set: create a LifeTime service account and put its "
            "token in the environment or .env (never on the command line)",
        )
    address = settings.lifetime_address
    if address is not None:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise ServiceError(
                "invalid_input", "CERTOPS_LIFETIME_ADDRESS must be an IP address"
            ) from None
    return LifetimeTarget(
        base_url=base,
        host=host,
        port=port,
        token=settings.lifetime_api_token,
        extra_roots=tuple(extra_roots),
        connect_address=address,
        timeout=timeout or DEFAULT_TIMEOUT,
    )


def read_lifetime(target: LifetimeTarget) -> list[LifetimeEnvironment]:
    """LifeTime's environments, or a refusal with one line (its `reason` in the details)."""
    try:
        return list_environments(target)
    except LifetimeError as error:
        code = _CODES.get(error.code, "lifetime_unreachable")
        raise ServiceError(code, error.message, {"reason": error.code}) from None


# --- the sync ---------------------------------------------------------------------------


@dataclass
class _Want:
    """One environment as LifeTime says it should be recorded."""

    name: str | None  # None: keep the record's own name (LifeTime itself, not listed)
    default_host: str
    environment_type: str | None
    lifetime_id: str | None
    is_lifetime: bool


def environment_name(text: str) -> str:
    """LifeTime's name for an environment as a record name (`/cert assign` types it):
    as it is when it fits the rule, else made to fit (`Dev (EU)` -> `Dev-EU`)."""
    try:
        return check_name(text)
    except ServiceError:
        return fit_name(text, limit=ENV_NAME_MAX, fallback="environment")


def _wanted(listed: Sequence[LifetimeEnvironment], lifetime_host: str) -> list[_Want]:
    """What LifeTime says, LifeTime itself first (so it claims the LifeTime record)."""
    ordered = sorted(listed, key=lambda e: (e.order if e.order is not None else 2**31, e.name))
    wants = [
        _Want(
            environment_name(env.name),
            env.host_name,
            env.environment_type,
            env.key,
            env.host_name == lifetime_host,
        )
        for env in ordered
    ]
    if not any(want.is_lifetime for want in wants):
        wants.append(_Want(None, lifetime_host, None, None, True))
    wants.sort(key=lambda want: not want.is_lifetime)
    return wants


def _match(want: _Want, free: list[Environment], listed_ids: set[str]) -> Environment | None:
    """The record this environment is: same key; for LifeTime the LifeTime record; else
    (first sync of one recorded by hand) the same default host."""
    if want.lifetime_id is not None:
        for row in free:
            if row.lifetime_id == want.lifetime_id:
                return row
    if want.is_lifetime:
        for row in free:
            if row.is_lifetime:
                return row
    for row in free:
        if row.lifetime_id in listed_ids:
            continue  # another listed environment's record: found by its key
        if want.default_host == row.default_host or (
            want.is_lifetime and want.default_host == row.hostname
        ):
            return row
    return None


def _changes(want: _Want, row: Environment) -> list[Change]:
    changes: list[Change] = []
    if want.name is not None and want.name != row.name:
        changes.append(Change("name", row.name, want.name))
    same_host = want.default_host == row.default_host or (
        want.lifetime_id is None and want.default_host == row.hostname
    )
    if not same_host:
        changes.append(Change("default_host", row.default_host, want.default_host))
    if want.lifetime_id is not None:
        if want.environment_type != row.environment_type:
            changes.append(Change("environment_type", row.environment_type, want.environment_type))
        if want.lifetime_id != row.lifetime_id:
            changes.append(Change("lifetime_id", row.lifetime_id, want.lifetime_id))
    if want.is_lifetime and not row.is_lifetime:
        changes.append(Change("is_lifetime", False, True))
    return changes


def _entry(
    row: Environment | _Want, name: str, changes: Sequence[Change] = (), note: str = ""
) -> SyncEntry:
    return SyncEntry(
        name=name,
        default_host=row.default_host,
        environment_type=row.environment_type,
        lifetime_key=row.lifetime_id,
        is_lifetime=row.is_lifetime,
        changes=tuple(changes),
        note=note,
    )


@dataclass
class _Plan:
    adds: list[_Want] = field(default_factory=list)
    updates: list[tuple[Environment, list[Change]]] = field(default_factory=list)
    unchanged: list[SyncEntry] = field(default_factory=list)
    skipped: list[SyncEntry] = field(default_factory=list)
    notes: dict[int, str] = field(default_factory=dict)  # row id -> why a field was kept


def _plan(rows: Sequence[Environment], wants: Sequence[_Want]) -> tuple[_Plan, list[Environment]]:
    """Who is who and what changes; also the records LifeTime does not list."""
    plan = _Plan()
    free = list(rows)
    names = {row.name for row in rows}
    listed_ids = {want.lifetime_id for want in wants if want.lifetime_id is not None}
    for want in wants:
        row = _match(want, free, listed_ids)
        if row is None:
            name = want.name or LIFETIME_NAME
            if name in names:
                note = f"not added: the name {name} is taken by another environment"
                plan.skipped.append(_entry(want, name, note=note))
                continue
            want.name = name
            names.add(name)
            plan.adds.append(want)
            continue
        free.remove(row)
        changes = _changes(want, row)
        for change in [c for c in changes if c.field == "name"]:
            if change.new in names:
                changes.remove(change)
                plan.notes[row.id or 0] = (
                    f"kept its name: {change.new} is taken by another environment"
                )
            else:
                names.discard(row.name)
                names.add(str(change.new))
        if changes:
            plan.updates.append((row, changes))
        else:
            plan.unchanged.append(_entry(row, row.name, note=plan.notes.get(row.id or 0, "")))
    return plan, free


def sync_environments(
    ctx: ServiceContext,
    actor: Actor,
    target: LifetimeTarget,
    *,
    dry_run: bool = False,
) -> SyncResult:
    """Read LifeTime and bring the environments in line (or, `dry_run`, say how)."""
    actor.require_admin("sync environments from LifeTime")
    listed = read_lifetime(target)
    wants = _wanted(listed, target.host)
    with ctx.session() as session:
        rows = list(queries.environments(session))
        plan, unlisted = _plan(rows, wants)
        added = [_entry(want, want.name or LIFETIME_NAME) for want in plan.adds]
        changed = []
        for row, changes in plan.updates:
            after = {change.field: change.new for change in changes}
            note = plan.notes.get(row.id or 0, "")
            changed.append(
                SyncEntry(
                    name=str(after.get("name", row.name)),
                    default_host=str(after.get("default_host", row.default_host)),
                    environment_type=after.get("environment_type", row.environment_type),  # type: ignore[arg-type]
                    lifetime_key=after.get("lifetime_id", row.lifetime_id),  # type: ignore[arg-type]
                    is_lifetime=bool(after.get("is_lifetime", row.is_lifetime)),
                    changes=tuple(changes),
                    note=note,
                )
            )
        if not dry_run:
            _apply(session, ctx, actor, plan)
    gone = [
        _entry(row, row.name, note="LifeTime no longer lists it; kept")
        for row in unlisted
        if row.lifetime_id is not None
    ]
    by_hand = [
        _entry(row, row.name, note="recorded by hand; LifeTime does not list it")
        for row in unlisted
        if row.lifetime_id is None
    ]
    result = SyncResult(
        lifetime=target.base_url,
        listed=len(listed),
        dry_run=dry_run,
        added=tuple(added),
        changed=tuple(changed),
        unchanged=tuple(plan.unchanged),
        gone=tuple(gone),
        not_in_lifetime=tuple(by_hand),
        skipped=tuple(plan.skipped),
    )
    log.info(
        "env sync from %s by %s%s: %d added, %d changed, %d left alone, %d gone, %d skipped",
        target.base_url,
        actor.user_id,
        " (dry run)" if dry_run else "",
        len(added),
        len(changed),
        len(plan.unchanged),
        len(gone),
        len(plan.skipped),
    )
    return result


def _apply(session: Any, ctx: ServiceContext, actor: Actor, plan: _Plan) -> None:
    for row, changes in plan.updates:
        before = queries.snapshot(row)
        for change in changes:
            setattr(row, change.field, change.new)
        session.add(row)
        audit.record(session, ctx, actor, "environment.sync_update", row, before=before)
    for want in plan.adds:
        row = Environment(
            name=want.name or LIFETIME_NAME,
            default_host=want.default_host,
            is_lifetime=want.is_lifetime,
            lifetime_id=want.lifetime_id,
            environment_type=want.environment_type,
            created_at=ctx.now(),
        )
        queries.add_environment(session, row)
        audit.record(session, ctx, actor, "environment.sync_add", row)


# --- the summary: one renderer for the terminal and Slack ------------------------------


def _same(text: str) -> str:
    return text


def _value(value: str | bool | None) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


def _describe(entry: SyncEntry, esc: Callable[[str], str]) -> str:
    parts = [esc(entry.default_host)]
    if entry.environment_type:
        parts.append(esc(entry.environment_type))
    if entry.lifetime_key:
        parts.append(f"key {esc(entry.lifetime_key)}")
    if entry.is_lifetime:
        parts.append("the LifeTime environment: its certificate changes only by support ticket")
    return ", ".join(parts)


def summary_lines(result: SyncResult, escape: Callable[[str], str] = _same) -> list[str]:
    """The summary as lines: `escape` makes each value safe where it is shown (Slack's
    mrkdwn escaping there, nothing on a terminal)."""
    esc = escape
    would = result.dry_run
    head = f"LifeTime {esc(result.lifetime)} lists {result.listed} environment" + (
        "" if result.listed == 1 else "s"
    )
    lines = [head + (" (dry run: nothing was written)." if would else ".")]

    def group(title: str, entries: Sequence[SyncEntry], line: Callable[[SyncEntry], str]) -> None:
        if entries:
            lines.append(f"{title} ({len(entries)}):")
            lines.extend(f"  {line(entry)}" for entry in entries)

    def with_note(entry: SyncEntry, text: str) -> str:
        return f"{text} ({esc(entry.note)})" if entry.note else text

    group(
        "Would add" if would else "Added",
        result.added,
        lambda e: f"+ {esc(e.name)}: {_describe(e, esc)}",
    )
    group(
        "Would change" if would else "Changed",
        result.changed,
        lambda e: with_note(
            e,
            f"~ {esc(e.name)}: "
            + "; ".join(
                f"{_LABELS[c.field]}: {esc(_value(c.old))} → {esc(_value(c.new))}"
                for c in e.changes
            ),
        ),
    )
    group("Left alone", result.unchanged, lambda e: with_note(e, f"= {esc(e.name)}"))
    group(
        "Gone from LifeTime, kept",
        result.gone,
        lambda e: with_note(e, f"- {esc(e.name)} ({esc(e.default_host)})"),
    )
    group(
        "Not in LifeTime, kept",
        result.not_in_lifetime,
        lambda e: with_note(e, f"- {esc(e.name)} ({esc(e.default_host)})"),
    )
    group(
        "Not synced",
        result.skipped,
        lambda e: with_note(e, f"! {esc(e.name)} ({esc(e.default_host)})"),
    )
    if not (result.added or result.changed):
        lines.append("Nothing to change.")
    return lines
