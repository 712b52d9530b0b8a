"""The whole renewal, end to end with real certificates: a warning in the environment's
channel, the renewal submitted, the warning updated to *renewed*, the one-step offer in
its thread clicked by an admin, the new certificate in place, and no more warnings."""

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
from handlers.common.ids import AssignId
from handlers.warnings.publisher import SlackPublisher, warning_client
from tests.support.dns_server import DnsServer
from tests.support.slack_fixtures import ENV_HOST, PkiSet, make_pki, submit
from tests.support.slack_harness import ADMIN, SlackHarness, slack_harness

RECORDS = {
    "shop.example.com": [("CNAME", ENV_HOST + ".", 300)],
    ENV_HOST: [("A", "192.0.2.10", 60)],
}
CONFIG = ExpiryConfig(from_settings((30, 14, 7, 3, 1, 0), ()), "C0DEFAULT", "test")


@pytest.fixture(scope="module")
def pki() -> PkiSet:
    return make_pki()


@pytest.fixture(scope="module")
def dns_server() -> Iterator[DnsServer]:
    with DnsServer(RECORDS, zones=["example.com", "outsystemsenterprise.com"]) as server:
        yield server


@pytest.fixture
def slack(sqlite_url: str, pki: PkiSet, dns_server: DnsServer) -> Iterator[SlackHarness]:
    with slack_harness(
        sqlite_url, nameservers=[dns_server.address], extra_roots=[pki.root.cert]
    ) as h:
        yield h


def scan(h: SlackHarness) -> expiry.ScanReport:
    publisher = SlackPublisher(warning_client(h.settings))
    return expiry.run_scan(h.deps.services, publisher, CONFIG, ChannelPacer(0.0))


def test_warning_renewal_offer_and_one_step_renewal(slack: SlackHarness, pki: PkiSet) -> None:
    ctx = slack.deps.services
    submit(ctx, pki, "shop")
    environments.add_environment(
        ctx, Actor(ADMIN, True), "dev", default_host=ENV_HOST, channel="C0DEV"
    )
    prompt = slack.command("assign shop dev shop.example.com", ADMIN)
    slack.click_button_in(prompt.responses[0], "assign_confirm", ADMIN)

    # Ten days before the end of shop: one warning, in dev's channel.
    ctx.clock = ManualClock(pki.shop.cert.not_valid_after_utc - dt.timedelta(days=10))
    assert scan(slack).posted == 1
    (warning,) = [c for c in slack.api.calls("chat.postMessage") if c.params["channel"] == "C0DEV"]
    assert "shop.example.com" in json.dumps(warning.blocks)

    submit(ctx, pki, "shop-2027", pki.shop_renewal, renews="shop")
    report = scan(slack)
    assert report.renewed == 1 and report.due == 0
    (update,) = slack.api.calls("chat.update")
    assert "renewed by *shop-2027*" in json.dumps(update.blocks)
    offer = slack.api.calls("chat.postMessage")[-1]
    assert offer.params["thread_ts"] == update.params["ts"]

    done = slack.click_button_in(offer, AssignId.RENEW_CONFIRM, ADMIN)
    assert "renewed *shop* with *shop-2027*" in done.texts("chat.postMessage")[-1]
    env = environments.show_environment(ctx, "dev")
    assert env.current is not None and env.current.certificate == "shop-2027"

    ctx.clock.advance(days=9)  # the old one is superseded: nothing more about it
    assert scan(slack).due == 0
    assert len(slack.api.calls("chat.update")) == 1
