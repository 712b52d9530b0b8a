"""`certops samples DIR`: the files it writes, judged by the openssl command line and by
`certops validate` (real processes), and what it prints, refuses and never logs."""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import subprocess
import zipfile
from pathlib import Path

import pytest

from bot.cli import main as certops_main
from bot.samples import DEFAULT_NAME, SampleSet, planned_files, write_samples
from bot.samples.pki import TEST_MATERIAL
from tests.support.validate_cli import certops

MARK = f"O = {TEST_MATERIAL}"


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> SampleSet:
    return write_samples(tmp_path_factory.mktemp("samples") / "try")


def openssl(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", *map(str, args)], capture_output=True, text=True, timeout=60, check=check
    )


def files_of(samples: SampleSet, name: str) -> list[Path]:
    return list(samples.sample(name).files)


def verdict(*args: str | Path) -> tuple[str, list[str]]:
    """`certops validate --json`'s verdict and finding codes (names_covered left out)."""
    proc = certops(*args, "--json")
    assert proc.returncode in {0, 1}, proc.stderr
    data = json.loads(proc.stdout)
    codes = [f["code"] for f in data["findings"] if f["code"] != "names_covered"]
    assert (proc.returncode == 0) == (data["verdict"] == "valid")
    return data["verdict"], codes


# --- what openssl says --------------------------------------------------------------------


def test_openssl_verifies_the_valid_and_expiring_leaves_against_the_root_only(
    samples: SampleSet,
) -> None:
    ca = samples.trust_store
    for name in ("valid", "expiring"):
        cert, _, chain = files_of(samples, name)
        done = openssl("verify", "-CAfile", ca, "-untrusted", chain, cert)
        assert done.stdout.strip() == f"{cert}: OK"
    cert, _, chain = files_of(samples, "valid")
    alone = openssl("verify", "-untrusted", chain, cert, check=False)  # the system roots
    assert (
        alone.returncode != 0
        and "unable to get local issuer certificate" in alone.stderr + alone.stdout
    )
    expired_cert, _, expired_chain = files_of(samples, "expired")
    expired = openssl(
        "verify", "-CAfile", ca, "-untrusted", expired_chain, expired_cert, check=False
    )
    assert expired.returncode != 0 and "certificate has expired" in expired.stderr + expired.stdout


def test_openssl_opens_the_pfx_with_the_printed_password_only(samples: SampleSet) -> None:
    (pfx,) = files_of(samples, "valid-pfx")
    opened = openssl("pkcs12", "-in", pfx, "-passin", f"pass:{samples.pfx_password}", "-nokeys")
    assert opened.stdout.count("BEGIN CERTIFICATE") == 2  # the leaf and the intermediate
    assert f"CN = {DEFAULT_NAME}" in opened.stdout
    wrong = openssl("pkcs12", "-in", pfx, "-passin", "pass:not-it", "-nokeys", check=False)
    assert wrong.returncode != 0


def test_every_certificate_says_it_is_test_material(samples: SampleSet) -> None:
    pems = [p for p in samples.files if p.name in {"ca.pem", "cert.pem", "chain.pem"}]
    assert len(pems) == 1 + 7 + 6  # the root, every leaf, every chain
    for path in pems:
        subject = openssl("x509", "-in", path, "-noout", "-subject", "-issuer").stdout
        assert subject.count(MARK) == 2, (path, subject)  # subject and issuer
    (pfx,) = files_of(samples, "valid-pfx")
    inside = openssl("pkcs12", "-in", pfx, "-passin", f"pass:{samples.pfx_password}", "-nokeys")
    assert inside.stdout.count(MARK) == 4, inside.stdout  # two certificates, subject and issuer


def test_the_broken_sets_are_broken_the_way_they_say(samples: SampleSet) -> None:
    sha1 = openssl("x509", "-in", files_of(samples, "sha1")[0], "-noout", "-text").stdout
    assert "Signature Algorithm: sha1WithRSAEncryption" in sha1
    big = openssl("x509", "-in", files_of(samples, "rsa-8192")[0], "-noout", "-text").stdout
    assert "Public-Key: (8192 bit)" in big
    cert, key, _ = files_of(samples, "key-mismatch")
    modulus = openssl("x509", "-in", cert, "-noout", "-modulus").stdout
    assert modulus != openssl("rsa", "-in", key, "-noout", "-modulus").stdout
    assert len(files_of(samples, "missing-intermediate")) == 2  # no chain.pem
    with zipfile.ZipFile(files_of(samples, "valid-zip")[0]) as archive:
        assert sorted(archive.namelist()) == ["cert.pem", "chain.pem", "key.pem"]


