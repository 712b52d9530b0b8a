"""Reading the files named on a command line: bounded, never blocking, never a traceback.

A person can name anything: a directory, a FIFO nobody writes to, `/dev/zero`, a 4 GiB
disk image. `Path.read_bytes()` hangs on the FIFO and reads `/dev/zero` until memory
runs out (its `stat` size is 0, so a size check before reading does not help). Here the
file is opened without blocking, directories and other non-readable kinds are refused,
and at most `max_bytes + 1` bytes are read, so every case ends at once with one line.
"""

from __future__ import annotations

import fcntl
import os
import stat

CHUNK = 1 << 20


class InputFileError(Exception):
    """A file that cannot be used; the message is one line for a person (path included)."""


def _describe(path: str) -> str:
    # repr() keeps odd bytes in a name (surrogate escapes) printable on any terminal.
    return repr(path)


def _open(path: str, what: str) -> int:
    try:
        # O_NONBLOCK: opening a FIFO for reading must not wait for a writer.
        return os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise InputFileError(f"{what} {_describe(path)} does not exist") from None
    except IsADirectoryError:
        raise InputFileError(f"{what} {_describe(path)} is a directory, not a file") from None
    except PermissionError:
        raise InputFileError(
            f"{what} {_describe(path)} cannot be read (permission denied)"
        ) from None
    except OSError as exc:
        raise InputFileError(
            f"{what} {_describe(path)} cannot be read: {exc.strerror or type(exc).__name__}"
        ) from None


def _check_kind(fd: int, path: str, what: str, max_bytes: int) -> None:
    info = os.fstat(fd)
    if stat.S_ISDIR(info.st_mode):
        raise InputFileError(f"{what} {_describe(path)} is a directory, not a file")
    if stat.S_ISSOCK(info.st_mode) or stat.S_ISBLK(info.st_mode):
        raise InputFileError(f"{what} {_describe(path)} is not a regular file")
    if stat.S_ISREG(info.st_mode) and info.st_size > max_bytes:
        raise InputFileError(f"{what} {_describe(path)} is larger than {_limit(max_bytes)}")


def _limit(max_bytes: int) -> str:
    if max_bytes >= 1 << 20:
        return f"{max_bytes // (1 << 20)} MiB"
    if max_bytes >= 1 << 10:
        return f"{max_bytes // (1 << 10)} KiB"
    return f"{max_bytes} bytes"


def read_input_file(path: str, what: str, max_bytes: int) -> bytes:
    """The bytes of `path`, at most `max_bytes`; InputFileError with one line otherwise.

    Regular files, pipes and character devices are read (`/dev/stdin` works); a FIFO
    without a writer reads as empty instead of hanging; a stream longer than the limit
    (`/dev/zero`) stops after `max_bytes + 1` bytes.
    """
    fd = _open(path, what)
    try:
        _check_kind(fd, path, what, max_bytes)
        # Back to blocking reads: a pipe with a writer delivers its data in its own time.
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
        chunks: list[bytes] = []
        total = 0
        while total <= max_bytes:
            chunk = os.read(fd, min(CHUNK, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except InputFileError:
        raise
    except OSError as exc:
        raise InputFileError(
            f"{what} {_describe(path)} cannot be read: {exc.strerror or type(exc).__name__}"
        ) from None
    finally:
        os.close(fd)
    if total > max_bytes:
        raise InputFileError(f"{what} {_describe(path)} is larger than {_limit(max_bytes)}")
    return b"".join(chunks)
