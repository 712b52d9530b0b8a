"""Reading one answer from the console's input, hidden when it is a password.

Slack shows a password field like any other; the console, on a terminal, turns echo off
for it (termios, as `getpass` does, but on the console's own input rather than
`/dev/tty`, so a test's pseudo-terminal sees it too). When the input is not a terminal
(a pipe, a test's stream) the line is read as it is: there is nothing to hide it from.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TextIO


@contextlib.contextmanager
def _no_echo(stream: TextIO) -> Iterator[bool]:
    """Echo off on `stream`'s terminal while inside; yields whether it was turned off."""
    try:
        import termios

        fd = stream.fileno()
        if not stream.isatty():
            raise OSError("not a terminal")
        old = termios.tcgetattr(fd)
    except (ImportError, OSError, ValueError, AttributeError):
        yield False
        return
    new = list(old)
    new[3] = new[3] & ~termios.ECHO
    termios.tcsetattr(fd, termios.TCSADRAIN, new)
    try:
        yield True
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, old)


def read_answer(stdin: TextIO, stdout: TextIO, *, prompt: str = "", secret: bool = False) -> str:
    """One line from `stdin` ('' at end of input), after `prompt`; without echo if
    `secret` and `stdin` is a terminal (turned off before the prompt shows, so nothing
    typed after it is echoed)."""
    with _no_echo(stdin) if secret else contextlib.nullcontext(False) as hidden:
        if prompt:
            stdout.write(prompt)
            stdout.flush()
        line = stdin.readline()
    if hidden:
        stdout.write("\n")  # the Enter typed was not echoed either
        stdout.flush()
    return line
