"""`/cert validate` and `/cert assign` open their form before the ack: a Slack that
answers `views.open` with 429 or slowly must never hold that ack past 3 s (issue 11,
point 3). Signed HTTP into the running app, Slack's Web API played by the stand-in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.console.slack_api import Call
from bot.scheduler import build_jobs
from handlers.common.ids import HomeId
from handlers.common.modal_open import OPEN_SECONDS
from tests.support.slack_fixtures import PkiSet, add_env, make_pki, submit
from tests.support.slack_harness import ADMIN, USER, SlackHarness, slack_harness

# Slack's limit for the ack; the opening itself is bounded by OPEN_SECONDS (1.5 s).
ACK_LIMIT = 3.0
SLOW_SLACK = 5.0


@pytest.fixture(scope="module")
def pki() -> PkiSet:
    return make_pki()


@pytest.fixture
def slack(sqlite_url: str, pki: PkiSet) -> Iterator[SlackHarness]:
    with slack_harness(sqlite_url, extra_roots=[pki.root.cert]) as h:
        # As `certops run` does: the scheduler's client is made from the app's. (It used
        # to append slack-sdk's RateLimitErrorRetryHandler to the app's own client, so
        # every listener's views.open slept out a 429's Retry-After.)
        build_jobs(h.settings, h.deps.services, h.app.client)
        yield h


def assignable(slack: SlackHarness, pki: PkiSet) -> None:
    submit(slack.deps.services, pki, "shop")
    add_env(slack.deps.services)


def followed_up(slack: SlackHarness, since: int, method: str = "response_url") -> str:
    """The text of the follow-up (it may come from the opening's own thread)."""
    (call,) = slack.api.wait_for(method, since=since, timeout=15)
    return text_of(call)


def text_of(call: Call) -> str:
    return str(call.params.get("text") or "")


@pytest.mark.parametrize("subcommand", ["validate", "assign"])
def test_a_429_on_views_open_is_one_try_and_the_ack_says_so_at_once(
    slack: SlackHarness, pki: PkiSet, subcommand: str
) -> None:
    assignable(slack, pki)
    slack.api.fail_next("views.open", status=429, retry_after=30)
    since = slack.api.mark()
    exchange = slack.command(subcommand, ADMIN)
    assert exchange.sent.status == 200
    assert exchange.sent.elapsed < ACK_LIMIT, f"ack after {exchange.sent.elapsed:.2f} s"
    assert "Slack did not open the form (ratelimited)" in exchange.ack_text
    assert len(slack.api.failed_calls("views.open")) == 1, "retried"
    assert not exchange.of("views.open")
    rest = followed_up(slack, since)
    assert "Try again in a moment" in rest
    expected = "direct message" if subcommand == "validate" else "/cert assign CERTIFICATE"
    assert expected in rest


@pytest.mark.parametrize("subcommand", ["validate", "assign"])
def test_a_slow_views_open_does_not_hold_the_ack(
    slack: SlackHarness, pki: PkiSet, subcommand: str
) -> None:
    assignable(slack, pki)
    slack.api.delays["views.open"] = SLOW_SLACK
    since = slack.api.mark()
    sent = slack.sender.command(subcommand, user_id=ADMIN, response_url=slack.api.response_url())
    assert sent.status == 200
    assert sent.elapsed < ACK_LIMIT, f"ack after {sent.elapsed:.2f} s"
    assert "Slack is slow to open the form" in str(sent.json().get("text"))
    rest = followed_up(slack, since)
    assert rest.startswith("If no form appeared: Try again in a moment")
    slack.settle()


def test_a_form_that_opens_in_time_is_acked_empty(slack: SlackHarness, pki: PkiSet) -> None:
    assignable(slack, pki)
    slack.api.delays["views.open"] = OPEN_SECONDS / 5
    exchange = slack.command("assign", ADMIN)
    assert exchange.sent.status == 200 and exchange.sent.body == ""
    assert exchange.of("views.open")[0].view["callback_id"]
    assert not exchange.responses


def test_an_expired_trigger_is_said_in_words(slack: SlackHarness) -> None:
    slack.api.fail_next("views.open", error="expired_trigger_id")
    exchange = slack.command("validate", USER)
    assert "Slack did not open the form (expired_trigger_id)" in exchange.ack_text
    assert "direct message" in exchange.texts()[0]


def test_the_record_refusing_is_answered_not_a_form(slack: SlackHarness) -> None:
    """Nothing to assign yet: the opener's own answer, as before (no form, no follow-up)."""
    exchange = slack.command("assign", ADMIN)
    assert "no validated or approved certificate" in exchange.ack_text
    assert not exchange.of("views.open") and not exchange.responses


@pytest.mark.parametrize("action", [HomeId.VALIDATE, HomeId.ASSIGN])
def test_a_home_button_whose_form_is_refused_says_so_in_the_dm(
    slack: SlackHarness, pki: PkiSet, action: str
) -> None:
    assignable(slack, pki)
    slack.api.fail_next("views.open", status=429, retry_after=30)
    exchange = slack.click(action, ADMIN, in_message=False)
    assert exchange.sent.status == 200 and exchange.sent.elapsed < ACK_LIMIT
    assert len(slack.api.failed_calls("views.open")) == 1
    (dm,) = exchange.of("chat.postMessage")
    assert "Slack did not open the form (ratelimited)" in text_of(dm)
    assert "Try again in a moment" in text_of(dm)


def test_the_scheduler_client_is_its_own(slack: SlackHarness) -> None:
    """The rate-limit retries the expiry warnings want stay on the scheduler's client."""
    from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

    jobs = build_jobs(slack.settings, slack.deps.services, slack.app.client)
    assert not any(
        isinstance(h, RateLimitErrorRetryHandler) for h in slack.app.client.retry_handlers
    )
    publisher_client = jobs.publisher.client
    assert publisher_client is not slack.app.client
    assert any(isinstance(h, RateLimitErrorRetryHandler) for h in publisher_client.retry_handlers)
    assert publisher_client.base_url == slack.app.client.base_url


def test_assign_with_the_database_down_is_answered_in_words() -> None:
    """The form's records cannot be read: the ack says why (it used to be an error)."""
    with slack_harness("postgresql://certops:hunter22@127.0.0.1:1/certops") as h:
        exchange = h.command("assign", ADMIN)
    assert exchange.sent.status == 200
    assert "database unavailable" in exchange.ack_text and "hunter22" not in exchange.ack_text
    assert not exchange.of("views.open")
