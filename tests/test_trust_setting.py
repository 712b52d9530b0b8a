"""CERTOPS_TRUST_STORE: extra roots for the bot (DM uploads in the worker process), the
console and every command, read once at start; a bad file stops them with one line, and
`certops doctor` says what it holds. The roots are the samples' throwaway CA."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import pytest

from bot import settings as settings_module
from bot.cli import main as certops
from bot.context import create_service_context
from bot.doctor import DoctorOptions, Status, run_doctor
from bot.doctor.settings_checks import trust_store
from bot.samples import SampleSet, write_samples
from bot.settings import Settings
from bot.trust_roots import TrustRootsError, setting_roots
from handlers.common.ids import UploadId
from storage.db import Database
from tests.support.dns_server import DnsServer
from tests.support.slack_harness import slack_harness
from tests.support.slack_upload_fixtures import (
    button_in,
    click,
    last_update,
    opened_view,
    send_files,
    submit_view,
    text_value,
)


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> SampleSet:
    return write_samples(tmp_path_factory.mktemp("trust-samples"))


def loaded(value: str) -> Settings:
    return settings_module.load({"CERTOPS_TRUST_STORE": value}, dotenv=False)


def garbage(tmp_path: Path) -> Path:
    path = tmp_path / "garbage.pem"
    path.write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    return path


def test_the_setting_names_files_separated_with_colons(tmp_path: Path) -> None:
    assert loaded(f"{tmp_path}/a.pem:{tmp_path}/b.pem:").trust_store == (
        tmp_path / "a.pem",
        tmp_path / "b.pem",
    )
    assert loaded("").trust_store == ()


def test_the_files_are_read_once_and_kept(samples: SampleSet, tmp_path: Path) -> None:
    store = tmp_path / "roots.pem"
    store.write_bytes(samples.trust_store.read_bytes())
    settings = loaded(str(store))
    (root,) = setting_roots(settings)
    assert "certops sample root CA" in root.subject.rfc4514_string()
    store.write_bytes(b"changed after start")  # an upload later does not read it again
    assert setting_roots(settings) == (root,)
    assert create_service_context(settings, Database("sqlite://")).extra_roots == (root,)


@pytest.mark.parametrize("case", ["missing", "garbage", "directory"])
def test_a_bad_file_is_one_line_naming_the_setting(tmp_path: Path, case: str) -> None:
    path = {
        "missing": tmp_path / "nowhere.pem",
        "garbage": garbage(tmp_path),
        "directory": tmp_path,
    }[case]
    with pytest.raises(TrustRootsError) as raised:
        setting_roots(loaded(str(path)))
    message = str(raised.value)
    assert message.startswith(f"CERTOPS_TRUST_STORE: trust store {str(path)!r} ")
    assert message.endswith(
        {
            "missing": "does not exist",
            "garbage": "holds no readable certificate (PEM or DER)",
            "directory": "is a directory, not a file",
        }[case]
    )


@pytest.mark.parametrize("argv", [["run"], ["console"], ["cert", "list"], ["notify"]])
def test_commands_stop_at_start_on_a_bad_trust_store(
    argv: list[str],
    tmp_path: Path,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CERTOPS_TRUST_STORE", str(garbage(tmp_path)))
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(name, raising=False)
    assert certops(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "CERTOPS_TRUST_STORE: trust store" in err and "no readable certificate" in err


def test_cert_submit_trusts_the_setting_and_adds_the_option(
    samples: SampleSet,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    valid = [str(p) for p in samples.sample("valid").files]
    assert certops(["cert", "submit", *valid, "--name", "without"]) == 1
    assert "chain_incomplete" in capsys.readouterr().err
    trust = ["--trust-store", str(samples.trust_store)]
    assert certops(["cert", "submit", *valid, "--name", "with-option", *trust]) == 0
    monkeypatch.setenv("CERTOPS_TRUST_STORE", str(samples.trust_store))
    assert certops(["cert", "submit", *valid, "--name", "with-setting"]) == 0
    assert "validated" in capsys.readouterr().out


def test_doctor_reads_the_trust_store_and_counts_its_roots(
    samples: SampleSet, tmp_path: Path, sqlite_url: str, dns_server: DnsServer
) -> None:
    unset = trust_store(Settings())
    assert unset.status is Status.OK and "not set" in unset.what
    bundle = tmp_path / "bundle.pem"
    expiring_chain = samples.sample("expiring").files[2]  # the intermediate
    bundle.write_bytes(samples.trust_store.read_bytes() + expiring_chain.read_bytes())
    good = trust_store(loaded(f"{samples.trust_store}:{bundle}"))
    assert good.status is Status.OK
    assert good.what == (
        f"CERTOPS_TRUST_STORE: 3 extra root(s) trusted besides the public ones: "
        f"{samples.trust_store} (1), {bundle} (2)"
    )
    for bad, words in [
        (tmp_path / "missing.pem", "does not exist"),
        (garbage(tmp_path), "holds no readable certificate"),
    ]:
        result = trust_store(loaded(f"{samples.trust_store}:{bad}"))
        assert result.status is Status.FAIL and words in result.what and str(bad) in result.what
        assert "CERTOPS_TRUST_STORE" in result.fix
    # In the doctor's run, right after the settings items.
    settings = dataclasses.replace(loaded(str(tmp_path / "missing.pem")), database_url=sqlite_url)
    results = run_doctor(settings, DoctorOptions(nameservers=[dns_server.address], dns_timeout=1))
    names = [r.name for r in results]
    assert names.index("trust store") == names.index("admins") + 1
    assert next(r for r in results if r.name == "trust store").status is Status.FAIL


@pytest.mark.parametrize("trusted", [False, True])
def test_a_dm_upload_is_valid_with_the_setting_and_chain_incomplete_without(
    samples: SampleSet, sqlite_url: str, trusted: bool
) -> None:
    setting = loaded(str(samples.trust_store) if trusted else "")
    with slack_harness(sqlite_url, trust_store=setting.trust_store) as slack:
        assert slack.deps.isolated is not None  # checked in the worker process
        files = [slack.api.add_file(p.name, p.read_bytes()) for p in samples.sample("valid").files]
        text = last_update(send_files(slack, *files))
    if trusted:
        assert "*Valid*" in text and "app.certops.test" in text
    else:
        assert "*Invalid*" in text and "chain_incomplete" in text


def test_the_sample_pfx_with_its_password_is_valid_with_the_setting(
    samples: SampleSet, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    setting = loaded(str(samples.trust_store))
    with slack_harness(sqlite_url, trust_store=setting.trust_store) as slack:
        (path,) = samples.sample("valid-pfx").files
        locked = send_files(slack, slack.api.add_file(path.name, path.read_bytes()))
        assert "password_required" in last_update(locked)
        button = button_in(locked.of("chat.update")[0].blocks, UploadId.PASSWORD)
        modal = opened_view(click(slack, UploadId.PASSWORD, button["value"]))
        done = submit_view(slack, modal, {"password": text_value(samples.pfx_password)})
        text = last_update(done)
    assert "*Valid*" in text and "app.certops.test" in text
    assert samples.pfx_password not in caplog.text
    assert samples.pfx_password not in json.dumps(
        [c.params for c in slack.api.calls()], default=str
    )
