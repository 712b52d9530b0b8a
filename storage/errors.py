"""Errors the storage layer raises instead of driver exceptions.

Each carries a one-line message meant for a person (no traceback, no credentials), so the
CLI and the Slack handlers can show `str(error)` as it is.
"""

from __future__ import annotations


class StorageError(Exception):
    """Base of every error this layer raises on purpose."""


class DatabaseUnavailable(StorageError):
    """The database cannot be reached, opened or used (down, refused, unwritable path)."""


class NameTaken(StorageError):
    """A certificate (or environment) name is already in use."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"the {kind} name {name!r} is already taken: choose another name")
        self.kind = kind
        self.name = name


class MigrationError(StorageError):
    """The database's schema revision cannot be reached from, or is unknown to, this code."""


class EnvironmentBusy(StorageError):
    """The environment already has a current (updating or active) assignment."""

    def __init__(self, environment_id: int) -> None:
        super().__init__(
            f"environment #{environment_id} already has a current certificate assignment: "
            "mark it replaced first"
        )
        self.environment_id = environment_id


class RecordMissing(StorageError):
    """No row of `kind` answers to `key` (a name people typed, or an id)."""

    def __init__(self, kind: str, key: object) -> None:
        text = f"no {kind} named {key!r}" if isinstance(key, str) else f"no {kind} with id {key}"
        super().__init__(text)
        self.kind = kind
        self.key = key
