"""`/metrics`: read back through a real HTTP request, parsed with prometheus-client's own
parser, after real flows through the Slack harness (signed requests, the stand-in, a real
DNS server, SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from bot.metrics import Metrics, metrics_for, record_validation
from bot.metrics_slack import request_kind
from storage.db import Database
from storage.models import Notification
from tests.support.dns_server import DnsServer
from tests.support.metrics import scrape, value
from tests.support.slack_fixtures import ENV_HOST, PkiSet, add_env, make_pki, submit
from tests.support.slack_harness import ADMIN, SlackHarness, slack_harness

RECORDS = {
    "shop.example.com": [("CNAME", ENV_HOST + ".", 300)],
    ENV_HOST: [("A", "192.0.2.10", 60)],
}


@pytest.fixture(scope="module")
def pki() -> PkiSet:
    return make_pki()


@pytest.fixture(scope="module")
def dns_server() -> Iterator[DnsServer]:
    with DnsServer(RECORDS, zones=["example.com", "outsystemsenterprise.com"]) as server:
        yield server


def test_metrics_after_real_flows(database_url: str, pki: PkiSet, dns_server: DnsServer) -> None:
    with slack_harness(
        database_url, nameservers=[dns_server.address], extra_roots=[pki.root.cert]
    ) as slack:
        metrics = metrics_for(slack.app)
        assert metrics is not None
        ctx = slack.deps.services
        with metrics.bound():  # what a request does for the code it runs
            submit(ctx, pki, "shop")
            submit(ctx, pki, "manual-one", pki.wildcard, manual=True)
        add_env(ctx)
        assign(slack)
        slack.command("list", ADMIN)
        slack.api.bot_token = "xoxb-rotated"  # every Web API call of the bot now fails
        slack.open_home(ADMIN)
        post_warnings(ctx.database)
        samples = scrape(metrics)

    assert value(samples, "certops_database_up") == 1
    assert value(samples, "certops_certificates", status="validated") == 1
    assert value(samples, "certops_certificates", status="pending_manual") == 1
    assert value(samples, "certops_certificates", status="superseded") == 0

    shop = value(samples, "certops_cert_expires_in_seconds", certificate="shop", environment="dev")
    not_after = pki.shop.cert.not_valid_after_utc
    expected = (not_after - dt.datetime.now(dt.UTC)).total_seconds()
    assert abs(shop - expected) < 120
    labels = next(
        s.labels for s in samples["certops_cert_not_after"] if s.labels["certificate"] == "shop"
    )
    assert labels["hostname"] == "shop.example.com"
    assert (
        labels["subject_CN"]
        == pki.shop.cert.subject.rfc4514_string().split("=", 1)[1].split(",")[0]
    )
    assert labels["issuer_CN"] == "Slack Test Intermediate"
    assert value(samples, "certops_cert_not_after", certificate="shop") == not_after.timestamp()
    assert value(samples, "certops_cert_expired", certificate="shop") == 0
    # Not assigned anywhere: one series with an empty environment.
    assert (
        value(samples, "certops_cert_expires_in_seconds", certificate="manual-one", environment="")
        > 0
    )

    assert value(samples, "certops_validations_total", verdict="valid") == 1
    assert value(samples, "certops_validations_total", verdict="invalid") == 1
    assert value(samples, "certops_warnings_posted_total", threshold="30d") == 2
    assert value(samples, "certops_warnings_posted_total", threshold="7d") == 1

    errors = value(
        samples, "certops_slack_api_errors_total", method="views.publish", error="invalid_auth"
    )
    assert errors >= 1
    assert value(samples, "certops_slack_request_seconds_count", kind="command") == 2
    assert value(samples, "certops_slack_request_seconds_count", kind="block_actions") >= 1
    assert value(samples, "certops_slack_request_seconds_count", kind="event:app_home_opened") == 1
    assert value(samples, "certops_handler_seconds_count", kind="command") == 2
    assert value(samples, "certops_handlers_in_flight") == 0


def assign(slack: SlackHarness) -> None:
    prompt = slack.command("assign shop dev shop.example.com", ADMIN)
    done = slack.click_button_in(prompt.responses[0], "assign_confirm", ADMIN)
    assert "assigned *shop* to *dev*" in done.texts("chat.postMessage")[-1]


def post_warnings(database: Database) -> None:
    """Warnings as the expiry notifier records them: two posted at 30 days, one at 7, one
    claimed and not yet posted (which does not count)."""
    from sqlmodel import select

    from storage.models import Certificate

    now = dt.datetime.now(dt.UTC)
    with database.session() as session:
        ids = [c.id for c in session.exec(select(Certificate)).all()]
        assert len(ids) == 2 and all(ids)
        for cert_id in ids:
            session.add(
                Notification(
                    certificate_id=cert_id,
                    threshold="30d",
                    channel="C1",
                    claimed_by="a",
                    posted_at=now,
                )
            )
        session.add(
            Notification(
                certificate_id=ids[0], threshold="7d", channel="C1", claimed_by="a", posted_at=now
            )
        )
        session.add(
            Notification(certificate_id=ids[0], threshold="3d", channel="C1", claimed_by="a")
        )


def test_two_apps_in_one_process_count_apart(sqlite_url: str) -> None:
    with slack_harness(sqlite_url) as one, slack_harness(sqlite_url) as two:
        one.command("help")
        one.command("help")
        two.command("help")
        first, second = metrics_for(one.app), metrics_for(two.app)
        assert first is not None and second is not None and first is not second
        assert value(scrape(first), "certops_slack_request_seconds_count", kind="command") == 2
        assert value(scrape(second), "certops_slack_request_seconds_count", kind="command") == 1


def test_a_database_that_is_down_still_gives_a_scrape() -> None:
    down = Database("postgresql://postgres@127.0.0.1:1/certops")
    metrics = Metrics(down)
    samples = scrape(metrics)
    assert value(samples, "certops_database_up") == 0
    assert "certops_certificates" not in samples
    assert "certops_validations_total" not in samples  # no sample before the first count
    record_validation("valid")  # outside any app: counted nowhere, never an error
    with metrics.bound():
        record_validation("valid")
    assert value(scrape(metrics), "certops_validations_total", verdict="valid") == 1


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"command": "/cert", "text": "help"}, "command"),
        ({"type": "event_callback", "event": {"type": "message"}}, "event:message"),
        ({"type": "block_actions"}, "block_actions"),
        ({"type": "view_submission"}, "view_submission"),
        ({"type": "made_up"}, "other"),
    ],
)
def test_request_kinds_stay_few(body: dict[str, object], kind: str) -> None:
    assert request_kind(body) == kind


def test_slack_api_errors_by_method_and_error(sqlite_url: str) -> None:
    from slack_sdk.errors import SlackApiError

    with slack_harness(sqlite_url) as slack:
        metrics = metrics_for(slack.app)
        assert metrics is not None
        slack.api.fail_next("chat.postMessage", status=429, retry_after=0)
        slack.api.fail_next("chat.update", error="message_not_found")
        for call in (
            lambda: slack.app.client.chat_postMessage(channel="C1", text="x"),
            lambda: slack.app.client.chat_update(channel="C1", ts="1.2", text="x"),
        ):
            with pytest.raises(SlackApiError):
                call()
        slack.app.client.chat_postMessage(channel="C1", text="fine")  # not counted
        samples = scrape(metrics)
    errors = {
        (s.labels["method"], s.labels["error"]): s.value
        for s in samples["certops_slack_api_errors_total"]
    }
    assert errors == {
        ("chat.postMessage", "ratelimited"): 1,
        ("chat.update", "message_not_found"): 1,
    }
