"""The console's local-file reader: paths with ~, globs and spaces; one-line refusals."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.console.local_files import LocalFileError, host_files, read_local_files
from bot.console.slack_api import FakeSlackApi


def test_globs_quotes_and_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spaced = tmp_path / "my certs"
    spaced.mkdir()
    (spaced / "a.pem").write_bytes(b"A")
    (spaced / "b.pem").write_bytes(b"BB")
    (tmp_path / "key.pem").write_bytes(b"K")
    monkeypatch.setenv("HOME", str(tmp_path))
    files = read_local_files(f"'{spaced}/*.pem' ~/key.pem")
    assert [f.name for f in files] == ["a.pem", "b.pem", "key.pem"]
    assert [f.content for f in files] == [b"A", b"BB", b"K"]
    [unquoted] = read_local_files(f"{spaced}/a.pem")  # one existing file, spaces and all
    assert unquoted.content == b"A"


@pytest.mark.parametrize(
    ("words", "message"),
    [
        ("missing.pem", "does not exist"),
        ("'unbalanced", "Could not read the paths"),
        ("*.nothing", "no file matches"),
        ("", "Name at least one file"),
        (".", "is a directory"),
    ],
)
def test_bad_paths_are_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, words: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LocalFileError) as caught:
        read_local_files(words)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_over_limit_and_unreadable(tmp_path: Path) -> None:
    big = tmp_path / "big.pfx"
    big.write_bytes(b"x" * 2048)
    with pytest.raises(LocalFileError, match="larger than 1 KiB"):
        read_local_files(str(big), max_bytes=1024 * 1024 // 1024)
    many = " ".join(str(big) for _ in range(11))
    with pytest.raises(LocalFileError, match="at most 10"):
        read_local_files(many)
    locked = tmp_path / "locked.pem"
    locked.write_bytes(b"x")
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):  # root reads anything: nothing to refuse then
            assert read_local_files(str(locked))[0].content == b"x"
        else:
            with pytest.raises(LocalFileError, match="cannot be read"):
                read_local_files(str(locked))
    finally:
        locked.chmod(0o600)


def test_hosted_files_are_served_by_the_stand_in(tmp_path: Path) -> None:
    (tmp_path / "leaf.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\n")
    with FakeSlackApi() as api:
        [info] = host_files(api, read_local_files(str(tmp_path / "leaf.pem")))
        assert info["name"] == "leaf.pem" and info["size"] == 28
        assert info["url_private_download"].startswith(api.base_url)


def test_a_fifo_never_blocks_the_console(tmp_path: Path) -> None:
    """A FIFO nobody writes to reads as empty (the command line's reader), never hangs."""
    fifo = tmp_path / "pipe.pem"
    os.mkfifo(fifo)
    [item] = read_local_files(str(fifo))
    assert item.content == b""
