"""`certops dns` through `bot.cli.main` and as a real process, against loopback DNS servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from bot.cli import main
from tests.support.dns_server import LOAD_BALANCER, TARGET, ZONES, DnsServer, standard_records
from tests.support.pki import CA, ec_key, key_pem, pem_bundle

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def server() -> Iterator[DnsServer]:
    records = standard_records()
    records["custom.example.com"] = [("CNAME", "x.lb.example.net.", 300)]
    records["x.lb.example.net"] = [("A", "192.0.2.50", 60)]
    with DnsServer(records, zones=ZONES) as running:
        yield running


@pytest.fixture(scope="module")
def silent() -> Iterator[DnsServer]:
    with DnsServer(mode="silent") as running:
        yield running


@pytest.fixture(autouse=True)
def _no_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CERTOPS_LOAD_BALANCER_PATTERNS", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["dns", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _dns(server: DnsServer, host: str, *extra: str) -> list[str]:
    return [host, "--target", TARGET, "--nameserver", server.nameserver, *extra]


def test_ok_exits_0_with_the_human_report(
    server: DnsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, *_dns(server, "ok.example.com"))
    assert code == 0, out
    assert out.startswith("DNS check for ok.example.com: OK")
    assert "TTL 300" in out and LOAD_BALANCER in out
    assert err == ""


@pytest.mark.parametrize(
    ("host", "code"),
    [("lb.example.com", "cname_to_load_balancer"), ("a.example.com", "a_record_instead_of_cname"),
     ("missing.example.com", "no_record"), ("example.com", "apex_domain")],
)  # fmt: skip
def test_misconfigured_exits_1(
    server: DnsServer, capsys: pytest.CaptureFixture[str], host: str, code: str
) -> None:
    status, out, _ = _run(capsys, *_dns(server, host))
    assert status == 1
    assert f"{code}:" in out
    assert "Fixes\n  1. " in out


def test_no_answer_exits_3(silent: DnsServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, *_dns(silent, "ok.example.com", "--timeout", "0.3"))
    assert code == 3
    assert "UNKNOWN" in out and "dns_unreachable" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["not_a host", "--target", TARGET], "invalid hostname"),
        (["app..example.com", "--target", TARGET], "invalid hostname"),
        (["ok.example.com", "--target", "*.outsystemsenterprise.com"], "invalid --target"),
        (["ok.example.com", "--target", "ok.example.com."], "same name"),
        (["ok.example.com", "--target", TARGET, "--nameserver", "dns.example"], "IP address"),
        (["ok.example.com", "--target", TARGET, "--timeout", "0"], "--timeout"),
        (["ok.example.com", "--target", TARGET, "--timeout", "-1"], "--timeout"),
        (["ok.example.com", "--target", TARGET, "--cert", "/nonexistent.pem"], "does not exist"),
    ],
)
def test_usage_errors_exit_2_with_one_clear_line(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = _run(capsys, *args)
    assert code == 2
    assert out == ""
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_argparse_usage_errors_also_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "ok.example.com")  # no --target
    assert code == 2
    assert "--target" in err
    code, _, err = _run(capsys, "ok.example.com", "--target", TARGET, "--timeout", "soon")
    assert code == 2 and "--timeout" in err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--help")
    assert code == 0
    for option in ("--target", "--nameserver", "--timeout", "--cert", "--json"):
        assert option in out


def test_json_is_one_object_with_the_contract_fields(
    server: DnsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, *_dns(server, "wrong.example.com", "--json"))
    assert code == 1
    data = json.loads(out)
    assert data["verdict"] == "misconfigured"
    assert data["hostname"] == "wrong.example.com" and data["target"] == TARGET
    assert [f["code"] for f in data["findings"]] == ["cname_wrong_target"]
    assert {f["severity"] for f in data["findings"]} == {"error"}
    assert data["hops"][0]["target"] == "other-dev.outsystemsenterprise.com"
    assert data["addresses"] == [
        {"name": "other-dev.outsystemsenterprise.com", "type": "A", "address": "192.0.2.20",
         "ttl": 60}
    ]  # fmt: skip
    assert data["nameservers"][0]["nameserver"] == server.nameserver
    assert data["fixes"] and data["cache"]["max_ttl"] == 300


def test_several_nameservers_and_an_unknown_verdict_in_json(
    server: DnsServer, silent: DnsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(
        capsys,
        *_dns(silent, "ok.example.com", "--timeout", "0.3", "--json"),
        "--nameserver",
        server.nameserver,
    )
    data = json.loads(out)
    assert code == 0
    assert [n["status"] for n in data["nameservers"]] == ["no_answer", "answered"]
    assert [f["code"] for f in data["findings"]] == ["cname_ok", "dns_unreachable"]


def test_internationalised_upper_case_trailing_dot_hostname(
    server: DnsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, *_dns(server, "BÜCHER.Example.com.", "--json"))
    assert code == 0
    assert json.loads(out)["hostname"] == "xn--bcher-kva.example.com"


def test_load_balancer_patterns_come_from_the_settings(
    server: DnsServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = _run(capsys, *_dns(server, "custom.example.com", "--json"))
    assert [f["code"] for f in json.loads(out)["findings"]] == ["cname_wrong_target"]
    monkeypatch.setenv("CERTOPS_LOAD_BALANCER_PATTERNS", "*.lb.example.net, *.elb.amazonaws.com")
    code, out, _ = _run(capsys, *_dns(server, "custom.example.com", "--json"))
    assert code == 1
    assert [f["code"] for f in json.loads(out)["findings"]] == ["cname_to_load_balancer"]


# --- --cert -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A wildcard leaf with its chain (cryptography), and an openssl-made DER leaf."""
    folder = tmp_path_factory.mktemp("certs")
    root = CA.root("DNS Test Root")
    inter = root.intermediate("DNS Test Intermediate")
    wildcard = inter.leaf(sans=["*.example.com"], key=ec_key("P-256", 7))
    other = inter.leaf(sans=["www.example.org"], key=ec_key("P-256", 8))
    paths = {
        # the intermediate first: the leaf must be picked, not the first certificate
        "wildcard_chain": folder / "fullchain.pem",
        "other": folder / "other.crt",
        "key_only": folder / "key.pem",
    }
    paths["wildcard_chain"].write_bytes(pem_bundle(inter.cert, wildcard.cert, root.cert))
    paths["other"].write_bytes(other.pem + wildcard.key_pem())  # a key in the file is fine
    paths["key_only"].write_bytes(key_pem(ec_key("P-256", 9)))
    der = folder / "openssl.der"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(folder / "openssl.key"), "-out", str(der), "-outform", "DER",
         "-subj", "/CN=openssl wildcard", "-days", "30",
         "-addext", "subjectAltName=DNS:*.example.com,DNS:example.com",
         "-addext", "basicConstraints=critical,CA:FALSE"],
        check=True, capture_output=True,
    )  # fmt: skip
    paths["openssl_der"] = der
    for label, encryption in (
        ("pfx_open", serialization.NoEncryption()),
        ("pfx_locked", serialization.BestAvailableEncryption(b"secret")),
    ):
        paths[label] = folder / f"{label}.pfx"
        paths[label].write_bytes(
            pkcs12.serialize_key_and_certificates(
                b"site",
                wildcard.key,
                wildcard.cert,
                [inter.cert],
                encryption,  # type: ignore[arg-type]
            )
        )
    return paths


