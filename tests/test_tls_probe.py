"""The post-assignment check against a real TLS server on loopback (ssl in a thread).

The server serves the assigned certificate, then a wrong one: the first check reports
the match at once, the second retries a few times before it reports the mismatch, each
in the thread of the assignment message (posted to the Slack stand-in)."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot.console.slack_api import FakeSlackApi
from bot.pipeline.report import fingerprint_sha256
from bot.pipeline.tls_probe import normalize_fingerprint, probe
from bot.services import tls_check
from bot.services.clock import ManualClock
from bot.services.context import ServiceContext
from bot.services.tls_check import TlsCheckConfig
from handlers.warnings.publisher import SlackTlsPublisher
from storage import queries
from storage.db import Database
from storage.models import (
    TlsCheck,
    TlsCheckState,
)
from tests.support.pki import CA, Issued, rsa_key
from tests.support.tls_server import HOST, START, TlsServer, _record

TOKEN = "xoxb-tls-test"


@pytest.fixture(scope="module")
def certs() -> tuple[Issued, Issued]:
    root = CA.root("TLS Check Root")
    right = root.leaf(sans=[HOST], key=rsa_key(2048, 0))
    wrong = root.leaf(sans=[HOST, "other.example.com"], key=rsa_key(2048, 1))
    return right, wrong


@pytest.fixture
def server(tmp_path: Path) -> Iterator[TlsServer]:
    with TlsServer(tmp_path) as running:
        yield running


@pytest.fixture
def api() -> Iterator[FakeSlackApi]:
    with FakeSlackApi(bot_token=TOKEN) as fake:
        yield fake


def test_probe_reads_the_served_certificate_with_sni(
    server: TlsServer, certs: tuple[Issued, Issued]
) -> None:
    right, _ = certs
    server.serve(right)
    result = probe(HOST, port=server.port, resolve=lambda _: "127.0.0.1", timeout=5)
    assert result.ok and result.address == "127.0.0.1"
    assert result.fingerprint_sha256 == fingerprint_sha256(right.cert)
    assert server.sni == [HOST]


def test_probe_works_with_more_than_1024_files_open(
    server: TlsServer, certs: tuple[Issued, Issued]
) -> None:
    """A busy bot may hold over a thousand files; select() refuses socket numbers past
    1,023, so the handshake must wait another way."""
    import os
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 1100
    if soft < wanted + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, wanted + 64), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(wanted - 16)]
    try:
        server.serve(certs[0])
        result = probe(HOST, port=server.port, resolve=lambda _: "127.0.0.1", timeout=5)
        assert result.ok, result.error
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_probe_reports_what_went_wrong(server: TlsServer) -> None:
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    result = probe(HOST, port=port, resolve=lambda _: "127.0.0.1", timeout=2)
    assert not result.ok and result.error and "Connection" in result.error
    assert normalize_fingerprint("AB:cd:01") == "abcd01"


def test_check_after_assignment_right_then_wrong_certificate(
    database: Database, server: TlsServer, api: FakeSlackApi, certs: tuple[Issued, Issued]
) -> None:
    right, wrong = certs
    clock = ManualClock(START)
    ctx = ServiceContext(database=database, clock=clock)
    publisher = SlackTlsPublisher(WebClient(token=TOKEN, base_url=api.api_url))
    config = TlsCheckConfig(
        port=server.port,
        resolve=lambda _: "127.0.0.1",
        timeout=5,
        attempts=3,
        retry=dt.timedelta(minutes=2),
    )
    first = _record(ctx, right, "prod")
    server.serve(right)

    report = tls_check.run_checks(ctx, config, publisher)
    assert report.scheduled == 1 and report.checked == 0  # not before five minutes
    (announce,) = api.calls("chat.postMessage")
    assert announce.params["channel"] == "C0PROD" and "five minutes" in announce.params["text"]
    root_ts = api.calls("chat.postMessage")[0]
    clock.advance(minutes=5)
    report = tls_check.run_checks(ctx, config, publisher)
    assert (report.checked, report.ok) == (1, 1)
    outcome = api.calls("chat.postMessage")[-1]
    assert outcome.params["thread_ts"] and ":white_check_mark:" in outcome.params["text"]
    assert root_ts.params.get("thread_ts") is None
    with ctx.session() as session:
        row = session.get(TlsCheck, 1)
        assert row is not None and row.assignment_id == first and row.state is TlsCheckState.OK

    # A second environment's assignment, but the endpoint serves another certificate.
    _record(ctx, right, "test")
    server.serve(wrong)
    tls_check.run_checks(ctx, config, publisher)  # scheduled
    clock.advance(minutes=5)
    assert tls_check.run_checks(ctx, config, publisher).retried == 1
    assert tls_check.run_checks(ctx, config, publisher).checked == 0  # the retry waits
    clock.advance(minutes=2)
    assert tls_check.run_checks(ctx, config, publisher).retried == 1
    clock.advance(minutes=2)
    report = tls_check.run_checks(ctx, config, publisher)
    assert report.mismatched == 1
    text = api.calls("chat.postMessage")[-1].params["text"]
    assert "does not serve" in text and fingerprint_sha256(wrong.cert) in text
    assert "after 3 attempts" in text
    clock.advance(minutes=10)
    assert tls_check.run_checks(ctx, config, publisher).checked == 0  # finished


def test_one_replica_takes_an_attempt(database: Database, certs: tuple[Issued, Issued]) -> None:
    right, _ = certs
    ctx = ServiceContext(database=database, clock=ManualClock(START))
    _record(ctx, right, "prod")
    assert tls_check.schedule_checks(ctx, TlsCheckConfig()) == 1
    assert tls_check.schedule_checks(ctx, TlsCheckConfig()) == 0  # one row per assignment
    due_at = START + dt.timedelta(minutes=5)
    with ctx.session() as session:
        assert queries.take_tls_check(session, 1, due_at, due_at + dt.timedelta(minutes=2))
    with ctx.session() as session:
        assert not queries.take_tls_check(session, 1, due_at, due_at + dt.timedelta(minutes=2))