# --- what certops validate says -----------------------------------------------------------


def test_each_set_gets_its_verdict_with_the_trust_store(samples: SampleSet) -> None:
    store = ["--trust-store", str(samples.trust_store)]
    for sample in samples.samples:
        passwords: list[str] = []
        if sample.needs_password:
            secret = samples.directory.parent / "pfx-password"
            secret.write_text(samples.pfx_password + "\n")
            passwords = ["--password-file", str(secret)]
        got, codes = verdict(*sample.files, *store, *passwords)
        assert got == sample.verdict, (sample.name, codes)
        assert codes == ([sample.code] if sample.code else []), sample.name


def test_valid_only_with_a_trust_store_option_or_setting(
    samples: SampleSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    valid = files_of(samples, "valid")
    assert verdict(*valid) == ("invalid", ["chain_incomplete"])
    monkeypatch.setenv("CERTOPS_TRUST_STORE", f"/nowhere/else.pem:{samples.trust_store}")
    proc = certops(*valid)
    assert proc.returncode == 2 and "CERTOPS_TRUST_STORE" in proc.stderr
    assert "'/nowhere/else.pem' does not exist" in proc.stderr
    monkeypatch.setenv("CERTOPS_TRUST_STORE", str(samples.trust_store))
    assert verdict(*valid) == ("valid", [])
    # --trust-store adds to the setting: the setting's root still counts beside another.
    assert verdict(*valid, "--trust-store", str(files_of(samples, "expired")[2])) == ("valid", [])


# --- the command ----------------------------------------------------------------------------


def test_the_command_lists_the_sets_prints_the_password_and_logs_it_nowhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    target = tmp_path / "my samples"
    assert certops_main(["samples", str(target), "--name", "Shop.Certops.Test"]) == 0
    out, err = capsys.readouterr()
    password = next(
        line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("PFX password")
    )
    assert len(password) == 20
    assert "Making the samples" in err and password not in err
    assert password not in caplog.text
    again = write_samples(tmp_path / "again")
    assert again.pfx_password not in repr(again)  # logging what was written is safe
    for path in planned_files(target):
        assert path.is_file(), path
        assert password.encode() not in path.read_bytes()
    assert sorted(p for p in target.rglob("*") if p.is_file()) == sorted(planned_files(target))
    parts = [re.split(r"\s{2,}", line.strip()) for line in out.splitlines()]
    assert {row[0]: row[1] for row in parts if len(row) == 3} == {
        "ca.pem": "trust store",
        "valid/": "valid",
        "valid.pfx": "valid",
        "valid.zip": "valid",
        "expiring/": "valid: expiring_soon",
        "key-mismatch/": "invalid: key_mismatch",
        "missing-intermediate/": "invalid: chain_incomplete",
        "sha1/": "invalid: weak_signature",
        "rsa-8192/": "invalid: key_too_large",
        "expired/": "invalid: expired",
    }
    assert f"export CERTOPS_TRUST_STORE='{target / 'ca.pem'}'" in out
    assert f"--trust-store '{target / 'ca.pem'}'" in out
    cert = openssl("x509", "-in", target / "valid" / "cert.pem", "-noout", "-ext", "subjectAltName")
    assert "DNS:shop.certops.test" in cert.stdout
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in target.rglob("*") if p.is_file()}
    assert modes["key.pem"] == modes["valid.pfx"] == modes["valid.zip"] == 0o600


def test_a_directory_with_samples_is_refused_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = write_samples(tmp_path)
    before = first.trust_store.read_bytes()
    assert certops_main(["samples", str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.strip().count("\n") == 0
    assert err.strip() == (
        f"certops samples: error: {str(tmp_path)!r} already holds sample files; "
        "use --force to replace them"
    )
    assert first.trust_store.read_bytes() == before
    assert certops_main(["samples", str(tmp_path), "--force"]) == 0
    assert first.trust_store.read_bytes() != before  # a new throwaway root


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--name", "not a host"], "--name: 'not a host'"),
        (["--name", "*.certops.test"], "--name: "),
        ([], "is a file, not a directory"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    target = tmp_path / "dir"
    if not argv:
        target.write_text("a file")
    assert certops_main(["samples", str(target), *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert message in err
    assert not (tmp_path / "dir" / "ca.pem").exists()


def test_a_directory_that_cannot_be_written_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if os.geteuid() == 0:
        target = Path("/proc/certops-samples")  # not even root may write here
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        target = locked / "inside"
    assert certops_main(["samples", str(target)]) == 1
    _, err = capsys.readouterr()
    assert err.strip().splitlines()[-1].startswith("certops samples: cannot write the samples")
    assert "Traceback" not in err
