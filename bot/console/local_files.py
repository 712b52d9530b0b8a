"""Local files a console user drops into the DM or into a form's file input.

One reader for both (`/upload PATH...` and a modal's `file_input`), so the limits and the
one-line errors are the same: paths may hold `~`, globs and spaces (quoted, as in a shell);
every path is checked before any is sent, so a bad one sends nothing.
"""

from __future__ import annotations

import glob
import mimetypes
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bot.cli.files import InputFileError, read_input_file

# Slack lets one message carry at most 10 files; the bot downloads at most 10 MiB per file
# (handlers/common/slack_files.MAX_FILE_BYTES). Checked here so the console says so
# before anything is sent, as Slack's own client would.
MAX_FILES = 10
MAX_FILE_BYTES = 10 * 1024 * 1024


class LocalFileError(ValueError):
    """One line for the user: which path, and what is wrong with it."""


@dataclass(frozen=True)
class LocalFile:
    path: Path
    content: bytes

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def mimetype(self) -> str:
        guessed, _ = mimetypes.guess_type(self.path.name)
        return guessed or "application/octet-stream"


class FileHost(Protocol):
    """What hosts an upload and hands back Slack's file object (the stand-in Web API)."""

    def add_file(self, name: str, content: bytes, mimetype: str = ...) -> dict[str, Any]: ...


def split_paths(text: str) -> list[str]:
    """Shell-like words: quotes keep spaces; an unbalanced quote is the user's error."""
    try:
        return shlex.split(text)
    except ValueError as error:
        raise LocalFileError(f"Could not read the paths: {error}.") from None


def expand(word: str) -> list[Path]:
    """`~` and globs, as a shell would; a glob that matches nothing is an error."""
    pattern = os.path.expanduser(word)
    if glob.has_magic(pattern):
        matches = sorted(glob.glob(pattern))
        if not matches:
            raise LocalFileError(f"{word}: no file matches.")
        return [Path(match) for match in matches]
    return [Path(pattern)]


def _read(path: Path, max_bytes: int) -> LocalFile:
    """The command line's own bounded reader (bot/cli/files.py): never blocks on a FIFO,
    never reads past the limit, one line for whatever is wrong."""
    try:
        content = read_input_file(str(path), "file", max_bytes)
    except InputFileError as error:
        raise LocalFileError(f"{error}.") from None
    return LocalFile(path, content)


def read_local_files(
    text: str, *, max_files: int = MAX_FILES, max_bytes: int = MAX_FILE_BYTES
) -> list[LocalFile]:
    """Every path in `text`, read and checked; raises LocalFileError on the first bad one.

    A line that names one existing file as it stands is that file, spaces and all, as a
    person who pastes `my certs/leaf.pem` without quotes expects."""
    whole = Path(os.path.expanduser(text.strip()))
    if text.strip() and whole.is_file():
        paths = [whole]
    else:
        paths = [path for word in split_paths(text) for path in expand(word)]
    if not paths:
        raise LocalFileError("Name at least one file.")
    if len(paths) > max_files:
        raise LocalFileError(f"{len(paths)} files: at most {max_files} go in one message.")
    return [_read(path, max_bytes) for path in paths]


def host_files(host: FileHost, files: list[LocalFile]) -> list[dict[str, Any]]:
    """Put the files on the stand-in; returns Slack's file objects, in order."""
    return [host.add_file(item.name, item.content, item.mimetype) for item in files]
