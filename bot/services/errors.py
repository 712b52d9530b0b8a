"""The one error type that services raise when a rule refuses.

A refusal is not a crash: it carries a stable `code` (what `--json` prints and what the
Slack layer matches on to render a message), one sentence for a person, and optional
details (a validation or DNS report) that explain it. Callers never see a traceback.
"""

from __future__ import annotations

from typing import Any

# The codes are a public contract: add codes, never rename one.
CODES: dict[str, str] = {
    "invalid_input": "an argument is malformed (a name, a host name, a state)",
    "not_found": "no record with that name or id",
    "not_admin": "only an admin may do this",
    "name_taken": "a certificate with that name exists",
    "environment_exists": "an environment with that name exists",
    "certificate_invalid": "the validation found errors and manual validation was not asked",
    "certificate_unreadable": "not even the certificate could be read, nothing to store",
    "certificate_not_assignable": "the certificate is not validated or approved",
    "certificate_expired": "the certificate is out of its validity period",
    "hostname_not_covered": "the certificate does not cover the hostname",
    "cname_not_confirmed": "the person did not confirm that the CNAME exists",
    "dns_misconfigured": "the DNS check found the hostname misconfigured",
    "lifetime_needs_ticket": "LifeTime is changed only through a support ticket",
    "not_lifetime": "tickets are only for the LifeTime environment",
    "no_lifetime_environment": "no LifeTime environment is registered",
    "ticket_not_allowed": "the certificate was not uploaded on another environment first",
    "ticket_already_open": "an open ticket exists for this certificate and hostname",
    "case_number_required": "the support case number is needed to mark a ticket submitted",
    "invalid_transition": "the ticket or certificate cannot move to that state from here",
    "nothing_to_renew": "the certificate renews nothing, or the old one serves nowhere",
    "concurrent_change": "another change to the same record won the race",
    "database_unavailable": "the database did not answer",
    # Adopting what a hostname serves (issue 17).
    "unresolvable": "the hostname does not resolve through the configured nameservers",
    "address_refused": "the hostname resolves to a loopback or link-local address",
    "handshake_failed": "no certificate could be read from the hostname (connection, TLS)",
    "served_unreadable": "what the hostname sent is not one readable certificate",
    "assignment_in_progress": "the environment's current assignment is still updating",
    "lifetime_not_configured": "no LifeTime URL or LIFETIME_API_TOKEN, or an unreadable trust store",
    "lifetime_refused": "LifeTime refused the token (401) or the service account (403)",
    "lifetime_no_environments": "LifeTime lists no environments (204)",
    "lifetime_not_found": "no LifeTime API at that URL (404)",
    "lifetime_unreachable": "LifeTime could not be reached: TLS, timeout, refused, redirect, HTTP error",
    "lifetime_bad_answer": "LifeTime's answer is not the documented shape (not JSON, wrong types, too big)",
}


class ServiceError(Exception):
    """A rule refused the request. `code` is one of CODES."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        if code not in CODES:
            raise ValueError(f"unknown service error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.details: dict[str, Any] = details or {}

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"ok": False, "code": self.code, "message": self.message}
        data.update(self.details)
        return data


class NotFound(ServiceError):
    def __init__(self, kind: str, key: object) -> None:
        text = f"no {kind} named {key!r}" if isinstance(key, str) else f"no {kind} with id {key}"
        super().__init__("not_found", text)
        self.kind = kind


class NotAdmin(ServiceError):
    def __init__(self, action: str) -> None:
        super().__init__("not_admin", f"only an admin may {action}")


class DatabaseDown(ServiceError):
    """The database cannot be used; the message is storage's one line (no credentials)."""

    def __init__(self, message: str = "") -> None:
        super().__init__("database_unavailable", message or "the database is unavailable")
