"""Run certops in a bench as an installed copy runs: from bytecode, not from source.

`pip install` compiles the sources to bytecode; an editable checkout run with
PYTHONDONTWRITEBYTECODE set (some shells and containers set it) compiles every module
again at every start, which added about 50 ms to each `certops` command measured here
(issue 16) and is not what a user of an installed certops waits for. The benches that
time whole processes compile first and run without that variable.
"""

from __future__ import annotations

import compileall
import os
from pathlib import Path

PACKAGES = ("bot", "storage", "handlers")


def compiled_env(*sources: Path) -> dict[str, str]:
    """Compile each checkout's packages; the environment to run certops from them in."""
    for source in sources:
        for package in PACKAGES:
            compileall.compile_dir(source / package, quiet=1)
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env
