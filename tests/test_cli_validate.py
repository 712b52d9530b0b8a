"""`certops validate` as a user runs it: real processes, real files, a real terminal."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import select
import signal
import subprocess
import time
from pathlib import Path

import pytest
import pyzipper
from cryptography import x509

from tests.support.openssl_pki import OpenSSLPKI
from tests.support.report_contract import check_contract
from tests.support.validate_cli import PYTHON, ROOT, certops

FORBIDDEN = ("slack_bolt", "slack_sdk", "sqlmodel", "sqlalchemy", "dns")
ZIP_PASSWORD = b"zip secret 7"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> OpenSSLPKI:
    return OpenSSLPKI(tmp_path_factory.mktemp("openssl-cli"))


def trust(pki: OpenSSLPKI) -> list[str]:
    return ["--trust-store", str(pki.path("root.pem"))]


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("certops validate: error: ")
    return lines[0]


# --- exit codes ---------------------------------------------------------------------------


def test_valid_exit_0_and_json_contract(pki: OpenSSLPKI) -> None:
    proc = certops(
        pki.path("leaf.pem"), pki.path("leaf.key"), pki.path("chain.pem"), *trust(pki),
        "--domain", "app.example.com", "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    check_contract(data)
    assert data["verdict"] == "valid" and data["findings"] == []
    assert data["certificate"]["sans"] == ["app.example.com", "www.example.com"]
    assert [c["source"] for c in data["chain"]] == ["uploaded", "trust_store"]
    assert data["inputs"][1] == {"name": "leaf.key", "kind": "private_key"}
    # fingerprint and serial as openssl prints them
    fp = pki.openssl("x509", "-in", "leaf.pem", "-noout", "-fingerprint", "-sha256").decode()
    assert fp.strip().split("=", 1)[1] == data["certificate"]["fingerprint_sha256"]
    serial = pki.openssl("x509", "-in", "leaf.pem", "-noout", "-serial").decode()
    assert serial.strip().split("=", 1)[1] == data["certificate"]["serial"]


def test_invalid_exit_1_human_output(pki: OpenSSLPKI) -> None:
    proc = certops(pki.path("leaf.pem"), pki.path("chain.pem"), *trust(pki), "--name", "acme")
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("INVALID [acme]")
    assert "ERROR   no_private_key" in proc.stdout
    assert "-> Include the private key" in proc.stdout
    assert "Names:       app.example.com, www.example.com" in proc.stdout
    assert "1. CN=OpenSSL Inter,O=certops tests (uploaded" in proc.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["missing.pem"], "'missing.pem' does not exist"),
        (["."], "is a directory"),
        ([], "the following arguments are required: FILE"),
        (["leaf.pem", "--bogus"], "unrecognized arguments: --bogus"),
        (["leaf.pem", "--password-file", "nope.txt"], "password file 'nope.txt' does not exist"),
        (["leaf.pem", "--trust-store", "leaf.key"], "holds no readable certificate"),
        (["leaf.pem", "--output-chain", "leaf.key"], "already exists"),
        (["leaf.pem", "--output-chain", "no/such/dir/out.pem"], "does not exist"),
        (["leaf.pem", "--output-chain", ""], "--output-chain needs a file name"),
        (["leaf.pem", "--domain", " "], "--domain needs a host name"),
        (["leaf.pem", "--password-file", ""], "password file '' does not exist"),
        (["leaf.pem", "--fetch-missing", "--password-file", "."], "is a directory"),
    ],
)
def test_usage_errors_exit_2_with_one_line(pki: OpenSSLPKI, args: list[str], expected: str) -> None:
    line = one_error_line(certops(*args, cwd=pki.dir))
    assert expected in line


def test_unreadable_file_exit_2(pki: OpenSSLPKI, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        # root reads any file whatever its mode: a symlink loop is unreadable for all.
        secret = tmp_path / "loop"
        secret.symlink_to(secret)
        line = one_error_line(certops(secret))
        assert "cannot be read" in line
        return
    secret = tmp_path / "secret.pem"
    secret.write_bytes(pki.leaf_pem)
    secret.chmod(0)
    line = one_error_line(certops(secret))
    assert "permission denied" in line


def test_help_exits_0() -> None:
    proc = subprocess.run(
        [PYTHON, "-m", "bot", "validate", "--help"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0 and "--output-chain" in proc.stdout and "Exit status" in proc.stdout


# --- --output-chain -----------------------------------------------------------------------


def test_output_chain_in_order_public_only(pki: OpenSSLPKI, tmp_path: Path) -> None:
    scrambled = tmp_path / "bundle.pem"
    scrambled.write_bytes(pki.root_pem + pki.inter_pem + pki.leaf_pem)
    out = tmp_path / "clean.pem"
    proc = certops(scrambled, pki.path("leaf.key"), "--output-chain", out)
    assert proc.returncode == 0, proc.stdout
    assert "chain_order" in proc.stdout and "private_root" in proc.stdout
    written = out.read_bytes()
    assert x509.load_pem_x509_certificates(written) == [
        x509.load_pem_x509_certificate(pki.leaf_pem),
        x509.load_pem_x509_certificate(pki.inter_pem),
    ]
    assert b"PRIVATE KEY" not in written
    assert f"Chain written to {out} (2 certificates)." in proc.stderr
    again = certops(scrambled, pki.path("leaf.key"), "--output-chain", out)
    assert "already exists" in one_error_line(again)
    assert out.read_bytes() == written


# --- passwords ----------------------------------------------------------------------------


def test_password_file_strips_one_newline(pki: OpenSSLPKI, tmp_path: Path) -> None:
    pw = tmp_path / "pw.txt"
    pw.write_bytes(pki.password + b"\n")
    for files in (["modern.pfx"], ["fullchain.pem", "leaf.enc-pkcs8.pem"], ["legacy.pfx"]):
        proc = certops(*[pki.path(f) for f in files], *trust(pki), "--password-file", pw)
        assert proc.returncode == 0, proc.stdout
    pw.write_bytes(pki.password + b"\n\n")  # only one newline is stripped
    proc = certops(pki.path("modern.pfx"), *trust(pki), "--password-file", pw)
    assert proc.returncode == 1 and "wrong_password" in proc.stdout


def test_wrong_and_missing_password(pki: OpenSSLPKI, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("nope\n")
    proc = certops(pki.path("fullchain.pem"), pki.path("leaf.enc-trad.pem"), *trust(pki),
                   "--password-file", wrong, "--json")  # fmt: skip
    codes = [f["code"] for f in json.loads(proc.stdout)["findings"]]
    assert proc.returncode == 1 and "wrong_password" in codes and "password_required" not in codes
    proc = certops(pki.path("modern.pfx"), *trust(pki), "--json")  # stdin is not a terminal
    codes = [f["code"] for f in json.loads(proc.stdout)["findings"]]
    assert proc.returncode == 1 and "password_required" in codes


def _secret_zip(pki: OpenSSLPKI, tmp_path: Path) -> Path:
    """An AES ZIP (ZIP password) holding the chain and the encrypted key (key password)."""
    buffer = io.BytesIO()
    with pyzipper.AESZipFile(buffer, "w", encryption=pyzipper.WZ_AES) as archive:
        archive.setpassword(ZIP_PASSWORD)
        archive.writestr("cert/fullchain.pem", pki.read("fullchain.pem"))
        archive.writestr("cert/privkey.pem", pki.read("leaf.enc-pkcs8.pem"))
    path = tmp_path / "secret.zip"
    path.write_bytes(buffer.getvalue())
    return path


def test_zip_password_file(pki: OpenSSLPKI, tmp_path: Path) -> None:
    archive = _secret_zip(pki, tmp_path)
    (tmp_path / "zip.txt").write_bytes(ZIP_PASSWORD + b"\r\n")
    (tmp_path / "key.txt").write_bytes(pki.password)
    proc = certops(archive, *trust(pki), "--zip-password-file", tmp_path / "zip.txt",
                   "--password-file", tmp_path / "key.txt")  # fmt: skip
    assert proc.returncode == 0, proc.stdout


def _run_on_terminal(argv: list[str], answers: list[bytes], cwd: Path) -> tuple[int, str]:
    """Run argv on a pseudo-terminal, answering each password prompt in turn."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: a session leader whose controlling terminal is the pty
        os.chdir(cwd)
        os.execv(argv[0], argv)
    output = b""
    answered = 0
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
            if output.count(b"password:") > answered and answered < len(answers):
                time.sleep(0.2)  # as a person would: after the prompt has turned echo off
                os.write(fd, answers[answered] + b"\n")
                answered += 1
    finally:
        if time.monotonic() >= deadline:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def test_prompts_on_a_terminal(pki: OpenSSLPKI, tmp_path: Path) -> None:
    archive = _secret_zip(pki, tmp_path)
    argv = [PYTHON, "-m", "bot", "validate", str(archive), *trust(pki)]
    code, output = _run_on_terminal(argv, [ZIP_PASSWORD, pki.password], cwd=ROOT)
    assert output.count("ZIP password:") == 1 and output.count("Key/PFX password:") == 1
    assert code == 0, output
    assert "VALID" in output


