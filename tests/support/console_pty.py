"""`certops console` on a pseudo-terminal, driven the way a person types: wait until the
screen shows something, type a line, read on.

Shared by tests/test_console_forms.py, tests/test_console_walk.py and the README's
walk-through (tests/support/walkthrough.py). Timeouts are generous and only bound a
hang: nothing here measures speed.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.certops_run import EXE, run_environ

WAIT = 120.0  # seconds before a missing text is a failure (a loaded machine is slow)


class Screen:
    """What a person sees on the console's terminal, read as it comes."""

    def __init__(self, master: int) -> None:
        self.master = master
        self.text = ""
        self.mark = 0  # where the last `wait_for` started looking

    def wait_for(self, wanted: str, timeout: float = WAIT) -> str:
        """Read until `wanted` shows after the mark; move the mark past it. Returns the
        text from the old mark to the end of `wanted`."""
        deadline = time.monotonic() + timeout
        while wanted not in self.text[self.mark :]:
            left = deadline - time.monotonic()
            assert left > 0, f"{wanted!r} never showed; the screen: {self.text[-3000:]}"
            if select.select([self.master], [], [], left)[0]:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # the console ended
                    chunk = b""
                assert chunk, f"{wanted!r} never showed; the screen: {self.text[-3000:]}"
                self.text += chunk.decode(errors="replace").replace("\r\n", "\n")
        start = self.mark
        self.mark = self.text.index(wanted, start) + len(wanted)
        return self.text[start : self.mark]

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\r")

    def end(self) -> None:
        """Ctrl-D at the prompt: the console ends."""
        os.write(self.master, b"\x04")


@contextmanager
def console_on_terminal(
    cwd: Path, *args: str, **settings: str
) -> Iterator[tuple[subprocess.Popen[bytes], Screen]]:
    """`certops console ARGS` on a new pseudo-terminal in `cwd`, with only `settings` as
    its certops settings (no Slack tokens, no developer's .env); killed if still running."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [EXE, "console", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=cwd,
        env=run_environ(TERM="dumb", **settings),
        start_new_session=True,
    )
    os.close(slave)
    try:
        yield process, Screen(master)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        os.close(master)
