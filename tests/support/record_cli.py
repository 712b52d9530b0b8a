"""The record commands on a terminal, in-process: `Run` (code, stdout, stderr of one
`certops ...`) and the `files` fixture (the uploads as files, password files, the root).

Used by tests/test_cli_record.py and tests/test_ticket_drafts.py; `files` is registered
by tests/conftest.py (a module's own `files` fixture takes precedence there).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from tests.support.services import KEY_PASSWORD, PFX_PASSWORD, Pki


class Run:
    """Runs `certops ...` in-process against one database; returns (code, stdout, stderr)."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main(list(argv))
        out, err = self.capsys.readouterr()
        assert "Traceback" not in out + err
        return code, out, err

    def json(self, *argv: str) -> tuple[int, dict]:
        code, out, _ = self(*argv, "--json")
        return code, json.loads(out)


@pytest.fixture
def files(tmp_path: Path, pki: Pki) -> dict[str, str]:
    """The uploads as files: PEM with an encrypted key, a PFX, password files, the root."""
    from tests.support.services import pem_upload, pfx_upload

    paths: dict[str, str] = {}
    for name, data in {
        "app.pem": pem_upload(pki.app, pki.inter)[0].data,
        "app.key": pem_upload(pki.app, pki.inter)[1].data,
        "renewal.pfx": pfx_upload(pki.renewal, pki.inter)[0].data,
        "wild.pem": pem_upload(pki.wildcard, pki.inter)[0].data,
        "wild.key": pem_upload(pki.wildcard, pki.inter)[1].data,
        "key.pass": KEY_PASSWORD + b"\n",
        "pfx.pass": PFX_PASSWORD + b"\n",
        "root.pem": pki.root.issued.pem,
    }.items():
        path = tmp_path / name
        path.write_bytes(data)
        paths[name] = str(path)
    return paths