def test_wrong_password_on_terminal_is_reported_not_asked_again(pki: OpenSSLPKI) -> None:
    argv = [PYTHON, "-m", "bot", "validate", str(pki.path("modern.pfx")), *trust(pki)]
    code, output = _run_on_terminal(argv, [b"guess", b"again"], cwd=ROOT)
    assert code == 1 and output.count("Key/PFX password:") == 1
    assert "wrong_password" in output


# --- secrets never shown ------------------------------------------------------------------


def _key_body_chunks(pem: bytes) -> list[str]:
    body = "".join(line for line in pem.decode().splitlines() if not line.startswith("-----"))
    body = "".join(line for line in body.splitlines() if ":" not in line)
    return [body[i : i + 24] for i in range(0, len(body) - 24, 24)]


def test_no_secret_in_any_output(pki: OpenSSLPKI, tmp_path: Path) -> None:
    pw = tmp_path / "pw.txt"
    pw.write_bytes(pki.password)
    plain_key = pki.key_pem
    decrypted = pki.openssl("pkcs12", "-in", "modern.pfx", "-nocerts", "-nodes",
                            "-passin", f"pass:{pki.password.decode()}")  # fmt: skip
    secrets = _key_body_chunks(plain_key) + _key_body_chunks(pki.read("leaf.enc-pkcs8.pem"))
    secrets += _key_body_chunks(decrypted)
    cases = [
        ["fullchain.pem", "leaf.enc-pkcs8.pem", "modern.pfx"],
        ["modern.pfx", "leaf.key"],  # wrong_password path: key given but password wrong
        ["bag.pem", "chain.pem"],  # a bundle with the key inside
    ]
    for files in cases:
        for fmt in ([], ["--json"]):
            for pw_file in (pw, tmp_path / "wrongpw"):
                if not pw_file.exists():
                    pw_file.write_text("wrong")
                proc = certops(*[pki.path(f) for f in files], *trust(pki),
                               "--password-file", pw_file, *fmt)  # fmt: skip
                both = proc.stdout + proc.stderr
                assert proc.returncode in (0, 1), both
                assert pki.password.decode() not in both
                assert "-----BEGIN" not in both and "DEK-Info" not in both
                leaked = [chunk for chunk in secrets if chunk in both]
                assert not leaked, f"key material in output of {files} {fmt}"


