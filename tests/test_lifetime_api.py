"""The LifeTime API client against the stand-in built from the swagger file (HTTPS on
loopback, a test CA): every answer ends in the environments or in one `LifetimeError`
line, and the token is sent only in the Authorization header."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.pipeline.lifetime_api import (
    ENVIRONMENTS_PATH,
    LifetimeError,
    LifetimeTarget,
    list_environments,
    parse_environments,
    parse_url,
)
from bot.settings import Settings, load
from tests.support.lifetime_server import (
    DEFAULT_ENVIRONMENTS,
    LT_HOST,
    TOKEN,
    LifetimeServer,
    environment,
    environments_path,
)


@pytest.fixture
def lifetime(tmp_path: Path) -> Iterator[LifetimeServer]:
    with LifetimeServer(tmp_path) as server:
        yield server


def _target(server: LifetimeServer, **changes: object) -> LifetimeTarget:
    base, host, port = parse_url(server.url)
    target = LifetimeTarget(
        base, host, port, TOKEN, extra_roots=(server.ca.cert,), connect_address="127.0.0.1"
    )
    return replace(target, **changes)  # type: ignore[arg-type]


def _error(target: LifetimeTarget) -> LifetimeError:
    with pytest.raises(LifetimeError) as caught:
        list_environments(target)
    error = caught.value
    assert "\n" not in error.message and TOKEN not in error.message and TOKEN not in str(error)
    return error


def test_the_stand_in_serves_the_swagger_path_and_shapes(lifetime: LifetimeServer) -> None:
    assert environments_path() == ENVIRONMENTS_PATH
    listed = list_environments(_target(lifetime))
    assert [(e.name, e.host_name, e.environment_type, e.order) for e in listed] == [
        ("Development", "acme-dev.outsystemsenterprise.com", "Development", 1),
        ("Quality", "acme-qa.outsystemsenterprise.com", "Test", 2),
        ("Production", "acme.outsystemsenterprise.com", "Production", 3),
    ]
    (request,) = lifetime.requests
    assert (request.method, request.path) == ("GET", ENVIRONMENTS_PATH)
    assert request.authorization == f"Bearer {TOKEN}"
    assert request.raw.count(TOKEN.encode()) == 1  # in the header only, not in the path


@pytest.mark.parametrize(
    ("mode", "code", "words"),
    [
        ("empty", "no_environments", "lists no environments (HTTP 204)"),
        ("unauthorized", "unauthorized", "refused the token (HTTP 401): LIFETIME_API_TOKEN"),
        ("forbidden", "forbidden", "refused the service account (HTTP 403)"),
        ("not_found", "not_found", "no LifeTime API at https://acme-lt"),
        ("malformed", "bad_answer", "not the documented list of environments: it is not JSON"),
        ("huge", "bad_answer", "larger than 5 MiB"),
        ("redirect", "redirected", "redirect (HTTP 302), not followed"),
    ],
)
def test_each_answer_ends_in_one_line(
    lifetime: LifetimeServer, mode: str, code: str, words: str
) -> None:
    lifetime.mode = mode
    error = _error(_target(lifetime))
    assert error.code == code and words in error.message
    assert len(lifetime.requests) == 1  # asked once, nothing followed


def test_a_server_that_never_speaks_is_a_timeout(lifetime: LifetimeServer) -> None:
    lifetime.mode = "silent"
    started = time.monotonic()
    error = _error(_target(lifetime, timeout=1.0))
    assert error.code == "timeout" and "did not answer within 1 s" in error.message
    assert time.monotonic() - started < 3


def test_a_slow_answer_is_bounded_by_one_deadline(lifetime: LifetimeServer) -> None:
    import threading

    lifetime.gate = threading.Event()  # TLS and the request go through, the answer waits
    try:
        started = time.monotonic()
        error = _error(_target(lifetime, timeout=1.0))
        assert error.code == "timeout" and time.monotonic() - started < 3
    finally:
        lifetime.gate.set()


def test_tls_errors_name_the_reason(lifetime: LifetimeServer) -> None:
    untrusted = _error(_target(lifetime, extra_roots=()))
    assert untrusted.code == "tls" and "unable to get local issuer certificate" in untrusted.message
    assert "CERTOPS_TRUST_STORE" in untrusted.message
    other_name = _error(_target(lifetime, host="other-lt.outsystemsenterprise.com"))
    assert other_name.code == "tls" and "Hostname mismatch" in other_name.message


def test_connection_refused_and_unresolvable(lifetime: LifetimeServer) -> None:
    refused = _error(_target(lifetime, port=1))
    assert refused.code == "refused" and "refused the connection" in refused.message
    nowhere = _error(_target(lifetime, host="lifetime.invalid", connect_address=None))
    assert nowhere.code == "unresolvable" and "lifetime.invalid does not resolve" in nowhere.message


def test_the_extra_roots_of_the_context_are_trusted_too(lifetime: LifetimeServer) -> None:
    target = _target(lifetime, extra_roots=(lifetime.ca.cert,))
    assert len(list_environments(target)) == 3


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "https://acme-lt.outsystemsenterprise.com",
            ("https://acme-lt.outsystemsenterprise.com", 443),
        ),
        ("acme-lt.outsystemsenterprise.com/", ("https://acme-lt.outsystemsenterprise.com", 443)),
        (
            "https://ACME-LT.outsystemsenterprise.com:8443/lifetimeapi/rest/v2/",
            ("https://acme-lt.outsystemsenterprise.com:8443", 8443),
        ),
    ],
)
def test_urls_that_name_lifetime(given: str, expected: tuple[str, int]) -> None:
    base, host, port = parse_url(given)
    assert (base, port) == expected and host == "acme-lt.outsystemsenterprise.com"


@pytest.mark.parametrize(
    ("given", "why"),
    [
        ("http://acme-lt.outsystemsenterprise.com", "must be https://"),
        (f"https://user:{TOKEN}@acme-lt.outsystemsenterprise.com", "user name or password"),
        (f"https://acme-lt.outsystemsenterprise.com/?token={TOKEN}", "query"),
        ("https://acme-lt.outsystemsenterprise.com/lifetime/", "LifeTime's address itself"),
        ("https://127.0.0.1", "not an IP address"),
        ("https://bad_host.example.com", "may hold only letters"),
        ("https://acme-lt.outsystemsenterprise.com:99999", "not a URL"),
    ],
)
def test_urls_refused_without_echoing_them(given: str, why: str) -> None:
    with pytest.raises(LifetimeError) as caught:
        parse_url(given)
    assert caught.value.code == "invalid_url" and why in caught.value.message
    assert TOKEN not in caught.value.message


def _body(*items: object) -> bytes:
    return json.dumps(list(items)).encode()


def _shape_error(body: bytes, limit: int = 500) -> str:
    with pytest.raises(LifetimeError) as caught:
        parse_environments(body, limit)
    assert caught.value.code == "bad_answer"
    return caught.value.message


def test_the_documented_shape_is_read_with_a_bom_and_unknown_fields() -> None:
    item = {**environment("k-1", "Dev (EU)", "ACME-DEV.outsystemsenterprise.com."), "Extra": [1]}
    (env,) = parse_environments(b"\xef\xbb\xbf" + _body(item))
    assert (env.key, env.name, env.host_name) == (
        "k-1",
        "Dev (EU)",
        "acme-dev.outsystemsenterprise.com",
    )


def _with(**changes: object) -> dict[str, object]:
    return {**DEFAULT_ENVIRONMENTS[0], **changes}


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"Key": "k"}', "a JSON dict where an array belongs"),
        (b"[" * 100_000, "not JSON"),
        (b"\xff\xfe[]", "not JSON"),
        (_body("Development"), "environment 1 is a JSON str"),
        (
            _body({k: v for k, v in DEFAULT_ENVIRONMENTS[0].items() if k != "HostName"}),
            "HostName is missing",
        ),
        (_body(_with(Name=7)), "Name is a int, not a string"),
        (_body(_with(Order="1")), "Order is '1', not of the documented type"),
        (_body(_with(Order=True)), "Order is True"),
        (_body(_with(UseHTTPS="yes")), "UseHTTPS is 'yes'"),
        (_body(_with(Order=2**40)), "not a 32-bit integer"),
        (_body(_with(OSVersion="1" * 2049)), "OSVersion is longer than 2048"),
        (_body(_with(Key="a b")), "Key 'a b' is not an identifier"),
        (_body(_with(Name=" ")), "Name ' ' is empty"),
        (_body(_with(Name="x" * 201)), "too long"),
        (_body(_with(Name="Dev\u0007")), "control characters"),
        (_body(_with(HostName="acme dev.example.com")), "is not a host name"),
        (_body(_with(HostName="straße.example.com")), "outside ASCII"),
        (_body(_with(HostName="10.0.0.1")), "looks like an IP address"),
        (_body(_with(EnvironmentType="Staging")), "not one of Development, Test, Production"),
        (_body(DEFAULT_ENVIRONMENTS[0], _with(HostName="b.example.com")), "Key '6b1f0b4e"),
        (_body(DEFAULT_ENVIRONMENTS[0], _with(Key="other")), "listed twice"),
    ],
)
def test_anything_else_is_refused_in_one_line(body: bytes, words: str) -> None:
    message = _shape_error(body)
    assert words in message and "\n" not in message and len(message) < 300


def test_too_many_environments() -> None:
    items = [environment(f"k{n}", f"E{n}", f"e{n}.example.com") for n in range(4)]
    assert "lists 4 environments, more than the 3" in _shape_error(_body(*items), limit=3)


def test_the_token_setting_is_secret_and_checked_without_echo() -> None:
    settings = load(
        {"LIFETIME_API_TOKEN": TOKEN, "CERTOPS_LIFETIME_URL": f"https://{LT_HOST}"}, dotenv=False
    )
    assert settings.lifetime_api_token == TOKEN and TOKEN not in repr(settings)
    assert settings.problems() == []
    bad = Settings(lifetime_api_token="abc\r\nX-Injected: 1", lifetime_url="http://x.example.com")
    problems = " ".join(bad.problems())
    assert "LIFETIME_API_TOKEN must be one token" in problems and "abc" not in problems
    assert "CERTOPS_LIFETIME_URL must be an https:// URL" in problems


def test_the_cli_default_timeout_is_the_clients() -> None:
    """`certops env sync --timeout` repeats the default so that `env list` imports no ssl."""
    from bot.cli.record import DEFAULT_LIFETIME_TIMEOUT
    from bot.pipeline.lifetime_api import DEFAULT_TIMEOUT

    assert DEFAULT_LIFETIME_TIMEOUT == DEFAULT_TIMEOUT
