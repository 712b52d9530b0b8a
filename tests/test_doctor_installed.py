"""`certops doctor` from a regular (non-editable) install compares the scopes (issue 13,
point 6): manifest.yml ships in the package, so a missing scope fails in every install.

The project is copied (as git sees it) and installed by setuptools with its own `install`
command (`--single-version-externally-managed`: plain files, what a wheel unpacks to; the
test environment has no `wheel` package and must stay offline). The installed doctor then
runs from an empty folder against the Slack stand-in."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.console.slack_api import FakeSlackApi
from bot.doctor.manifest import read as read_manifest
from tests.support.dns_server import DnsServer
from tests.support.doctor import ADMIN, CHANNEL, SECRET, TOKEN

ROOT = Path(__file__).resolve().parent.parent


def _copy_project(target: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (item.decode() for item in listed)):
        source = ROOT / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the work tree, not yet in git
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / name, follow_symlinks=False)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site folder of a fresh non-editable install of this project."""
    base = tmp_path_factory.mktemp("installed")
    source = base / "src"
    _copy_project(source)
    site = base / "site"
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from setuptools import setup; setup()",
            "-q",
            "build",
            "--build-base",
            str(base / "build"),
            "install",
            "--single-version-externally-managed",
            "--record",
            str(base / "record.txt"),
            "--install-lib",
            str(site),
            "--install-scripts",
            str(base / "bin"),
            "--install-data",
            str(base / "data"),
        ],
        cwd=source,
        capture_output=True,
        check=True,
    )
    return site


@pytest.fixture
def api() -> Iterator[FakeSlackApi]:
    with FakeSlackApi(bot_token=TOKEN) as server:
        server.channels[CHANNEL] = {"name": "certs", "is_member": True}
        yield server


def _doctor(site: Path, api: FakeSlackApi, dns: DnsServer, url: str, cwd: Path) -> str:
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(site),  # the install, before the editable checkout
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": api.api_url,
        "DATABASE_URL": url,
        "CERTOPS_ADMINS": ADMIN,
        "CERTOPS_DEFAULT_CHANNEL": CHANNEL,
    }
    code = (
        "import sys, bot; assert bot.__file__.startswith(sys.argv[1]), bot.__file__; "
        "from bot.cli import main; sys.exit(main(sys.argv[2:]))"
    )
    args = ["doctor", "--http", "--nameserver", dns.nameserver]
    done = subprocess.run(
        [sys.executable, "-c", code, str(site), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return f"exit {done.returncode}\n{done.stdout}"


def test_the_installed_doctor_fails_on_a_missing_scope(
    installed: Path, api: FakeSlackApi, sqlite_url: str, tmp_path: Path
) -> None:
    shipped = installed / "bot" / "doctor" / "manifest.yml"
    assert shipped.is_file() and not shipped.is_symlink()
    assert shipped.read_bytes() == (ROOT / "manifest.yml").read_bytes()
    facts = read_manifest(ROOT / "manifest.yml")
    assert facts is not None and "files:read" in facts.scopes
    with DnsServer({"outsystemsenterprise.com": [("A", "192.0.2.10")]}) as dns:
        api.scopes = facts.scopes
        text = _doctor(installed, api, dns, sqlite_url, tmp_path)
        assert "[ok  ] slack scopes: the token has every scope manifest.yml declares" in text
        assert text.startswith("exit 0"), text
        api.scopes = tuple(s for s in facts.scopes if s != "files:read")
        text = _doctor(installed, api, dns, sqlite_url, tmp_path)
    assert text.startswith("exit 1"), text
    assert "slack scopes: the bot token lacks scopes manifest.yml declares: files:read" in text


def test_the_packaged_manifest_is_the_projects() -> None:
    """In a checkout bot/doctor/manifest.yml is a link to the project's: one manifest."""
    packaged = ROOT / "bot" / "doctor" / "manifest.yml"
    assert packaged.read_bytes() == (ROOT / "manifest.yml").read_bytes()
    facts = read_manifest()
    assert facts is not None and facts == read_manifest(ROOT / "manifest.yml")
