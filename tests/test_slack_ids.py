"""Every id the Block Kit carries has a listener, and every listener's id is carried.

The features register on a recording app (the real `register(app, deps)` of each), and
the sources are read for the ids the builders use: a button without a listener, or a
listener nobody can reach, fails here.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from handlers import assign, commands, home, served, uploads, validate, warnings
from handlers.common.ids import FEATURE_IDS, LEGACY
from tests.support.slack_harness import SlackHarness, slack_harness

ROOT = Path(__file__).resolve().parent.parent
FEATURES = (commands, home, uploads, validate, assign, warnings, served)


class Recorder:
    """Stands in for the Bolt App: remembers the ids listeners are registered for."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def _record(self, ident: Any, **_: Any) -> Callable[[Any], Any]:
        if isinstance(ident, str):
            self.ids.append(str(ident))
        return lambda listener: listener

    action = view = _record

    def event(self, *_: Any, **__: Any) -> Callable[[Any], Any]:
        return lambda listener: listener

    command = event


@pytest.fixture
def slack(sqlite_url: str) -> Iterator[SlackHarness]:
    with slack_harness(sqlite_url) as harness:
        yield harness


def _ids_used_in_handlers() -> set[str]:
    """`FooId.BAR` as written in the handlers, outside the registrations (__init__.py)."""
    enums = {enum.__name__: enum for enum in FEATURE_IDS}
    used: set[str] = set()
    for path in (ROOT / "handlers").rglob("*.py"):
        if path.name == "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in enums
            ):
                used.add(str(enums[node.value.id][node.attr]))
    return used


def test_every_id_has_a_listener_and_every_listener_id_is_used(slack: SlackHarness) -> None:
    recorder = Recorder()
    for feature in FEATURES:
        feature.register(recorder, slack.deps)  # type: ignore[arg-type]
    registered = set(recorder.ids)
    assert len(recorder.ids) == len(registered), "an id registered twice"
    every = {str(member) for enum in FEATURE_IDS for member in enum}
    legacy = {old for olds in LEGACY.values() for old in olds}
    assert every - registered == set(), "ids without a listener"
    assert registered - every - legacy == set(), "listeners for ids of no feature"
    assert legacy <= registered, "old ids of posted messages must still be listened to"
    assert every - _ids_used_in_handlers() == set(), "listeners no Block Kit can reach"


def test_one_prefix_per_feature() -> None:
    for enum in FEATURE_IDS:
        prefixes = {str(member).rsplit("_", 1)[0].split("_")[0] for member in enum}
        assert len(prefixes) == 1, f"{enum.__name__}: {prefixes}"
