"""The tests' own layout: helpers live in tests/support/, shared fixtures are registered by
tests/conftest.py, and no test module imports another one.

A test module that imports another runs that module's import side effects, re-registers
its fixtures (a session fixture imported into N modules is built N times) and ties the two
together for no reason a reader can see. Checked statically (AST), like tests/test_layers.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"


def _package(path: Path) -> list[str]:
    """The dotted package a file under the project's root belongs to, as parts."""
    return list(path.relative_to(ROOT).parent.parts)


def imported_modules(source: str, package: list[str]) -> list[tuple[str, int]]:
    """Every module a source imports (relative imports resolved, `from P import m` counted as
    `P.m` too, since `m` may be a module), with its line number."""
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.append((module, node.lineno))
            found += [(f"{module}.{alias.name}", node.lineno) for alias in node.names]
    return found


def is_test_module(module: str) -> bool:
    parts = module.split(".")
    return parts[0] == "tests" and len(parts) > 1 and parts[-1].startswith("test_")


def imports_of_test_modules(path: Path) -> list[str]:
    """The test modules a file imports, as `file:line imports module`."""
    imports = imported_modules(path.read_text(encoding="utf-8"), _package(path))
    return [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for module, line in imports
        if is_test_module(module)
    ]


def _python_files(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize(
    "path", _python_files("tests", "bench"), ids=lambda p: str(p.relative_to(ROOT))
)
def test_no_module_imports_a_test_module(path: Path) -> None:
    """Tests, their helpers and the bench scripts import shared code from tests/support/."""
    assert imports_of_test_modules(path) == []


@pytest.mark.parametrize(
    ("source", "package"),
    [
        ("from tests.test_expiry import add_cert", ["tests"]),
        ("from tests import test_services_support as support", ["tests"]),
        ("import tests.test_slack_run", ["tests"]),
        ("from .test_expiry import START", ["tests"]),
        ("from . import test_expiry", ["tests"]),
        ("from ..test_expiry import START", ["tests", "expiry"]),
        ("def f():\n    from tests.test_readers_passwords import key\n", ["tests"]),
    ],
)
def test_the_check_sees_every_way_of_importing_a_test_module(
    source: str, package: list[str]
) -> None:
    assert any(is_test_module(module) for module, _ in imported_modules(source, package))


def test_the_check_lets_helpers_through() -> None:
    source = "from tests.support.expiry import START\nfrom tests import support\nimport pytest\n"
    assert not any(is_test_module(module) for module, _ in imported_modules(source, ["tests"]))


def test_helpers_live_in_tests_support() -> None:
    """At the top of tests/ only test modules and conftest.py (and the package marker)."""
    loose = [
        path.name
        for path in TESTS.glob("*.py")
        if not path.name.startswith("test_") and path.name not in {"conftest.py", "__init__.py"}
    ]
    assert loose == []
    assert (TESTS / "support" / "__init__.py").is_file()
