"""The LifeTime service account, when LIFETIME_API_TOKEN is set: one GET of the list of
environments, the request `certops env sync` makes (issue 17).

200 and 204 mean the token works (204: it sees no environment, which a sync reports);
401 is the token, 403 the service account's permissions. Not set: no item at all, only
`env sync` needs it.
"""

from __future__ import annotations

from bot.doctor.result import CheckResult, fail, ok, warn
from bot.pipeline.lifetime_api import LifetimeError, list_environments
from bot.services.environment_sync import lifetime_target
from bot.services.errors import ServiceError
from bot.settings import Settings
from bot.trust_roots import TrustRootsError, setting_roots

NAME = "lifetime"
TIMEOUT = 10.0
_FIXES = {
    "unauthorized": "put a current token of a LifeTime service account in LIFETIME_API_TOKEN "
    "(LifeTime > User Management > Service Accounts: a new token if it expired or was revoked)",
    "forbidden": "give the service account a role that may see the environments in LifeTime",
    "not_found": "set CERTOPS_LIFETIME_URL to LifeTime's own address, "
    "such as https://acme-lt.outsystemsenterprise.com",
    "tls": "if LifeTime's certificate comes from a private CA, name its root in CERTOPS_TRUST_STORE",
}


def token(settings: Settings) -> CheckResult | None:
    if not settings.lifetime_api_token:
        return None
    if not settings.lifetime_url:
        return warn(
            NAME,
            "LIFETIME_API_TOKEN is set but CERTOPS_LIFETIME_URL is not",
            "set CERTOPS_LIFETIME_URL to LifeTime's address (/cert env sync needs it)",
        )
    try:
        roots = setting_roots(settings)
    except TrustRootsError as error:
        return fail(NAME, str(error), "fix the file named in CERTOPS_TRUST_STORE")
    try:
        target = lifetime_target(settings, timeout=TIMEOUT, extra_roots=roots)
    except ServiceError as error:
        return fail(NAME, error.message, "fix the setting named")
    try:
        listed = list_environments(target)
    except LifetimeError as error:
        if error.code == "no_environments":
            return ok(
                NAME, f"the token works at {target.base_url}; it sees no environment (HTTP 204)"
            )
        return fail(NAME, error.message, _FIXES.get(error.code, "see the reason above"))
    return ok(NAME, f"the token works at {target.base_url}: it sees {len(listed)} environment(s)")
