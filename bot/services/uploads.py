"""Checking an upload without saving it: the shared pipeline, then what the answer needs.

The check itself is `bot.pipeline` (read, then validate), exactly as `certops validate`
runs it; nothing is stored here (saving goes through the certificates service). On top
of the report this says what the conversation needs next: is a password missing, did
the upload carry a private key (the person is reminded to delete that message). The
report is redacted against this upload's secrets before anyone renders it.

`InputFile` and `Passwords` are the pipeline's, named here for the handlers (which give
files and passwords to the services and never import the pipeline).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding

from bot.check_child import summarize
from bot.isolation import Isolated
from bot.metrics_scope import record_validation
from bot.pipeline.findings import missing_secrets
from bot.pipeline.hostnames import InvalidHostname, normalize
from bot.pipeline.material import InputFile, Passwords
from bot.services import names, redaction
from bot.services.context import ServiceContext
from bot.services.errors import ServiceError

__all__ = [
    "Checked",
    "InputFile",
    "Passwords",
    "check_domain",
    "check_upload",
    "suggested_domain",
    "suggested_name",
]

PASSWORD_CODES = frozenset({"password_required", "wrong_password"})
KEY_KINDS = frozenset({"private_key", "bundle", "pkcs12"})


@dataclass(frozen=True)
class Checked:
    report: dict[str, Any]
    key_sent: bool  # a private key (readable or locked) was among the files
    needs_password: bool
    has_zip: bool
    needs: tuple[str, ...] = ()  # the passwords the report says were not given: key, zip

    @property
    def valid(self) -> bool:
        return self.report.get("verdict") == "valid"

    @property
    def codes(self) -> list[str]:
        return [str(f.get("code")) for f in self.report.get("findings", [])]


def check_upload(
    ctx: ServiceContext,
    files: Sequence[InputFile],
    passwords: Passwords = Passwords(),  # noqa: B008 - frozen, harmless default
    *,
    domain: str | None = None,
    isolated: Isolated | None = None,
) -> Checked:
    """Check `files`; in a worker process when `isolated` is given (bot/isolation.py:
    a key derivation there does not hold this process's GIL)."""
    roots = [cert.public_bytes(Encoding.DER) for cert in ctx.extra_roots]
    args = (list(files), passwords, domain, roots, ctx.now())
    summary = isolated.run(summarize, *args) if isolated is not None else summarize(*args)
    record_validation(summary.verdict)  # counted on the app's /metrics
    data = redaction.redact(summary.report, redaction.secrets_of(files, passwords))
    locked = bool(summary.codes & PASSWORD_CODES)
    return Checked(
        report=data,
        # A locked ZIP may hold a key: remind, to be safe. An open one shows what it held.
        key_sent=summary.has_keys
        or bool(summary.kinds & KEY_KINDS)
        or ("zip" in summary.kinds and locked),
        needs_password=locked,
        has_zip="zip" in summary.kinds,
        needs=tuple(sorted(missing_secrets(summary.report.get("findings", [])))),
    )


def suggested_name(report: dict[str, Any]) -> str:
    """A unique-looking certificate name: the first name it covers and its expiry year,
    made to fit the naming rule (`*.example.com` -> `wildcard.example.com-2027`; a SAN
    such as `<!channel>.example.com` loses what the rule does not allow)."""
    cert = report.get("certificate") or {}
    sans = [str(s) for s in cert.get("sans") or []]
    year = str(cert.get("not_after") or "")[:4]
    return names.fit_name(sans[0] if sans else "", f"-{year}" if year.isdigit() else "")


def suggested_domain(report: dict[str, Any]) -> str:
    cert = report.get("certificate") or {}
    sans = [str(s) for s in cert.get("sans") or []]
    return sans[0] if sans else ""


def check_domain(domain: str) -> None:
    """The Domain typed in a form: a host name or a *.wildcard (ServiceError otherwise),
    checked before anything is downloaded."""
    try:
        normalize(domain, allow_wildcard=True)
    except InvalidHostname as error:
        raise ServiceError("invalid_input", f"Not a host name or *.wildcard: {error}") from None
