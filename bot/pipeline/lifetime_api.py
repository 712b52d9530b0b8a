"""LifeTime's REST API v2, as far as certops reads it: the list of environments.

`GET /lifetimeapi/rest/v2/environments/` with a service account's bearer token answers an
array of `Environment` objects (Key, Name, HostName, EnvironmentType, Order, ...) or 204
when there are none (shared/outsystems/lifetime-api-v2.swagger.json). What comes back is
checked strictly before anyone uses it: a record built from a half-understood answer is
worse than none. Every way of failing ends in one `LifetimeError` whose message is one
line a person can act on.

Bounded: one deadline for the whole request (connection, TLS, headers and body), a cap on
the body read before it is parsed, and on how many environments an answer may list.
TLS is verified against the system's roots, certifi's and the extra roots given
(CERTOPS_TRUST_STORE's, read once by bot/trust_roots.py: no file is read here). Redirects are never followed (the token goes to the address given,
nowhere else), the URL may carry no credentials or query, and the token appears in no
message, URL or log line: errors are worded here, never passed on from the libraries.

Network code with no Slack and no database, like the AIA fetch and the TLS probe: the
pipeline's layer.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import re
import socket
import ssl
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from bot.pipeline.hostnames import InvalidHostname, normalize
from bot.pipeline.trust import certifi_roots

API_BASE = "/lifetimeapi/rest/v2"
ENVIRONMENTS_PATH = f"{API_BASE}/environments/"
DEFAULT_TIMEOUT = 15.0  # seconds for the whole request
MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_ENVIRONMENTS = 500
# The documented values of Environment.EnvironmentType.
ENVIRONMENT_TYPES = ("Development", "Test", "Production")
MAX_NAME_CHARS = 200
MAX_FIELD_CHARS = 2048  # the other string fields (a version, a URL): read, never stored
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_INT32 = (-(2**31), 2**31 - 1)
# The other documented fields of Environment and their JSON types: checked when present.
_OPTIONAL_FIELDS: dict[str, type | tuple[type, ...]] = {
    "OSVersion": str,
    "Order": int,
    "DetailsURL": str,
    "UseHTTPS": bool,
    "NumberOfFrontEnds": int,
    "ApplicationServerType": str,
    "ApplicationServer": str,
    "DatabaseProvider": str,
    "IsCloudEnvironment": bool,
}
_CHUNK = 64 * 1024


class LifetimeError(Exception):
    """The list could not be had; `message` is the one line to show, `code` says why:
    unauthorized, forbidden, no_environments, not_found, redirected, http_status, tls,
    timeout, refused, unresolvable, unreachable, bad_answer, invalid_url."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class LifetimeEnvironment:
    """One environment as LifeTime lists it, checked: `host_name` is a canonical LDH name."""

    key: str
    name: str
    host_name: str
    environment_type: str
    order: int | None = None


@dataclass(frozen=True)
class LifetimeTarget:
    """Where and how to ask: LifeTime's address, the token, the roots, the budget."""

    base_url: str  # https://host[:port], never with a path, credentials or a query
    host: str
    port: int
    token: str = field(repr=False)
    extra_roots: tuple[x509.Certificate, ...] = ()
    connect_address: str | None = None  # tests and labs: this IP instead of the host's
    timeout: float = DEFAULT_TIMEOUT
    max_bytes: int = MAX_BODY_BYTES
    max_environments: int = MAX_ENVIRONMENTS


def parse_url(text: str) -> tuple[str, str, int]:
    """LifeTime's address as (base URL, host, port); `InvalidUrl` (a LifetimeError) if
    it is not an https address of a host name.

    `acme-lt.outsystemsenterprise.com`, `https://acme-lt.outsystemsenterprise.com/` and the
    API's own base `https://.../lifetimeapi/rest/v2` all name the same LifeTime. Not echoed
    whole in errors: a URL pasted with a token in it stays out of the terminal's history.
    """
    raw = text.strip()
    if "://" not in raw:
        raw = "https://" + raw
    try:
        parts = urlsplit(raw)
        port = parts.port or 443
    except ValueError:
        raise _invalid("it is not a URL") from None
    if parts.scheme.lower() != "https":
        raise _invalid("it must be https:// (the token never goes over plain http)")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise _invalid(
            "it may not carry a user name or password (the token comes from LIFETIME_API_TOKEN)"
        )
    if parts.query or parts.fragment:
        raise _invalid("it may not carry a query or a fragment")
    if parts.path.rstrip("/") not in {"", API_BASE}:
        raise _invalid(f"give LifeTime's address itself (its API is at {API_BASE})")
    host = parts.hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        raise _invalid("give LifeTime's host name, not an IP address")
    if not host.isascii():
        raise _invalid("write an internationalised host name as its A-labels (xn--...)")
    try:
        host = normalize(host)
    except InvalidHostname as error:
        raise _invalid(str(error)) from None
    base = f"https://{host}" + (f":{port}" if port != 443 else "")
    return base, host, port


