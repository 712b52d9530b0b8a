"""Adopting what a hostname serves (issue 17, part 3): the real service, and `certops adopt`
as a real process.

A real TLS server on 127.0.0.2 serves test certificates (from cryptography and from the
openssl CLI); the loopback DNS server resolves the test hostnames to it (a CNAME to the
environment's default host, whose A record is 127.0.0.2), so nothing asks the system
resolver. Both databases (the `database` fixture). The refusals are one line each.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from bot.pipeline.tls_probe import ProbeResult
from bot.services import adoption, assignments, audit, environments, expiry, renewals
from bot.services.clock import ManualClock
from bot.services.context import ServiceContext
from bot.services.errors import ServiceError
from bot.services.expiry import ChannelPacer, ExpiryConfig
from bot.services.expiry_thresholds import from_settings
from bot.services.served import ProbeConfig, config_from_settings
from bot.services.views import certificate_view
from storage import queries
from storage.models import AuditEvent, Certificate, TlsCheck
from tests.support.certops_run import EXE, run_environ
from tests.support.dns_server import DnsServer
from tests.support.expiry import Recorder
from tests.support.openssl_pki import OpenSSLPKI
from tests.support.services import (
    ADMIN,
    DEV_HOST,
    LT_HOST,
    PERSON,
    QA_HOST,
    Pki,
    add_envs,
    key_secrets,
    submit,
)
from tests.support.tls_server import TlsServer

SERVER = "127.0.0.2"
THRESHOLDS = from_settings((30, 14, 7, 3, 1, 0), ())
RECORDS = {
    "app.example.com": [("CNAME", DEV_HOST + ".", 300)],
    "www.example.com": [("CNAME", QA_HOST + ".", 300)],
    "lt.example.com": [("CNAME", LT_HOST + ".", 300)],
    "shop.example.com": [("CNAME", DEV_HOST + ".", 300)],
    "home.example.com": [("A", "127.0.0.1", 300)],
    "ll.example.com": [("A", "169.254.10.1", 300)],
    DEV_HOST: [("A", SERVER, 60)],
    QA_HOST: [("A", SERVER, 60)],
    LT_HOST: [("A", SERVER, 60)],
}


@pytest.fixture(scope="module")
def dns() -> Iterator[DnsServer]:
    with DnsServer(RECORDS, zones=["example.com", "outsystemsenterprise.com"]) as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    with TlsServer(tmp_path_factory.mktemp("served"), SERVER) as tls:
        yield tls


@pytest.fixture
def served(server: TlsServer, pki: Pki) -> TlsServer:
    server.raw = None
    server.sni.clear()
    server.serve(pki.app)
    return server


@pytest.fixture
def actx(ctx: ServiceContext, dns: DnsServer) -> ServiceContext:
    add_envs(ctx)
    return dataclasses.replace(ctx, default_nameservers=[dns.address])


def options(server: TlsServer, *, loopback: bool = True) -> ProbeConfig:
    return ProbeConfig(port=server.port, allow_loopback=loopback, timeout=2.0)


def adopt(ctx: ServiceContext, server: TlsServer, host: str, env: str, **kw: object) -> object:
    kw.setdefault("options", options(server))
    return adoption.adopt_served(ctx, ADMIN, host, env, thresholds=THRESHOLDS, **kw)  # type: ignore[arg-type]


def refusal(
    ctx: ServiceContext, server: TlsServer, host: str, env: str, **kw: object
) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        adopt(ctx, server, host, env, **kw)
    return caught.value


def test_adopt_records_observed_public_parts_and_active_assignment(
    actx: ServiceContext, served: TlsServer, pki: Pki
) -> None:
    result = adopt(actx, served, "app.example.com", "dev")
    assert isinstance(result, adoption.AdoptResult)
    assert result.changed and not result.reused
    cert = result.certificate
    assert cert.status == "observed" and cert.submitted_format == "served"
    assert cert.sans == ["app.example.com", "www.example.com"]
    assert (
        cert.fingerprint_sha256
        == pki.app.cert.fingerprint(
            __import__("cryptography.hazmat.primitives.hashes", fromlist=["SHA256"]).SHA256()
        )
        .hex(":")
        .upper()
    )
    assert result.assignment.state == "active" and result.assignment.hostname == "app.example.com"
    assert served.sni[-1] == "app.example.com"  # probed with SNI
    assert result.served_by == f"{SERVER}:{served.port}"
    # The next warning: 30 days before the end (the leaf lives 90 days).
    assert result.next_warning is not None and result.next_warning["threshold"] == "30d"
    expected = pki.app.cert.not_valid_after_utc - dt.timedelta(days=30)
    assert result.next_warning["at"].startswith(f"{expected:%Y-%m-%dT%H:%M}")
    with actx.session() as session:
        row = queries.certificate(session, cert.name)
        assert row.chain_pem == "" and row.certificate_pem and "PRIVATE" not in row.certificate_pem
        env = queries.environment(session, "dev")
        assert env.hostname == "app.example.com"
        (check,) = session.exec(select(TlsCheck)).all()
        assert check.state.value == "ok"  # the scheduler neither announces nor probes it
        dump = json.dumps([queries.snapshot(r) for r in session.exec(select(Certificate))])
        dump += json.dumps([e.after for e in session.exec(select(AuditEvent))], default=str)
    for secret in key_secrets(pki.app):  # no key anywhere in the record
        assert secret.decode() not in dump
    actions = [e.action for e in audit.recent(actx, 20)]
    assert "certificate.observe" in actions and "assignment.create" in actions


def test_adopt_twice_is_idempotent(actx: ServiceContext, served: TlsServer) -> None:
    first = adopt(actx, served, "app.example.com", "dev")
    again = adopt(actx, served, "app.example.com", "dev")
    assert isinstance(first, adoption.AdoptResult) and isinstance(again, adoption.AdoptResult)
    assert not again.changed and again.certificate.name == first.certificate.name
    assert again.assignment.id == first.assignment.id
    with actx.session() as session:
        assert len(session.exec(select(Certificate)).all()) == 1


def test_adopt_replaces_the_current_certificate_with_audit(
    actx: ServiceContext, served: TlsServer, pki: Pki, clock: ManualClock
) -> None:
    submit(actx, pki.wildcard, pki, "wild")
    assignments.assign_certificate(
        actx, ADMIN, "wild", "dev", "app.example.com", cname_confirmed=True
    )
    with pytest.raises(ServiceError) as caught:  # still updating: the old one may be served
        adopt(actx, served, "app.example.com", "dev")
    assert caught.value.code == "assignment_in_progress"
    clock.advance(minutes=6)
    result = adopt(actx, served, "app.example.com", "dev")
    assert isinstance(result, adoption.AdoptResult)
    assert result.replaced is not None and result.replaced.certificate == "wild"
    env = environments.show_environment(actx, "dev")
    assert env.current is not None and env.current.certificate == result.certificate.name
    assert "assignment.replaced" in [e.action for e in audit.recent(actx, 20)]


def test_served_certificate_already_on_record_is_reused(
    actx: ServiceContext, served: TlsServer, pki: Pki
) -> None:
    submit(actx, pki.app, pki, "app-uploaded")
    result = adopt(actx, served, "app.example.com", "dev")
    assert isinstance(result, adoption.AdoptResult)
    assert result.reused and result.certificate.name == "app-uploaded"
    assert result.certificate.status == "validated"


def test_lifetime_certificate_can_be_observed(actx: ServiceContext, served: TlsServer) -> None:
    result = adopt(actx, served, "app.example.com", "lifetime")
    assert isinstance(result, adoption.AdoptResult) and result.environment == "lifetime"


def test_openssl_certificate_is_adopted(
    actx: ServiceContext, server: TlsServer, openssl_pki: OpenSSLPKI
) -> None:
    server.raw = None
    server.serve_files(openssl_pki.path("leaf.pem"), openssl_pki.path("leaf.key"))
    result = adopt(actx, server, "www.example.com", "qa")
    assert isinstance(result, adoption.AdoptResult)
    assert result.certificate.issuer and "OpenSSL Inter" in result.certificate.issuer
    assert result.certificate.key_type == "RSA" and result.certificate.key_bits == 2048


@pytest.mark.parametrize(
    ("host", "loopback", "code", "says"),
    [
        ("app.example.com", False, "address_refused", "127.0.0.2, a loopback address"),
        ("home.example.com", False, "address_refused", "loopback"),
        ("ll.example.com", False, "address_refused", "169.254.10.1, a link-local address"),
        ("gone.example.com", True, "unresolvable", "does not exist"),
    ],
)
def test_where_not_to_connect(
    actx: ServiceContext, served: TlsServer, host: str, loopback: bool, code: str, says: str
) -> None:
    error = refusal(actx, served, host, "dev", options=options(served, loopback=loopback))
    assert error.code == code and says in error.message
    assert served.sni.count(host) == 0


def test_hostname_not_in_the_sans(actx: ServiceContext, served: TlsServer, pki: Pki) -> None:
    served.serve(pki.other)
    error = refusal(actx, served, "app.example.com", "dev")
    assert error.code == "hostname_not_covered" and "other.test" in error.message


def test_expired_served_certificate(
    actx: ServiceContext, served: TlsServer, pki: Pki, clock: ManualClock
) -> None:
    clock.now = pki.app.cert.not_valid_after_utc + dt.timedelta(days=1)
    error = refusal(actx, served, "app.example.com", "dev")
    assert error.code == "certificate_expired" and "expired on" in error.message


def test_silent_and_garbage_servers(actx: ServiceContext, served: TlsServer) -> None:
    served.raw = "silent"
    error = refusal(
        actx,
        served,
        "app.example.com",
        "dev",
        options=ProbeConfig(port=served.port, allow_loopback=True, timeout=0.5),
    )
    assert error.code == "handshake_failed" and "app.example.com" in error.message
    assert "TimeoutError" in error.message  # capped: the server would hold it open
    served.raw = b"HTTP/1.0 400 not TLS\r\n\r\n" + bytes(range(256))
    error = refusal(actx, served, "app.example.com", "dev")
    assert error.code == "handshake_failed"


def test_garbage_certificate_bytes_are_refused(actx: ServiceContext, served: TlsServer) -> None:
    for der in (b"\x30\x82\x01\x00garbage", b"", b"\x30" * 70_000):
        result = ProbeResult("app.example.com", SERVER, 443, "AA", leaf_der=der)
        error = refusal(actx, served, "app.example.com", "dev", result=result)
        assert error.code == "served_unreadable", der[:8]
    assert served.sni.count("app.example.com") == 0  # a given result is not probed again


def test_rules_before_the_probe(actx: ServiceContext, served: TlsServer) -> None:
    assert refusal(actx, served, "app.example.com", "nowhere").code == "not_found"
    assert refusal(actx, served, "not a host", "dev").code == "invalid_input"
    with pytest.raises(ServiceError) as caught:
        adoption.adopt_served(actx, PERSON, "app.example.com", "dev", options=options(served))
    assert caught.value.code == "not_admin"
    assert served.sni.count("app.example.com") == 0


def test_adopted_certificate_is_warned_about_and_renewed(
    actx: ServiceContext, served: TlsServer, pki: Pki, clock: ManualClock
) -> None:
    result = adopt(actx, served, "app.example.com", "dev")
    assert isinstance(result, adoption.AdoptResult)
    name = result.certificate.name
    config = ExpiryConfig(THRESHOLDS, "C0DEFAULT", "test")
    publisher = Recorder()
    clock.now = pki.app.cert.not_valid_after_utc - dt.timedelta(days=10)
    report = expiry.run_scan(actx, publisher, config, ChannelPacer(0.0))
    assert report.posted == 1
    (kind, warning, _ts) = publisher.calls[0]
    assert kind == "post" and isinstance(warning, expiry.DueWarning)
    assert warning.certificate == name and warning.observed
    assert warning.placements[0].hostname == "app.example.com"

    # Renewal as usual: the new certificate (with its key) names the observed one.
    submit(actx, pki.renewal, pki, "app-2027", renews=name)
    outcome = renewals.apply_renewal(actx, ADMIN, "app-2027", cname_confirmed=True)
    assert outcome.ok
    env = environments.show_environment(actx, "dev")
    assert env.current is not None and env.current.certificate == "app-2027"
    with actx.session() as session:
        old = certificate_view(session, queries.certificate(session, name), clock.now)
    assert old.status == "superseded"
    clock.advance(days=5)
    assert expiry.run_scan(actx, publisher, config, ChannelPacer(0.0)).due == 0


def test_next_warning_when_a_threshold_is_already_crossed(
    actx: ServiceContext, served: TlsServer, pki: Pki, clock: ManualClock
) -> None:
    clock.now = pki.app.cert.not_valid_after_utc - dt.timedelta(days=10)
    result = adopt(actx, served, "app.example.com", "dev")
    assert isinstance(result, adoption.AdoptResult) and result.next_warning is not None
    assert result.next_warning["threshold"] == "14d"  # due at the next scan
    assert result.next_warning["at"].startswith(f"{clock.now:%Y-%m-%dT%H:%M}")


def test_settings_give_the_probe_options(tmp_path: Path) -> None:
    from bot.settings import load

    settings = load(
        {
            "CERTOPS_PROBE_PORT": "8443",
            "CERTOPS_PROBE_ALLOW_LOOPBACK": "1",
            "CERTOPS_PROBE_TIMEOUT": "2.5",
        }
    )
    given, default = config_from_settings(settings), config_from_settings(load({}))
    assert (given.port, given.allow_loopback, given.timeout) == (8443, True, 2.5)
    assert (default.port, default.allow_loopback, default.timeout) == (443, False, 5.0)
    bad = load({"CERTOPS_PROBE_PORT": "0", "CERTOPS_PROBE_ALLOW_LOOPBACK": "maybe"})
    assert len(bad.problems()) == 2


def test_adopted_certificate_in_the_metrics(actx: ServiceContext, served: TlsServer) -> None:
    from bot.metrics import Metrics
    from tests.support.metrics import scrape, value

    result = adopt(actx, served, "app.example.com", "dev")
    assert isinstance(result, adoption.AdoptResult)
    metrics = Metrics(actx.database, series="both")
    assert metrics.record.refresh()
    samples = scrape(metrics)
    metrics.record.stop()
    assert value(samples, "certops_certificates", status="observed") == 1
    expires = value(
        samples,
        "certops_cert_not_after",
        certificate=result.certificate.name,
        environment="dev",
        hostname="app.example.com",
        status="observed",
    )
    assert expires > 0


def certops(cwd: Path, environ: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXE, *argv], capture_output=True, text=True, env=environ, cwd=cwd, timeout=60
    )


def test_adopt_as_a_process(
    database_url: str,
    tmp_path: Path,
    dns: DnsServer,
    server: TlsServer,
    openssl_pki: OpenSSLPKI,
) -> None:
    """`certops adopt` as a real process (SQLite and PostgreSQL): the openssl leaf served,
    the test-only settings CERTOPS_PROBE_PORT and CERTOPS_PROBE_ALLOW_LOOPBACK."""
    server.raw = None
    server.serve_files(openssl_pki.path("leaf.pem"), openssl_pki.path("leaf.key"))
    environ = run_environ(
        DATABASE_URL=database_url,
        CERTOPS_PROBE_PORT=str(server.port),
        CERTOPS_PROBE_ALLOW_LOOPBACK="1",
    )
    ns = ["--nameserver", dns.nameserver, "--timeout", "2"]
    assert certops(tmp_path, environ, "env", "add", "dev", "--host", DEV_HOST).returncode == 0

    done = certops(tmp_path, environ, "adopt", "app.example.com", "dev", *ns, "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    cert = data["certificate"]
    assert data["changed"] is True and cert["status"] == "observed"
    assert cert["sans"] == ["app.example.com", "www.example.com"]
    assert data["assignment"]["state"] == "active" and data["next_warning"]["threshold"] == "30d"
    assert "certificate_pem" not in cert  # the summary, not the PEM

    again = certops(tmp_path, environ, "adopt", "app.example.com", "dev", *ns)
    assert again.returncode == 0 and "unchanged" in again.stdout.splitlines()[0]
    for label in ("subject:", "names:", "valid until:", "SHA-256:", "next warning:"):
        assert label in again.stdout
    assert cert["fingerprint_sha256"] in again.stdout

    shown = certops(tmp_path, environ, "cert", "show", cert["name"], "--json")
    row = json.loads(shown.stdout)
    assert row["status"] == "observed" and row["chain_pem"] == ""
    assert "PRIVATE KEY" not in shown.stdout
    text = certops(tmp_path, environ, "cert", "show", cert["name"]).stdout
    assert "observed" in text and "no key" in text

    # Refusals: one line each, exit 1.
    refused = certops(
        tmp_path,
        {**environ, "CERTOPS_PROBE_ALLOW_LOOPBACK": "0"},
        "adopt",
        "app.example.com",
        "dev",
        *ns,
    )
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.strip() == (
        "certops adopt: refused (address_refused): app.example.com resolves to 127.0.0.2, "
        "a loopback address: not probed"
    )
    other = certops(tmp_path, environ, "adopt", "shop.example.com", "dev", *ns)
    assert other.returncode == 1 and len(other.stderr.strip().splitlines()) == 1
    assert "(hostname_not_covered)" in other.stderr
    server.raw = "silent"
    try:
        silent = certops(tmp_path, environ, "adopt", "app.example.com", "dev", *ns, "--json")
    finally:
        server.raw = None
    assert silent.returncode == 1 and json.loads(silent.stdout)["code"] == "handshake_failed"
    nowhere = certops(tmp_path, environ, "adopt", "app.example.com", "prod", *ns)
    assert nowhere.returncode == 1 and "(not_found)" in nowhere.stderr
    usage = certops(tmp_path, environ, "adopt", "app.example.com")
    assert usage.returncode == 2 and "Traceback" not in usage.stderr


def test_an_observed_certificate_is_not_assigned_elsewhere(
    actx: ServiceContext, served: TlsServer
) -> None:
    result = adopt(actx, served, "app.example.com", "dev")
    assert isinstance(result, adoption.AdoptResult)
    with pytest.raises(ServiceError) as caught:
        assignments.assign_certificate(
            actx, ADMIN, result.certificate.name, "qa", "www.example.com", cname_confirmed=True
        )
    assert caught.value.code == "certificate_not_assignable"
    assert "holds no key" in caught.value.message
