"""`certops validate` run as a user runs it: a real process (`python -m bot validate`) from the
project's root.

Shared by tests/test_cli_validate.py, tests/test_certificate_caps.py, tests/test_kdf_cost.py
and tests/test_malformed_extension.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def certops(
    *args: str | Path, cwd: Path | None = None, stdin: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "bot", "validate", *map(str, args)],
        cwd=cwd or ROOT,
        input=stdin.decode() if stdin is not None else None,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