def _invalid(why: str) -> LifetimeError:
    return LifetimeError("invalid_url", f"the LifeTime URL is not usable: {why}")


def list_environments(target: LifetimeTarget) -> list[LifetimeEnvironment]:
    """LifeTime's environments, checked; a `LifetimeError` for anything else (204 too)."""
    status, body = _get(target, ENVIRONMENTS_PATH)
    if status == 204:
        raise LifetimeError(
            "no_environments",
            f"LifeTime at {target.base_url} lists no environments (HTTP 204): the service "
            "account may see none of them; nothing was changed",
        )
    return parse_environments(body, target.max_environments)


def tls_context(extra_roots: Sequence[x509.Certificate] = ()) -> ssl.SSLContext:
    """A verifying client context: the system's roots, certifi's, and the extra ones."""
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    roots = [*certifi_roots(), *extra_roots]
    if roots:
        context.load_verify_locations(
            cadata=b"".join(root.public_bytes(serialization.Encoding.DER) for root in roots)
        )
    return context


class _Connection(http.client.HTTPSConnection):
    """HTTPS to `host`, optionally through another address (tests and labs), verified
    against `host` either way."""

    def __init__(self, target: LifetimeTarget, context: ssl.SSLContext, deadline: float) -> None:
        super().__init__(target.host, target.port, timeout=target.timeout, context=context)
        self._tls = context
        self._address = target.connect_address
        self._deadline = deadline

    def _remaining(self) -> float:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        return remaining

    def connect(self) -> None:
        address = (self._address or self.host, self.port)
        sock = socket.create_connection(address, self._remaining())
        try:
            sock.settimeout(self._remaining())
            self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


def _get(target: LifetimeTarget, path: str) -> tuple[int, bytes]:
    """(status, body) of one GET; the body only for 200, read within the cap and deadline."""
    deadline = time.monotonic() + target.timeout
    context = tls_context(target.extra_roots)
    connection = _Connection(target, context, deadline)
    try:
        connection.request(
            "GET",
            path,
            headers={
                "Authorization": f"Bearer {target.token}",
                "Accept": "application/json",
                "User-Agent": "certops",
            },
        )
        _left(deadline, connection)
        response = connection.getresponse()
        status = response.status
        _check_status(target, status)
        body = _read(response, connection, deadline, target) if status == 200 else b""
        return status, body
    except LifetimeError:
        raise
    except Exception as error:  # worded here: a library's text may quote the request
        raise _network_error(target, error) from None
    finally:
        connection.close()


