"""What a person may name on the command line: every kind of file ends at once, one line.

`certops validate` and `certops dns --cert` read files through `bot.cli.files`; a FIFO
without a writer, `/dev/zero`, a directory, a file over the limit or a name that is not
UTF-8 must give a clear line (or a report), never a hang and never a traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.cli.files import InputFileError, read_input_file
from tests.support.openssl_pki import OpenSSLPKI

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str | Path, timeout: float = 30) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *map(os.fsencode, args)],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


def one_line(proc: subprocess.CompletedProcess[bytes], prefix: str) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout == b""
    text = proc.stderr.decode()
    assert "Traceback" not in text
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert lines[0].startswith(prefix)
    return lines[0]


# --- the reader itself ----------------------------------------------------------------------


def test_a_regular_file_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "a.pem"
    path.write_bytes(b"x" * 3000)
    assert read_input_file(str(path), "file", 3000) == b"x" * 3000


def test_a_file_over_the_limit_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.bin"
    with path.open("wb") as handle:  # sparse: 60 MiB declared, nothing written
        handle.truncate(60 * 1024 * 1024)
    with pytest.raises(InputFileError, match="is larger than 50 MiB"):
        read_input_file(str(path), "file", 50 * 1024 * 1024)


def test_an_endless_stream_stops_at_the_limit() -> None:
    with pytest.raises(InputFileError, match=r"'/dev/zero' is larger than 64 KiB"):
        read_input_file("/dev/zero", "password file", 64 * 1024)


def test_a_fifo_without_a_writer_reads_as_empty(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert read_input_file(str(fifo), "file", 1024) == b""


def test_a_directory_is_named_as_such(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="is a directory, not a file"):
        read_input_file(str(tmp_path), "file", 1024)


# --- certops validate -----------------------------------------------------------------------


def test_validate_dev_zero_is_one_line() -> None:
    line = one_line(run("validate", "/dev/zero"), "certops validate: error: ")
    assert line.endswith("file '/dev/zero' is larger than 50 MiB")


def test_validate_password_file_dev_zero_is_one_line(openssl_pki: OpenSSLPKI) -> None:
    proc = run("validate", openssl_pki.path("leaf.pem"), "--password-file", "/dev/zero")
    assert one_line(proc, "certops validate: error: ").endswith(
        "password file '/dev/zero' is larger than 64 KiB"
    )


def test_validate_fifo_without_writer_is_an_empty_file(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.pem"
    os.mkfifo(fifo)
    proc = run("validate", fifo, "--json", timeout=20)
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["inputs"] == [{"name": "pipe.pem", "kind": "unrecognized"}]
    assert "the file is empty" in report["findings"][0]["message"]


def test_validate_reads_a_pipe_on_stdin(openssl_pki: OpenSSLPKI) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "validate", "/dev/stdin", "--json"],
        cwd=ROOT,
        input=openssl_pki.leaf_pem + openssl_pki.key_pem,
        capture_output=True,
        timeout=30,
        check=False,
    )
    report = json.loads(proc.stdout)
    assert report["inputs"] == [{"name": "stdin", "kind": "bundle"}]
    assert "key_mismatch" not in {f["code"] for f in report["findings"]}
    assert "no_private_key" not in {f["code"] for f in report["findings"]}


def test_validate_a_name_that_is_not_utf8(
    openssl_pki: OpenSSLPKI,
    tmp_path: Path,
) -> None:
    odd = os.path.join(os.fsencode(tmp_path), b"caf\xe9.pem")
    with open(odd, "wb") as handle:
        handle.write(openssl_pki.leaf_pem)
    proc = run("validate", os.fsdecode(odd), "--json")
    assert proc.returncode == 1 and b"Traceback" not in proc.stderr
    report = json.loads(proc.stdout)
    assert report["inputs"][0]["kind"] == "certificate"
    human = run("validate", os.fsdecode(odd))
    assert human.returncode == 1 and b"Traceback" not in human.stderr
    assert b"Inputs" in human.stdout


def test_validate_missing_name_that_is_not_utf8(tmp_path: Path) -> None:
    odd = os.fsdecode(os.path.join(os.fsencode(tmp_path), b"gone\xff.pem"))
    line = one_line(run("validate", odd), "certops validate: error: ")
    assert "does not exist" in line


# --- certops dns --cert ---------------------------------------------------------------------


def test_dns_cert_dev_zero_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["dns", "app.example.com", "--target", "acme-dev.outsystemsenterprise.com",
                 "--nameserver", "127.0.0.1:9", "--timeout", "0.2", "--cert", "/dev/zero"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == "certops dns: --cert file '/dev/zero' is larger than 50 MiB"


def test_dns_cert_directory_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["dns", "app.example.com", "--target", "acme-dev.outsystemsenterprise.com",
                 "--nameserver", "127.0.0.1:9", "--timeout", "0.2", "--cert", str(tmp_path)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "is a directory, not a file" in err and "Traceback" not in err
