"""What manifest.yml declares: the bot scopes and whether Socket Mode is on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Shipped in the package (package data): in a checkout a link to the project's
# manifest.yml, in an install a copy of it, so every install compares the scopes.
DEFAULT_PATH = Path(__file__).with_name("manifest.yml")


@dataclass(frozen=True)
class ManifestFacts:
    scopes: tuple[str, ...]
    socket_mode: bool | None


def read(path: Path | None = None) -> ManifestFacts | None:
    """The facts of the manifest at `path` (default: the packaged one), None if unreadable."""
    import yaml

    target = path or DEFAULT_PATH
    try:
        data: Any = yaml.safe_load(target.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    if not isinstance(data, dict):
        return None
    scopes = ((data.get("oauth_config") or {}).get("scopes") or {}).get("bot") or []
    socket_mode = (data.get("settings") or {}).get("socket_mode_enabled")
    return ManifestFacts(
        tuple(str(s) for s in scopes), socket_mode if isinstance(socket_mode, bool) else None
    )