# --- real-world layouts -------------------------------------------------------------------


def test_lets_encrypt_folder_end_to_end(pki: OpenSSLPKI, tmp_path: Path) -> None:
    live = tmp_path / "etc/letsencrypt/live/app.example.com"
    live.mkdir(parents=True)
    (live / "cert.pem").write_bytes(pki.leaf_pem)
    (live / "chain.pem").write_bytes(pki.inter_pem)
    (live / "fullchain.pem").write_bytes(pki.read("fullchain.pem"))
    (live / "privkey.pem").write_bytes(pki.key_pem)
    out = tmp_path / "upload.pem"
    files = sorted(live.iterdir())
    proc = certops(*files, *trust(pki), "--domain", "app.example.com",
                   "--output-chain", out, "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stdout
    data = json.loads(proc.stdout)
    check_contract(data)
    assert {f["code"] for f in data["findings"]} <= {"chain_duplicate"}
    assert out.read_bytes() == pki.read("fullchain.pem").replace(b"\r\n", b"\n")


# --- what the process imports -------------------------------------------------------------


def test_cli_imports_no_slack_database_or_dns(pki: OpenSSLPKI) -> None:
    probe = (
        "import sys\n"
        "from bot.cli import main\n"
        f"code = main(['validate', {str(pki.path('leaf.pem'))!r}, "
        f"{str(pki.path('leaf.key'))!r}, '--json'])\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print('RESULT', code, bad, file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [PYTHON, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=False
    )
    match = re.search(r"RESULT (\d) (\[.*\])", proc.stderr)
    assert match, proc.stderr
    assert match.group(1) == "1"  # chain incomplete without the intermediate: a real run
    assert match.group(2) == "[]"


def test_a_locked_pfx_is_named_as_the_reason_no_certificate_was_read(
    pki: OpenSSLPKI, tmp_path: Path
) -> None:
    """ "No certificate was given" would send a person looking for a file they did give."""
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("nope\n")
    for extra in (["--password-file", str(wrong)], []):
        proc = certops(pki.path("modern.pfx"), *extra, "--json")
        found = {f["code"]: f for f in json.loads(proc.stdout)["findings"]}
        assert proc.returncode == 1
        assert {"wrong_password", "password_required"} & set(found)
        message = found["no_certificate"]["message"]
        assert "modern.pfx could not be opened" in message
        assert "No certificate was given" not in message
        assert "password" in found["no_certificate"]["hint"]


def test_ctrl_d_or_odd_bytes_at_the_prompt_are_no_traceback(pki: OpenSSLPKI) -> None:
    argv = [PYTHON, "-m", "bot", "validate", str(pki.path("modern.pfx")), *trust(pki)]
    code, output = _run_on_terminal(argv, [b"\x04"], cwd=ROOT)  # Ctrl-D: no password
    assert code == 1 and "Traceback" not in output, output
    assert "password_required" in output
    code, output = _run_on_terminal(argv, [b"caf\xe9 \xff"], cwd=ROOT)  # not UTF-8
    assert code == 2 and "Traceback" not in output, output
    assert "the password typed could not be read in this terminal's encoding" in output


def test_a_key_that_makes_the_library_panic_is_no_traceback(
    pki: OpenSSLPKI, tmp_path: Path
) -> None:
    from tests.support.pki import _short_iv_key

    key = tmp_path / "privkey.pem"
    key.write_bytes(_short_iv_key())
    secret = tmp_path / "pw.txt"
    secret.write_text("right\n")
    proc = certops(pki.path("leaf.pem"), key, "--password-file", secret, "--json")
    assert proc.returncode == 1 and proc.stderr == "", proc.stderr
    codes = [f["code"] for f in json.loads(proc.stdout)["findings"]]
    assert "unrecognized_file" in codes and "no_private_key" in codes
