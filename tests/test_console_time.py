"""Console mode: `/time` moves the services' clock and the scheduler scans at once, so
expiry warnings, snooze ends, renewal offers and the TLS check after an assignment show
as the bot posts them, and their buttons answer in the thread."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import create_client
from bot.console.commands import parse_time
from bot.console.session import ConsoleSession, open_session
from bot.scheduler import build_jobs
from bot.services import environments
from bot.services.context import ServiceContext
from bot.services.tls_check import TlsCheckConfig
from bot.settings import Settings
from storage.db import Database
from tests.support.dns_server import DnsServer
from tests.support.slack_fixtures import RECORDS, PkiSet, add_env, make_pki, submit
from tests.support.tls_server import TlsServer


@pytest.fixture(scope="module")
def pki() -> PkiSet:
    return make_pki()


@pytest.fixture
def database(sqlite_url: str) -> Iterator[Database]:
    database = Database(sqlite_url)
    yield database
    database.dispose()


def button_number(text: str, label: str) -> int:
    found = re.findall(rf"(\d+)\) {re.escape(label)}(?:  |\s*\(type)", text)
    assert found, f"no button {label!r} in:\n{text}"
    return int(found[-1])


def line(session: ConsoleSession, text: str) -> str:
    out = session.handle_line(text)
    assert out is not None
    return out


def test_time_shows_the_warning_and_snooze_answers_in_its_thread(
    sqlite_url: str, database: Database, pki: PkiSet
) -> None:
    ctx = ServiceContext(database=database, extra_roots=[pki.root.cert])
    submit(ctx, pki, "short", pki.intermediate.leaf(sans=["shop.example.com"], days=40))
    settings = Settings(database_url=sqlite_url)
    with open_session(settings, user_id="U0ME", services=ctx) as s:
        quiet = line(s, "/time +1d")
        warned = line(s, "/time +25d")
        (warning,) = s.api.calls("chat.postMessage")
        snoozed = line(s, f"/click {button_number(warned, 'Snooze 1 day')}")
        reply = s.api.calls("chat.postMessage")[-1]
        silent = line(s, "/time +12h")  # still snoozed
        reminded = line(s, "/time +1d")  # the snooze has ended
        back = line(s, "/time now")
        services_now = s.deps.services.now()
    assert "The scheduler scanned: nothing to post." in quiet
    assert "(26.0 days ahead of the real time)" in warned
    assert "[#C0CONSOLE]" in warned and "Certificate *short* expires in" in warned
    assert "Snooze 1 day" in warned and "(type /click N)" in warned
    # Clicking Snooze answers in the warning's thread, as the person who clicked.
    assert "[#C0CONSOLE, in the thread]" in snoozed and "Snoozed by @U0ME until" in snoozed
    assert reply.params["thread_ts"] == warning.answer["ts"]
    assert "nothing to post" in silent
    assert "[#C0CONSOLE, in the thread]" in reminded
    assert "Snooze over: certificate *short*" in reminded and "Snooze 1 day" in reminded
    assert "(the real time)" in back
    assert abs(services_now - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)


def test_the_tls_check_and_the_renewal_offer_show_when_their_time_comes(
    sqlite_url: str, database: Database, pki: PkiSet, tmp_path: Path
) -> None:
    ctx = ServiceContext(database=database, extra_roots=[pki.root.cert])
    submit(ctx, pki, "shop")
    add_env(ctx)
    settings = Settings(database_url=sqlite_url)
    zones = ["example.com", "outsystemsenterprise.com"]
    with (
        DnsServer(RECORDS, zones=zones) as dns,
        TlsServer(tmp_path) as endpoint,
        open_session(
            settings,
            user_id="U0BOSS",
            admin=True,
            services=dataclasses.replace(ctx, default_nameservers=[dns.address]),
        ) as s,
    ):
        endpoint.serve(pki.shop)
        # The endpoint: the loopback TLS server, never the host's resolver.
        config = TlsCheckConfig(
            port=endpoint.port,
            resolve=lambda _host: "127.0.0.1",
            timeout=5,
            default_channel=s.settings.default_channel,
        )
        s.jobs = build_jobs(
            s.settings, s.deps.services, create_client(s.settings), tls_config=config
        )
        asked = line(s, "/cert assign shop dev shop.example.com")
        assigned = line(s, f"/click {button_number(asked, 'I have created the CNAME: assign')}")
        early = line(s, "/time +2m")
        checked = line(s, "/time +4m")
        warned = line(s, "/time +80d")
        submit(ctx, pki, "shop-renewal", pki.shop_renewal, renews="shop")
        offered = line(s, "/time +1h")
        renewed = line(s, f"/click {button_number(offered, 'Renew now')}")
        current = environments.show_environment(s.deps.services, "dev").current
    assert "assigned *shop* to *dev* as *shop.example.com*" in assigned
    assert "nothing to post" in early  # the endpoint takes five minutes to change
    assert "[#C0CONSOLE, in the thread]" in checked
    assert "shop.example.com serves *shop* on dev" in checked
    assert endpoint.sni == ["shop.example.com"]
    assert "Certificate *shop* expires in" in warned
    assert "[#C0CONSOLE, message updated]" in offered and "renewed by *shop-renewal*" in offered
    assert "[#C0CONSOLE, in the thread]" in offered and "Renew now" in offered
    assert "renewed *shop* with *shop-renewal*" in renewed
    assert current is not None and current.certificate == "shop-renewal"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+30d", dt.timedelta(days=30)),
        ("+12h", dt.timedelta(hours=12)),
        ("+45m", dt.timedelta(minutes=45)),
        ("-1d", dt.timedelta(days=-1)),
        ("now", None),
        ("NOW", None),
        ("2027-01-10", dt.datetime(2027, 1, 10, tzinfo=dt.UTC)),
        ("2027-01-10T09:30", dt.datetime(2027, 1, 10, 9, 30, tzinfo=dt.UTC)),
        ("2027-01-10T09:30+02:00", dt.datetime(2027, 1, 10, 7, 30, tzinfo=dt.UTC)),
    ],
)
def test_time_values(text: str, expected: object) -> None:
    assert parse_time(text) == expected


def test_bad_time_values_are_one_line_and_leave_the_clock_alone(sqlite_url: str) -> None:
    with open_session(Settings(database_url=sqlite_url)) as s:
        answers = [
            line(s, f"/time {value}")
            for value in ("", "soon", "+5x", "2027-13-01", "+3w", "+999999d")
        ]
        far = line(s, "/time +99999d")
        back = line(s, "/time -99999m")  # 69 days: allowed, and back again
        past = line(s, "/time -99999d")
        ancient = line(s, "/time 1900-01-01")
        s.handle_line("/time now")
        assert s.clock.shift == dt.timedelta(0)
        assert [c for c in s.api.calls() if c.method != "auth.test"] == []
    for answer in answers:
        assert answer.startswith(("Type /time", "Cannot read")) and "\n" not in answer
        assert "/time +30d" in answer
    assert far == past == ancient
    assert far == "That is more than 100 years from today: pick a nearer time."
    assert "(69.4 days behind the real time)" in back
