"""The App Home follows the record: a change by one person republishes every open Home."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.slack_fixtures import ENV_HOST, PkiSet, make_pki
from tests.support.slack_harness import ADMIN, USER, SlackHarness, slack_harness

OTHER = "UOTHER001"


@pytest.fixture(scope="module")
def pki() -> PkiSet:
    return make_pki()


@pytest.fixture
def slack(sqlite_url: str, pki: PkiSet) -> Iterator[SlackHarness]:
    with slack_harness(sqlite_url, extra_roots=[pki.root.cert]) as h:
        yield h


def published_to(calls: list, user: str) -> list[str]:  # type: ignore[type-arg]
    return [
        str(c.view.get("blocks"))
        for c in calls
        if c.method == "views.publish" and c.params.get("user_id") == user
    ]


def test_a_change_republishes_every_open_home(slack: SlackHarness) -> None:
    slack.open_home(USER)
    slack.open_home(OTHER)
    ex = slack.command(f"env add dev {ENV_HOST}", user=ADMIN)
    for user in (ADMIN, USER, OTHER):
        views = published_to(ex.calls, user)
        assert len(views) == 1, (user, len(views))
        assert ENV_HOST in views[0]


def test_reading_the_record_republishes_nobody_else(slack: SlackHarness) -> None:
    slack.open_home(USER)
    ex = slack.command("env list", user=OTHER)
    assert published_to(ex.calls, USER) == []


def test_a_viewer_who_cannot_be_published_to_is_forgotten(slack: SlackHarness) -> None:
    slack.open_home(USER)
    slack.open_home("UGONE0001")  # most recent: republished first after the actor
    slack.api.fail_next("views.publish", count=2, error="user_not_found")
    ex = slack.command(f"env add dev {ENV_HOST}", user=ADMIN)
    assert "env" in ex.all_text.lower()  # the change itself was answered
    assert len(slack.api.failed_calls("views.publish")) == 2
    assert ENV_HOST in published_to(ex.calls, USER)[0]
    assert [a.user_id for a in slack.deps.home_viewers.others(ADMIN)] == [USER]


def test_viewers_are_bounded_and_most_recent_first() -> None:
    from bot.services.actors import Actor
    from handlers.common.home_viewers import HomeViewers

    viewers = HomeViewers(limit=2)
    for user in ("U1", "U2", "U3"):
        viewers.add(Actor(user_id=user, is_admin=False))
    viewers.add(Actor(user_id="U2", is_admin=True))
    assert [(a.user_id, a.is_admin) for a in viewers.others("")] == [("U2", True), ("U3", False)]
    assert [a.user_id for a in viewers.others("U2")] == ["U3"]
