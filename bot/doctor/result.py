"""One item of the doctor's report: its status, what was found, and what to do about it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"  # works, but something an operator should know or may want to change
    FAIL = "fail"  # the bot will not work as configured: `certops doctor` exits 1
    SKIP = "skip"  # could not be checked because an earlier item failed


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    what: str
    fix: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": str(self.status), "what": self.what, "fix": self.fix}


def ok(name: str, what: str) -> CheckResult:
    return CheckResult(name, Status.OK, what)


def warn(name: str, what: str, fix: str) -> CheckResult:
    return CheckResult(name, Status.WARN, what, fix)


def fail(name: str, what: str, fix: str) -> CheckResult:
    return CheckResult(name, Status.FAIL, what, fix)


def skip(name: str, what: str) -> CheckResult:
    return CheckResult(name, Status.SKIP, what)
