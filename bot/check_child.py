"""The pure check of uploaded files, shaped to run in another process (bot/isolation.py).

Everything in and out is plain data (bytes, strings, a datetime, the report as a dict),
so it crosses a process boundary: certificates travel as DER and are parsed again on the
other side. Imports only the pipeline, so a worker process starts light.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from bot.memory import give_back
from bot.pipeline.material import InputFile, Passwords
from bot.pipeline.readers import read_inputs
from bot.pipeline.validate import ValidateOptions, validate_material


@dataclass(frozen=True)
class Summary:
    """What the bot needs of a check: the report and what the files were."""

    report: dict[str, Any]
    verdict: str
    kinds: frozenset[str]
    codes: frozenset[str]
    has_keys: bool


def summarize(
    files: Sequence[InputFile],
    passwords: Passwords,
    domain: str | None,
    roots_der: Sequence[bytes],
    now: dt.datetime,
) -> Summary:
    """Read and validate `files` (the pipeline, exactly as `certops validate` runs it);
    afterwards the memory the check freed goes back to the system."""
    try:
        return _summarize(files, passwords, domain, roots_der, now)
    finally:
        give_back()


def _summarize(
    files: Sequence[InputFile],
    passwords: Passwords,
    domain: str | None,
    roots_der: Sequence[bytes],
    now: dt.datetime,
) -> Summary:
    material = read_inputs(files, passwords)
    roots = tuple(x509.load_der_x509_certificate(der) for der in roots_der)
    report = validate_material(material, ValidateOptions(domain=domain, extra_roots=roots, now=now))
    return Summary(
        report=report.to_dict(),
        verdict=report.verdict,
        kinds=frozenset(summary.kind for summary in material.inputs),
        codes=frozenset(finding.code for finding in report.findings),
        has_keys=bool(material.keys),
    )
