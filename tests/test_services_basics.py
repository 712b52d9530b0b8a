"""The small parts: admins from settings, the clock tests control, the error contract."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.services.actors import Actor, actor_for, terminal_actor
from bot.services.clock import ManualClock, as_utc, utc_now
from bot.services.errors import CODES, NotAdmin, ServiceError
from bot.settings import load


def test_admins_come_from_the_setting() -> None:
    settings = load({"CERTOPS_ADMINS": "U1, U2;U3"}, dotenv=False)
    assert actor_for("U2", settings) == Actor("U2", True)
    assert actor_for("U9", settings) == Actor("U9", False)
    assert terminal_actor().is_admin
    with pytest.raises(NotAdmin) as caught:
        actor_for("U9", settings).require_admin("approve certificates")
    assert caught.value.code == "not_admin" and "approve certificates" in caught.value.message
    actor_for("U1", settings).require_admin("approve certificates")  # no error


def test_manual_clock_moves_only_when_told() -> None:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    clock = ManualClock(start)
    assert clock() == start and clock() == start
    assert clock.advance(minutes=5) == start + dt.timedelta(minutes=5)
    assert utc_now().tzinfo is dt.UTC
    assert as_utc(dt.datetime(2026, 1, 1)) == start


def test_error_codes_are_a_closed_list() -> None:
    error = ServiceError("name_taken", "taken", {"extra": 1})
    assert error.to_dict() == {"ok": False, "code": "name_taken", "message": "taken", "extra": 1}
    with pytest.raises(ValueError):
        ServiceError("no_such_code", "x")
    for code in (
        "not_admin",
        "certificate_not_assignable",
        "hostname_not_covered",
        "cname_not_confirmed",
        "dns_misconfigured",
        "lifetime_needs_ticket",
        "invalid_transition",
        "not_found",
        "database_unavailable",
        "name_taken",
    ):
        assert code in CODES
