"""Shared pieces for the services and record-CLI tests: a PKI, uploads, a DNS server.

Helpers are imported by tests/test_services_*.py and tests/test_cli_record.py; the fixtures
(`pki`, `clock`, `ctx`, `dns_server`, `silent_dns`) are registered by tests/conftest.py.
Costly things (keys, the PKI) are made once per session.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from bot.pipeline.material import InputFile, Passwords
from bot.services.actors import Actor, terminal_actor
from bot.services.clock import ManualClock
from bot.services.context import ServiceContext
from storage.db import Database
from tests.support.dns_server import DnsServer
from tests.support.pki import CA, Issued, rsa_key

DEV_HOST = "acme-dev.outsystemsenterprise.com"
QA_HOST = "acme-qa.outsystemsenterprise.com"
LT_HOST = "acme-lt.outsystemsenterprise.com"
KEY_PASSWORD = b"Key-Passw0rd-4-tests"
PFX_PASSWORD = b"Pfx-Passw0rd-4-tests"

ADMIN = terminal_actor()
PERSON = Actor("U_PERSON", is_admin=False)


@dataclass
class Pki:
    root: CA
    inter: CA
    app: Issued  # app.example.com, www.example.com
    wildcard: Issued  # *.example.com
    renewal: Issued  # app.example.com, www.example.com, another key
    other: Issued  # other.test only


@pytest.fixture(scope="session")
def pki() -> Pki:
    root = CA.root("Services Test Root")
    inter = root.intermediate("Services Test Intermediate")
    return Pki(
        root=root,
        inter=inter,
        app=inter.leaf(sans=["app.example.com", "www.example.com"], key=rsa_key(2048, 0)),
        wildcard=inter.leaf(sans=["*.example.com"], key=rsa_key(2048, 1)),
        renewal=inter.leaf(
            sans=["app.example.com", "www.example.com"], key=rsa_key(2048, 2), days=180
        ),
        other=inter.leaf(sans=["other.test"], key=rsa_key(2048, 0)),
    )


def pem_upload(issued: Issued, inter: CA, password: bytes | None = KEY_PASSWORD) -> list[InputFile]:
    """The usual PEM upload: certificate with its chain, and the (encrypted) key."""
    return [
        InputFile("fullchain.pem", issued.pem + inter.issued.pem),
        InputFile("private.key", issued.key_pem(password)),
    ]


def pfx_upload(issued: Issued, inter: CA, password: bytes = PFX_PASSWORD) -> list[InputFile]:
    data = pkcs12.serialize_key_and_certificates(
        b"friendly",
        issued.key,  # type: ignore[arg-type]
        issued.cert,
        [inter.cert],
        serialization.BestAvailableEncryption(password),
    )
    return [InputFile("bundle.pfx", data)]


def key_secrets(issued: Issued) -> list[bytes]:
    """What must never be stored or logged: the key's PEM body lines and DER base64."""
    import base64

    der = issued.key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    pem = issued.key_pem(None)
    body = [line for line in pem.splitlines() if line and not line.startswith(b"-----")]
    return [base64.b64encode(der), *body[:3], *body[-2:-1]]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(dt.datetime.now(dt.UTC).replace(microsecond=0))


@pytest.fixture
def ctx(database: Database, clock: ManualClock, pki: Pki) -> ServiceContext:
    return ServiceContext(database, clock=clock, extra_roots=[pki.root.cert], dns_timeout=2.0)


def dns_records() -> dict[str, list[tuple[str, str]]]:
    """Good CNAMEs for app/www/lt/new, an A record instead of a CNAME for bad."""
    return {
        "app.example.com": [("CNAME", DEV_HOST + ".")],
        "www.example.com": [("CNAME", QA_HOST + ".")],
        "lt.example.com": [("CNAME", LT_HOST + ".")],
        "new.example.com": [("CNAME", DEV_HOST + ".")],
        "bad.example.com": [("A", "192.0.2.10")],
        DEV_HOST: [("A", "198.51.100.1")],
        QA_HOST: [("A", "198.51.100.2")],
        LT_HOST: [("A", "198.51.100.3")],
    }


@pytest.fixture(scope="module")
def dns_server() -> Iterator[DnsServer]:
    """One server per test module, so a module's `queries` log holds its own questions only
    (as when each module imported the fixture: one instance per module; starting one is cheap).
    """
    with DnsServer(dns_records(), zones=["example.com", "outsystemsenterprise.com"]) as server:
        yield server


@pytest.fixture(scope="session")
def silent_dns() -> Iterator[DnsServer]:
    with DnsServer({}, mode="silent") as server:
        yield server


def submit(ctx: ServiceContext, issued: Issued, pki: Pki, name: str, **kwargs: object) -> object:
    from bot.services.certificates import submit_certificate

    return submit_certificate(
        ctx,
        kwargs.pop("actor", ADMIN),  # type: ignore[arg-type]
        pem_upload(issued, pki.inter),
        Passwords(key=KEY_PASSWORD),
        name=name,
        **kwargs,  # type: ignore[arg-type]
    )


def add_envs(ctx: ServiceContext) -> None:
    from bot.services.environments import add_environment

    add_environment(ctx, ADMIN, "dev", default_host=DEV_HOST)
    add_environment(ctx, ADMIN, "qa", default_host=QA_HOST)
    add_environment(ctx, ADMIN, "lifetime", default_host=LT_HOST, is_lifetime=True)