def _left(deadline: float, connection: _Connection) -> None:
    """Give the socket only what is left of the deadline (a trickle cannot stretch it)."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError
    if connection.sock is not None:
        connection.sock.settimeout(remaining)


def _check_status(target: LifetimeTarget, status: int) -> None:
    base = target.base_url
    if status in {200, 204}:
        return
    if status == 401:
        raise LifetimeError(
            "unauthorized",
            f"LifeTime at {base} refused the token (HTTP 401): LIFETIME_API_TOKEN must be a "
            "current token of a LifeTime service account (not expired, not revoked)",
        )
    if status == 403:
        raise LifetimeError(
            "forbidden",
            f"LifeTime at {base} refused the service account (HTTP 403): give it a role "
            "that may see the environments (LifeTime > User Management > Service Accounts)",
        )
    if status == 404:
        raise LifetimeError(
            "not_found",
            f"no LifeTime API at {base} (HTTP 404): give LifeTime's own address, such as "
            "https://acme-lt.outsystemsenterprise.com",
        )
    if 300 <= status < 400:
        raise LifetimeError(
            "redirected",
            f"{base} answered with a redirect (HTTP {status}), not followed: the token goes "
            "only to the address given; give LifeTime's own address",
        )
    raise LifetimeError(
        "http_status", f"LifeTime at {base} answered HTTP {status}: try again later"
    )


def _read(
    response: http.client.HTTPResponse,
    connection: _Connection,
    deadline: float,
    target: LifetimeTarget,
) -> bytes:
    """The body, at most `max_bytes` (a larger declared or actual size is refused)."""
    declared = response.getheader("Content-Length")
    if declared is not None and declared.strip().isdigit() and int(declared) > target.max_bytes:
        raise _too_big(target)
    chunks: list[bytes] = []
    size = 0
    while True:
        _left(deadline, connection)
        chunk = response.read(min(_CHUNK, target.max_bytes + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > target.max_bytes:
            raise _too_big(target)
    return b"".join(chunks)


def _too_big(target: LifetimeTarget) -> LifetimeError:
    return LifetimeError(
        "bad_answer",
        f"LifeTime's answer is larger than {target.max_bytes // (1024 * 1024)} MiB, more "
        "than a list of environments is: not read",
    )


def _network_error(target: LifetimeTarget, error: Exception) -> LifetimeError:
    """One line for what went wrong on the way, naming the reason, never the request."""
    where = f"{target.host}:{target.port}"
    if isinstance(error, ssl.SSLCertVerificationError):
        reason = error.verify_message or error.reason or "not trusted"
        return LifetimeError(
            "tls",
            f"TLS: the certificate of {where} was not accepted ({reason}); a private CA's "
            "root goes into CERTOPS_TRUST_STORE",
        )
    if isinstance(error, TimeoutError):
        return LifetimeError(
            "timeout", f"LifeTime at {target.base_url} did not answer within {target.timeout:g} s"
        )
    if isinstance(error, ssl.SSLError):
        return LifetimeError(
            "tls", f"TLS with {where} failed ({error.reason or type(error).__name__})"
        )
    if isinstance(error, ConnectionRefusedError):
        return LifetimeError("refused", f"{where} refused the connection: nothing listens there")
    if isinstance(error, socket.gaierror):
        return LifetimeError("unresolvable", f"{target.host} does not resolve ({error.strerror})")
    if isinstance(error, ConnectionResetError | BrokenPipeError | http.client.RemoteDisconnected):
        return LifetimeError("unreachable", f"{where} closed the connection without an answer")
    if isinstance(error, http.client.HTTPException):
        return LifetimeError(
            "bad_answer", f"{where} did not answer in HTTP ({type(error).__name__})"
        )
    if isinstance(error, OSError):
        return LifetimeError(
            "unreachable", f"{where} cannot be reached ({error.strerror or type(error).__name__})"
        )
    return LifetimeError("unreachable", f"the request to {where} failed ({type(error).__name__})")


# --- the answer's shape ------------------------------------------------------------------


def _bad(why: str) -> LifetimeError:
    return LifetimeError(
        "bad_answer", f"LifeTime's answer is not the documented list of environments: {why}"
    )


def _shown(value: object) -> str:
    """A value from the answer, short enough for one line."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_environments(
    body: bytes, max_environments: int = MAX_ENVIRONMENTS
) -> list[LifetimeEnvironment]:
    """The environments of a 200 answer, each checked against the swagger's Environment."""
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _bad("it is not JSON") from None
    if not isinstance(data, list):
        raise _bad(f"a JSON {type(data).__name__} where an array belongs")
    if len(data) > max_environments:
        raise _bad(
            f"it lists {len(data)} environments, more than the {max_environments} certops takes"
        )
    found: list[LifetimeEnvironment] = []
    keys: set[str] = set()
    hosts: set[str] = set()
    for index, item in enumerate(data, 1):
        env = _environment(index, item)
        if env.key.lower() in keys:
            raise _bad(f"environment {index}: the Key {env.key!r} is listed twice")
        if env.host_name in hosts:
            raise _bad(f"environment {index}: the HostName {env.host_name!r} is listed twice")
        keys.add(env.key.lower())
        hosts.add(env.host_name)
        found.append(env)
    return found


def _environment(index: int, item: Any) -> LifetimeEnvironment:
    where = f"environment {index}"
    if not isinstance(item, dict):
        raise _bad(f"{where} is a JSON {type(item).__name__}, not an object")
    for name in ("Key", "Name", "HostName", "EnvironmentType"):
        if not isinstance(item.get(name), str):
            got = "missing" if name not in item else f"a {type(item[name]).__name__}"
            raise _bad(f"{where}: {name} is {got}, not a string")
    for name, kind in _OPTIONAL_FIELDS.items():
        value = item.get(name)
        if value is None:
            continue
        # bool is an int in Python: an integer field holding true is not an integer.
        wrong = not isinstance(value, kind) or (kind is int and isinstance(value, bool))
        if wrong:
            raise _bad(f"{where}: {name} is {_shown(value)}, not of the documented type")
        if isinstance(value, str) and len(value) > MAX_FIELD_CHARS:
            raise _bad(f"{where}: {name} is longer than {MAX_FIELD_CHARS} characters")
    key = item["Key"]
    if not _KEY.fullmatch(key):
        raise _bad(f"{where}: Key {_shown(key)} is not an identifier")
    name = item["Name"].strip()
    if (
        not name
        or len(name) > MAX_NAME_CHARS
        or any(unicodedata.category(ch)[0] == "C" for ch in name)
    ):
        raise _bad(
            f"{where}: Name {_shown(item['Name'])} is empty, too long or holds control characters"
        )
    host = item["HostName"]
    try:
        if not host.isascii():
            raise InvalidHostname("it holds characters outside ASCII")
        host = normalize(host)
    except InvalidHostname as error:
        raise _bad(
            f"{where}: HostName {_shown(item['HostName'])} is not a host name ({error})"
        ) from None
    kind = item["EnvironmentType"]
    if kind not in ENVIRONMENT_TYPES:
        raise _bad(
            f"{where}: EnvironmentType {_shown(kind)} is not one of {', '.join(ENVIRONMENT_TYPES)}"
        )
    order = item.get("Order")
    if order is not None and not _INT32[0] <= order <= _INT32[1]:
        raise _bad(f"{where}: Order {_shown(order)} is not a 32-bit integer")
    return LifetimeEnvironment(
        key=key, name=name, host_name=host, environment_type=kind, order=order
    )
