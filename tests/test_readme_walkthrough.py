"""The README's console walk-through is what the console really shows.

Runs the walk-through's steps (tests/support/walkthrough.py, what `make walkthrough`
prints) in a real `certops console --admin` on a pseudo-terminal with its lab DNS, as a
newcomer's `make run` does, and checks that every line the README's transcript shows
(`...` aside) is on the screen, in the same order. What changes from run to run (the
PFX password, the lab's port, dates) is compared as a placeholder.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.walkthrough import PROMPT, run_walkthrough

README = Path(__file__).resolve().parents[1] / "README.md"
SECTION = "## Quick start: the console"
ELIDED = {"...", "…"}

_VARIABLE = (
    (re.compile(r"PFX password \(valid\.pfx\): \S+"), "PFX password (valid.pfx): <password>"),
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:<port>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}( \d{2}:\d{2})?"), "<date>"),
    (re.compile(r"\b20\d{6}\b"), "<date>"),  # a renewal's name: -renewal-YYYYMMDD
    (re.compile(r"\b20\d\d\b"), "<year>"),  # a suggested name: app.certops.test-2027
)


def normalize(line: str) -> str:
    line = line.rstrip()
    for pattern, placeholder in _VARIABLE:
        line = pattern.sub(placeholder, line)
    return line


def readme_transcript() -> list[str]:
    """The lines of the walk-through's transcripts in the README, `...` left out."""
    section = README.read_text(encoding="utf-8").split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks = [b for b in re.findall(r"```\n(.*?)```", section, re.S) if b.startswith(PROMPT)]
    return [
        normalize(line)
        for block in blocks
        for line in block.splitlines()
        if line.strip() and line.strip() not in ELIDED
    ]


def test_the_readme_shows_what_the_console_really_answers(tmp_path: Path) -> None:
    shown = readme_transcript()
    assert len(shown) >= 50  # the four parts are there: nothing checked would prove nothing
    screen = run_walkthrough(tmp_path).replace(str(tmp_path), ".")
    assert "Traceback" not in screen
    lines = [normalize(line) for line in screen.splitlines()]
    at = 0
    for line in shown:
        found = next((i for i in range(at, len(lines)) if lines[i] == line), None)
        assert found is not None, (
            f"the README shows {line!r}, which the console did not show after line {at}:\n"
            + "\n".join(lines[max(0, at - 5) : at + 40])
        )
        at = found + 1
