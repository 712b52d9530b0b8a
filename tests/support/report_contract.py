"""The JSON contract of a validation report (DESIGN.md), as a JSON schema plus the checks a
schema cannot make: every report a test sees, in process or from `certops validate --json`,
is checked against it.

Shared by tests/test_validate_report.py and tests/test_cli_validate.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import jsonschema

_STR = {"type": "string"}
_FINDING = {
    "type": "object",
    "required": ["code", "severity", "message", "hint"],
    "additionalProperties": False,
    "properties": {
        "code": _STR,
        "severity": {"enum": ["error", "warning", "info"]},
        "message": _STR,
        "hint": _STR,
    },
}


_CERTIFICATE = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "subject",
        "issuer",
        "serial",
        "sans",
        "not_before",
        "not_after",
        "days_left",
        "fingerprint_sha256",
        "key",
        "signature_algorithm",
    ],
    "properties": {
        "subject": _STR,
        "issuer": _STR,
        "serial": {"type": "string", "pattern": "^[0-9A-F]+$"},
        "sans": {"type": "array", "items": _STR},
        "not_before": {"type": "string", "format": "date-time"},
        "not_after": {"type": "string", "format": "date-time"},
        "days_left": {"type": "integer"},
        "fingerprint_sha256": {"type": "string", "pattern": "^([0-9A-F]{2}:){31}[0-9A-F]{2}$"},
        "key": {
            "type": "object",
            "required": ["type", "bits"],
            "additionalProperties": False,
            "properties": {"type": _STR, "bits": {"type": "integer"}},
        },
        "signature_algorithm": _STR,
    },
}


REPORT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["verdict", "findings", "certificate", "chain", "inputs"],
    "additionalProperties": False,
    "properties": {
        "verdict": {"enum": ["valid", "invalid"]},
        "findings": {"type": "array", "items": _FINDING},
        "certificate": {"oneOf": [{"type": "null"}, _CERTIFICATE]},
        "chain": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["subject", "issuer", "not_after", "fingerprint_sha256", "source"],
                "properties": {
                    "subject": _STR,
                    "issuer": _STR,
                    "not_after": {"type": "string", "format": "date-time"},
                    "fingerprint_sha256": _STR,
                    "source": {"enum": ["uploaded", "trust_store", "fetched"]},
                },
            },
        },
        "inputs": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "kind"],
                "properties": {"name": _STR, "kind": _STR},
            },
        },
    },
}


def check_contract(data: dict[str, Any]) -> None:
    """Validate against the schema, date-times included; used by the CLI tests too."""
    jsonschema.validate(data, REPORT_SCHEMA, format_checker=jsonschema.FormatChecker())
    # the format checker needs an optional package for date-time: check it here too
    dates = (
        [data["certificate"]["not_before"], data["certificate"]["not_after"]]
        if data["certificate"]
        else []
    )
    dates += [entry["not_after"] for entry in data["chain"]]
    for text in dates:
        assert text.endswith("Z") and dt.datetime.fromisoformat(text).tzinfo is not None
    has_error = any(f["severity"] == "error" for f in data["findings"])
    assert data["verdict"] == ("invalid" if has_error else "valid")