def test_a_wildcard_certificate_covers_one_label(
    server: DnsServer, certs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(
        capsys, *_dns(server, "ok.example.com", "--json", "--cert", str(certs["wildcard_chain"]))
    )
    data = json.loads(out)
    assert code == 0
    assert data["certificate"] == {"names": ["*.example.com"], "covers_hostname": True}
    code, out, _ = _run(
        capsys,
        *_dns(server, "deep.ok.example.com", "--json", "--cert", str(certs["wildcard_chain"])),
    )
    data = json.loads(out)
    assert code == 1
    assert "hostname_not_covered" in [f["code"] for f in data["findings"]]
    assert data["certificate"]["covers_hostname"] is False


def test_an_openssl_der_certificate_is_read(
    server: DnsServer, certs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(
        capsys, *_dns(server, "ok.example.com", "--cert", str(certs["openssl_der"]))
    )
    assert code == 0
    assert "Certificate  covers ok.example.com: *.example.com, example.com" in out


def test_an_openssl_req_x509_certificate_is_the_site_s_own(
    server: DnsServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`openssl req -x509` marks its certificate CA:TRUE; alone, it is the one meant (it
    was reported as "holds only CA certificates")."""
    cert = tmp_path / "self.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(tmp_path / "self.key"), "-out", str(cert),
         "-subj", "/CN=ok.example.com", "-days", "30",
         "-addext", "subjectAltName=DNS:ok.example.com"],
        check=True, capture_output=True,
    )  # fmt: skip
    code, out, err = _run(capsys, *_dns(server, "ok.example.com", "--cert", str(cert)))
    assert code == 0, err
    assert "Certificate  covers ok.example.com: ok.example.com" in out


def test_a_certificate_for_another_name_is_reported(
    server: DnsServer, certs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, *_dns(server, "ok.example.com", "--cert", str(certs["other"])))
    assert code == 1
    assert "hostname_not_covered: The certificate does not cover ok.example.com" in out
    assert "www.example.org" in out


def test_a_cert_file_without_a_certificate_is_a_usage_error(
    server: DnsServer, certs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, *_dns(server, "ok.example.com", "--cert", str(certs["key_only"])))
    assert code == 2
    assert out == ""
    assert "no certificate found in key.pem" in err


def test_a_pfx_is_read_and_a_locked_one_says_why(
    server: DnsServer, certs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, *_dns(server, "ok.example.com", "--cert", str(certs["pfx_open"])))
    assert code == 0
    assert "Certificate  covers ok.example.com: *.example.com" in out
    code, out, err = _run(
        capsys, *_dns(server, "ok.example.com", "--cert", str(certs["pfx_locked"]))
    )
    assert code == 2
    assert "no certificate found in pfx_locked.pfx" in err
    assert "give the certificate itself (PEM or DER)" in err
    assert "password" in err
    assert "secret" not in err


def test_in_process_calls_start_the_budget_with_the_command() -> None:
    """Only `certops dns` as the process itself counts the process's start-up."""
    from bot.cli.dns import _process_age

    assert _process_age(["ok.example.com", "--target", TARGET]) == 0.0


# --- a real process -----------------------------------------------------------------------


def test_the_real_command_line(server: DnsServer, silent: DnsServer, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CERTOPS_LOAD_BALANCER_PATTERNS"}
    command = [sys.executable, "-m", "bot", "dns"]
    done = subprocess.run(
        [*command, *_dns(server, "lb.example.com", "--json")],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["findings"][0]["code"] == "cname_to_load_balancer"
    done = subprocess.run(
        [*command, *_dns(silent, "ok.example.com", "--timeout", "0.5")],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 3
    assert "UNKNOWN" in done.stdout
    done = subprocess.run(
        [*command, "bad_name!", "--target", TARGET],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("certops dns: invalid hostname")
    assert "Traceback" not in done.stderr
