"""A small lab for the served-certificate probe: TLS servers on 127.0.0.x sharing one
port, a silent one, one that answers garbage, the test DNS server resolving the test
hostnames to them, and a record with one environment per situation.

Shared by tests/test_served_probe.py and bench/bench_probe.py (which builds its own
bigger zone with `lab_servers`).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from bot.pipeline.report import fingerprint_sha256
from bot.services.context import ServiceContext
from bot.services.served import ProbeConfig
from storage import queries
from storage.models import (
    Environment,
)
from tests.support.dns_server import DnsServer
from tests.support.openssl_pki import OpenSSLPKI
from tests.support.pki import CA, Issued, rsa_key
from tests.support.tls_server import TlsServer, place_certificate

SERVES_A = "127.0.0.2"  # a cryptography-made leaf, the recorded one of `ok`
SERVES_B = "127.0.0.3"  # an openssl-made leaf, recorded nowhere
SILENT = "127.0.0.4"
GARBAGE = "127.0.0.5"
NOBODY = "127.0.0.6"  # nothing listens: connection refused

# hostname -> the outcome the lab is built to give
EXPECTED = {
    "ok.shop.test": "ok",
    "acme-ok.env.test": "ok",  # a default host serving a certificate of the record
    "other.shop.test": "served_other_certificate",
    "sooner.shop.test": "served_expires_sooner",
    "silent.shop.test": "handshake_failed",
    "garbage.shop.test": "handshake_failed",
    "refused.shop.test": "handshake_failed",
    "moved.shop.test": "cname_changed",
    "gone.shop.test": "unresolvable",
    "meta.shop.test": "address_refused",
    "acme-lab.env.test": "not_recorded",
}


@dataclass
class Lab:
    port: int
    dns: DnsServer
    a: TlsServer
    b: TlsServer
    cert_a: Issued
    cert_b: Issued

    def config(self, **overrides: object) -> ProbeConfig:
        base: dict[str, object] = {
            "port": self.port,
            "allow_loopback": True,
            "nameservers": (self.dns.address,),
            "timeout": 1.5,
            "dns_timeout": 2.0,
            "concurrency": 4,
            "interval": dt.timedelta(hours=6),
        }
        base.update(overrides)
        return ProbeConfig(**base)  # type: ignore[arg-type]


def openssl_issued(pki: OpenSSLPKI) -> Issued:
    cert = x509.load_pem_x509_certificate(pki.leaf_pem)
    key = load_pem_private_key(pki.key_pem, password=None)
    return Issued(cert, key)  # type: ignore[arg-type]


def lab_records() -> dict[str, list[tuple[str, str]]]:
    return {
        "ok.shop.test": [("CNAME", "acme-ok.env.test.")],
        "acme-ok.env.test": [("A", SERVES_A)],
        "other.shop.test": [("A", SERVES_B)],
        "sooner.shop.test": [("A", SERVES_B)],
        "silent.shop.test": [("A", SILENT)],
        "garbage.shop.test": [("A", GARBAGE)],
        "refused.shop.test": [("A", NOBODY)],
        "moved.shop.test": [("A", SERVES_A)],  # was a CNAME to acme-moved.env.test
        "meta.shop.test": [("A", "169.254.169.254")],
        "acme-lab.env.test": [("A", SERVES_B)],
    }


@contextmanager
def lab_servers(
    tmp: Path, cert_a: Issued, cert_b: Issued
) -> Iterator[tuple[int, TlsServer, TlsServer]]:
    """The servers on one port across 127.0.0.2-5 (the port is retried if taken)."""
    for _ in range(20):
        with ExitStack() as stack:
            a = TlsServer(tmp / "a", SERVES_A)
            made = [a]
            try:
                for address in (SERVES_B, SILENT, GARBAGE):
                    made.append(TlsServer(tmp / "b", address, a.port))
            except OSError:  # the port is taken on another address: another port
                for server in made:
                    server.close_listener()
                continue
            (tmp / "a").mkdir(exist_ok=True)
            (tmp / "b").mkdir(exist_ok=True)
            _, b, silent, garbage = made
            a.serve(cert_a)
            b.serve(cert_b)
            silent.raw = "silent"
            garbage.raw = b"HTTP/1.1 400 Bad Request\r\n\r\n"
            for server in made:
                stack.enter_context(server)
            yield a.port, a, b
            return
    raise RuntimeError("no free port on every lab address")


@contextmanager
def lab(tmp: Path, pki: OpenSSLPKI) -> Iterator[Lab]:
    root = CA.root("Probe Lab Root")
    cert_a = root.leaf(sans=["ok.shop.test", "acme-ok.env.test"], key=rsa_key(2048, 3))
    cert_b = openssl_issued(pki)
    with (
        DnsServer(lab_records(), zones=("shop.test", "env.test")) as dns,
        lab_servers(tmp, cert_a, cert_b) as (port, a, b),
    ):
        yield Lab(port, dns, a, b, cert_a, cert_b)


def seed_lab(ctx: ServiceContext, lab: Lab) -> None:
    """One environment per situation; `ok` records cert A, `moved` passed its DNS check."""
    served_b = lab.cert_b.cert.not_valid_after_utc
    with ctx.session() as session:

        def place(
            env_name: str,
            host: str | None,
            fingerprint: str,
            not_after: dt.datetime,
            *,
            dns_ok: bool = False,
        ) -> None:
            env = queries.add_environment(
                session,
                Environment(
                    name=env_name,
                    default_host=f"acme-{env_name}.env.test",
                    channel=f"C0{env_name.upper()}",
                ),
            )
            if host is None:
                return
            long_ago = ctx.now() - dt.timedelta(days=30)
            place_certificate(
                session,
                env,
                host,
                fingerprint,
                not_after,
                cert_name=f"cert-{env_name}",
                assigned_at=long_ago,
                active_at=long_ago,
                dns_report={"verdict": "ok"} if dns_ok else None,
            )

        fp_a = fingerprint_sha256(lab.cert_a.cert)
        late = lab.cert_a.cert.not_valid_after_utc
        place("ok", "ok.shop.test", fp_a, late, dns_ok=True)
        place("other", "other.shop.test", _random_fp(), served_b - dt.timedelta(days=5))
        place("sooner", "sooner.shop.test", _random_fp(), served_b + dt.timedelta(days=200))
        place("silent", "silent.shop.test", _random_fp(), late)
        place("garbage", "garbage.shop.test", _random_fp(), late)
        place("refused", "refused.shop.test", _random_fp(), late)
        place("moved", "moved.shop.test", fp_a, late, dns_ok=True)
        place("gone", "gone.shop.test", _random_fp(), late)
        place("meta", "meta.shop.test", _random_fp(), late)
        place("lab", None, "", late)


def _random_fp() -> str:
    return secrets.token_bytes(32).hex(":").upper()
