"""The layer rules of DESIGN.md, checked on the source: an import against them fails here.

Checked statically (AST) so that a violation is caught even in a module no test imports.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STDLIB = set(sys.stdlib_module_names) | {"__future__"}

PIPELINE_ALLOWED = {"cryptography", "certifi", "asn1crypto", "pyzipper", "dns", "bot"}
PIPELINE_BOT_ALLOWED = ("bot.pipeline",)
SLACK = {"slack_bolt", "slack_sdk"}
DATABASE = {"sqlmodel", "sqlalchemy", "alembic", "psycopg"}
# Handlers call services only: never the pipeline, the record, the CLI or the composition root.
HANDLERS_FORBIDDEN = ("bot.pipeline", "storage", "bot.cli", "bot.app", "bot.context")


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every absolute module imported by a file, with its line number."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node.lineno))
    return found


def _files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def _top(module: str) -> str:
    return module.split(".")[0]


def test_layer_folders_exist() -> None:
    for folder in ("bot/pipeline", "bot/services", "handlers", "storage"):
        assert (ROOT / folder / "__init__.py").is_file(), folder
    assert _files("bot/pipeline"), "the pipeline has modules"


@pytest.mark.parametrize("path", _files("bot/pipeline"), ids=lambda p: str(p.relative_to(ROOT)))
def test_pipeline_is_pure(path: Path) -> None:
    for module, line in _imports(path):
        top = _top(module)
        if top in STDLIB:
            continue
        assert top in PIPELINE_ALLOWED, f"{path.name}:{line} imports {module}"
        if top == "bot":
            assert module.startswith(PIPELINE_BOT_ALLOWED), f"{path.name}:{line} imports {module}"


@pytest.mark.parametrize("path", _files("storage"), ids=lambda p: str(p.relative_to(ROOT)))
def test_storage_knows_no_slack(path: Path) -> None:
    for module, line in _imports(path):
        top = _top(module)
        assert top not in SLACK | {"handlers"}, f"{path.name}:{line} imports {module}"
        assert not module.startswith(("bot.services", "bot.app", "bot.cli")), (
            f"{path.name}:{line} imports {module}"
        )


@pytest.mark.parametrize("path", _files("bot/services"), ids=lambda p: str(p.relative_to(ROOT)))
def test_services_know_no_slack(path: Path) -> None:
    for module, line in _imports(path):
        top = _top(module)
        assert top not in SLACK | {"handlers"}, f"{path.name}:{line} imports {module}"
        assert not module.startswith(("bot.app", "bot.cli")), f"{path.name}:{line} imports {module}"


@pytest.mark.parametrize("path", _files("handlers"), ids=lambda p: str(p.relative_to(ROOT)))
def test_handlers_go_through_services(path: Path) -> None:
    for module, line in _imports(path):
        top = _top(module)
        assert top not in DATABASE | {"storage"}, (
            f"{path.name}:{line} imports {module}: use a service"
        )
        assert not module.startswith(HANDLERS_FORBIDDEN), f"{path.name}:{line} imports {module}"


def _feature_of(path: Path) -> str | None:
    """The feature folder of a handlers module (None for handlers/__init__.py)."""
    parts = path.relative_to(ROOT / "handlers").parts
    return parts[0] if len(parts) > 1 else None


@pytest.mark.parametrize("path", _files("handlers"), ids=lambda p: str(p.relative_to(ROOT)))
def test_features_do_not_import_each_other(path: Path) -> None:
    """A feature folder imports common/ and itself; common/ imports no feature. What two
    features share goes to common/; one starting another goes through a callback in Deps."""
    feature = _feature_of(path)
    if feature is not None:
        assert not _other_features(path, feature), f"{path.relative_to(ROOT)} imports a feature"


def _other_features(path: Path, feature: str) -> list[str]:
    """The imports of `path` (in `feature`) of another feature folder."""
    found = []
    for module, line in _imports(path):
        parts = module.split(".")
        if parts[0] == "handlers" and len(parts) > 1 and parts[1] not in {"common", feature}:
            found.append(f"{line}: {module}")
    return found


def test_handlers_are_grouped_by_feature() -> None:
    """Only packages under handlers/ (and its __init__): a new module goes in a feature."""
    loose = [p.name for p in (ROOT / "handlers").glob("*.py") if p.name != "__init__.py"]
    assert not loose, f"put {loose} in a feature folder or in handlers/common/"
    assert {
        "common",
        "commands",
        "home",
        "uploads",
        "validate",
        "assign",
        "warnings",
        "served",
    } <= {p.name for p in (ROOT / "handlers").iterdir() if (p / "__init__.py").is_file()}


def test_checker_sees_a_violation(tmp_path: Path) -> None:
    """The checker itself must be able to fail."""
    bad = tmp_path / "bad.py"
    bad.write_text("import slack_sdk\nfrom sqlmodel import Session\n")
    assert [m for m, _ in _imports(bad)] == ["slack_sdk", "sqlmodel"]
    bad.write_text("from handlers.common import ids\nfrom handlers.uploads import intake\n")
    assert _other_features(bad, "home") == ["2: handlers.uploads"]
    assert _other_features(bad, "uploads") == []
    assert _other_features(bad, "common") == ["2: handlers.uploads"]
