"""The "Adopt" button (action `served_adopt`) through the Slack harness: signed requests
to the Bolt app, the Web API stand-in, the loopback DNS server and a real TLS server on
127.0.0.2. Then the adopted certificate in `/cert list`, `/cert show`, the App Home and
an expiry warning that says how an observed certificate is renewed."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest

from bot.services import environments, expiry
from bot.services.actors import Actor
from bot.services.clock import ManualClock
from bot.services.expiry import ChannelPacer, ExpiryConfig
from bot.services.expiry_thresholds import from_settings
from handlers.common.ids import ServedAction
from handlers.served.blocks import adopt_button, adopt_value
from handlers.served.listeners import MALFORMED
from handlers.warnings.publisher import SlackPublisher, warning_client
from storage import queries
from tests.support.dns_server import DnsServer
from tests.support.slack_fixtures import ENV_HOST, PkiSet, make_pki
from tests.support.slack_harness import ADMIN, USER, SlackHarness, slack_harness
from tests.support.tls_server import TlsServer

SERVER = "127.0.0.2"
HOST = "shop.example.com"
RECORDS = {HOST: [("CNAME", ENV_HOST + ".", 300)], ENV_HOST: [("A", SERVER, 60)]}
CONFIG = ExpiryConfig(from_settings((30, 14, 7, 3, 1, 0), ()), "C0DEFAULT", "test")


@pytest.fixture(scope="module")
def pki() -> PkiSet:
    return make_pki()


@pytest.fixture(scope="module")
def dns() -> Iterator[DnsServer]:
    with DnsServer(RECORDS, zones=["example.com", "outsystemsenterprise.com"]) as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, pki: PkiSet) -> Iterator[TlsServer]:
    with TlsServer(tmp_path_factory.mktemp("served-slack"), SERVER) as tls:
        tls.serve(pki.shop)
        yield tls


@pytest.fixture
def slack(sqlite_url: str, dns: DnsServer, server: TlsServer) -> Iterator[SlackHarness]:
    with slack_harness(
        sqlite_url,
        nameservers=[dns.address],
        probe_port=server.port,
        probe_allow_loopback=True,
    ) as h:
        environments.add_environment(
            h.deps.services, Actor(ADMIN, True), "dev", default_host=ENV_HOST, channel="C0DEV"
        )
        yield h


def probe_post(slack: SlackHarness, env_id: int) -> str:
    """The probe's post in the environment's channel, with its Adopt button (as the
    periodic probe posts it); returns its ts."""
    client = warning_client(slack.settings)
    posted = client.chat_postMessage(
        channel="C0DEV",
        text=f"{HOST} serves another certificate",
        blocks=[{"type": "actions", "elements": [adopt_button(HOST, env_id)]}],
    )
    return str(posted["ts"])


def env_id(slack: SlackHarness) -> int:
    with slack.deps.services.session() as session:
        return queries.environment(session, "dev").id or 0


def test_adopt_button_records_and_answers_in_the_thread(
    slack: SlackHarness, server: TlsServer, pki: PkiSet
) -> None:
    ts = probe_post(slack, env_id(slack))
    value = adopt_value(HOST, env_id(slack))

    # Not an admin: refused to the person only, nothing recorded.
    refused = slack.click_in_channel(ServedAction.ADOPT, USER, value=value, channel="C0DEV", ts=ts)
    assert "admin" in refused.texts()[0] and not refused.of("chat.postMessage")
    assert environments.show_environment(slack.deps.services, "dev").current is None

    done = slack.click_in_channel(ServedAction.ADOPT, ADMIN, value=value, channel="C0DEV", ts=ts)
    (reply,) = done.of("chat.postMessage")
    assert reply.params["channel"] == "C0DEV" and reply.params["thread_ts"] == ts
    said = json.dumps(reply.blocks)
    assert "adopted what shop.example.com serves" in said and "Observed" in said
    assert "Next warning" in said and pki.shop.cert.fingerprint is not None
    env = environments.show_environment(slack.deps.services, "dev")
    assert env.current is not None and env.current.hostname == HOST
    name = env.current.certificate

    again = slack.click_in_channel(ServedAction.ADOPT, ADMIN, value=value, channel="C0DEV", ts=ts)
    assert "already has" in json.dumps(again.of("chat.postMessage")[0].blocks)

    listing = slack.command("list", ADMIN)
    assert f"*{name}*" in listing.all_text and "observed" in listing.all_text
    shown = slack.command(f"show {name}", ADMIN)
    assert "observed" in shown.all_text and "no key" in shown.all_text
    home = slack.open_home(ADMIN)
    assert "observed" in home.all_text


def test_malformed_and_retryable_clicks(slack: SlackHarness, server: TlsServer) -> None:
    ts = probe_post(slack, env_id(slack))
    for value in ("not json", json.dumps({"hostname": "x" * 300, "environment_id": 1}), "{" * 3000):
        bad = slack.click_in_channel(ServedAction.ADOPT, ADMIN, value=value, channel="C0DEV", ts=ts)
        assert MALFORMED in bad.all_text
    server.raw = "silent"
    try:
        value = adopt_value(HOST, env_id(slack))
        failed = slack.click_in_channel(
            ServedAction.ADOPT, ADMIN, value=value, channel="C0DEV", ts=ts
        )
    finally:
        server.raw = None
    (answer,) = failed.responses
    assert "o certificate could be read from shop.example.com" in failed.all_text
    assert ServedAction.ADOPT.value in json.dumps(answer.blocks)  # "Try again"
    assert environments.show_environment(slack.deps.services, "dev").current is None


def test_expiry_warning_of_an_adopted_certificate(slack: SlackHarness, pki: PkiSet) -> None:
    ts = probe_post(slack, env_id(slack))
    value = adopt_value(HOST, "dev")  # by name works too
    slack.click_in_channel(ServedAction.ADOPT, ADMIN, value=value, channel="C0DEV", ts=ts)
    ctx = slack.deps.services
    ctx.clock = ManualClock(pki.shop.cert.not_valid_after_utc - dt.timedelta(days=10))
    publisher = SlackPublisher(warning_client(slack.settings))
    assert expiry.run_scan(ctx, publisher, CONFIG, ChannelPacer(0.0)).posted == 1
    (warning,) = [
        c for c in slack.api.calls("chat.postMessage") if "expires" in str(c.params.get("text"))
    ]
    said = json.dumps(warning.blocks)
    assert warning.params["channel"] == "C0DEV" and HOST in said
    assert "Observed certificate" in said and "with its key" in said


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('{"hostname":"a.example.com","environment_id":3}', ("a.example.com", 3)),
        ('{"hostname":"a.example.com","environment_id":"3"}', ("a.example.com", 3)),
        ('{"hostname":"a.example.com","environment":"dev"}', ("a.example.com", "dev")),
        ('{"hostname":"a.example.com","environment_id":true}', None),
        ('{"hostname":"a.example.com","environment_id":0}', None),
        ('{"hostname":"a.example.com"}', None),
        ('{"hostname":7,"environment":"dev"}', None),
        ('["a.example.com","dev"]', None),
        ('{"hostname":"a.example.com","environment":"' + "d" * 300 + '"}', None),
        ('{"hostname":"a.example.com","environment":"dev","pad":"' + "x" * 2000 + '"}', None),
    ],
)
def test_the_button_value_is_read_bounded(value: str, expected: object) -> None:
    from handlers.common.payloads import served_target

    assert served_target({"actions": [{"value": value}]}) == expected
    assert served_target({"actions": []}) is None and served_target({}) is None
