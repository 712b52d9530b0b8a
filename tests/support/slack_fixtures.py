"""Certificates and records for the Slack tests, made through the real services."""

from __future__ import annotations

from dataclasses import dataclass

from bot.pipeline.material import InputFile, Passwords
from bot.services import certificates, environments
from bot.services.actors import Actor
from bot.services.context import ServiceContext
from tests.support.pki import CA, Issued, rsa_key
from tests.support.slack_harness import ADMIN, USER

ENV_HOST = "acme-dev.outsystemsenterprise.com"
LT_HOST = "acme-lt.outsystemsenterprise.com"


@dataclass
class PkiSet:
    root: CA
    intermediate: CA
    shop: Issued  # shop.example.com, www.example.com
    wildcard: Issued  # *.example.com
    shop_renewal: Issued


def make_pki() -> PkiSet:
    root = CA.root("Slack Test Root")
    inter = root.intermediate("Slack Test Intermediate")
    key = rsa_key(2048, 0)
    return PkiSet(
        root=root,
        intermediate=inter,
        shop=inter.leaf(sans=["shop.example.com", "www.example.com"], key=key),
        wildcard=inter.leaf(sans=["*.example.com"], key=rsa_key(2048, 1)),
        shop_renewal=inter.leaf(sans=["shop.example.com", "www.example.com"], key=key, days=200),
    )


def files_of(issued: Issued, inter: CA) -> list[InputFile]:
    return [
        InputFile("cert.pem", issued.pem + inter.issued.pem),
        InputFile("key.pem", issued.key_pem()),
    ]


def submit(
    ctx: ServiceContext,
    pki: PkiSet,
    name: str,
    issued: Issued | None = None,
    *,
    manual: bool = False,
    renews: str | None = None,
    user: str = USER,
) -> None:
    files = files_of(issued or pki.shop, pki.intermediate)
    if manual:  # leave the chain out: invalid, so it waits for manual validation
        files = [InputFile("cert.pem", (issued or pki.shop).pem), files[1]]
    certificates.submit_certificate(
        ctx, Actor(user), files, Passwords(), name=name, manual=manual, renews=renews
    )


def add_env(
    ctx: ServiceContext, name: str = "dev", host: str = ENV_HOST, lifetime: bool = False
) -> None:
    environments.add_environment(
        ctx, Actor(ADMIN, True), name, default_host=host, is_lifetime=lifetime
    )


# The DNS the Slack command tests answer from: a CNAME to each environment, an A record.
RECORDS = {
    "shop.example.com": [("CNAME", ENV_HOST + ".", 300)],
    "www.example.com": [("A", "192.0.2.80", 300)],
    "lt.example.com": [("CNAME", LT_HOST + ".", 300)],
    ENV_HOST: [("A", "192.0.2.10", 60)],
    LT_HOST: [("A", "192.0.2.11", 60)],
}
