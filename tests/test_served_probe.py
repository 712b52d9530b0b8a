"""The served-certificate probe (issue 17, part 2) against real servers on loopback.

TLS servers on 127.0.0.2-3 serve a cryptography-made and an openssl-made leaf, a silent
server accepts and never speaks, another answers garbage, and the test DNS server
resolves the test hostnames to them: every outcome comes out of one run. A change of
outcome is posted once (Slack stand-in), the post carries the next step's button, the
five-minute check is the hostname's first probe, and two `certops probe --once`
processes on PostgreSQL post each change once between them.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_sdk import WebClient
from sqlmodel import col, select

from bot.console.slack_api import FakeSlackApi
from bot.pipeline import served as pipeline
from bot.pipeline.report import fingerprint_sha256
from bot.pipeline.tls_probe import ProbeResult
from bot.services import expiry, served, tls_check
from bot.services.clock import ManualClock
from bot.services.context import ServiceContext
from bot.services.tls_check import TlsCheckConfig
from handlers.warnings.publisher import EVENT_TYPE, SlackPublisher, SlackTlsPublisher
from storage import queries
from storage.db import Database
from storage.models import Environment, Notification, ServedProbe
from tests.support.certops_run import run_environ
from tests.support.openssl_pki import OpenSSLPKI
from tests.support.served_lab import EXPECTED, Lab, lab, seed_lab
from tests.support.tls_server import START, TlsServer

TOKEN = "xoxb-probe-test"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> OpenSSLPKI:
    return OpenSSLPKI(tmp_path_factory.mktemp("openssl-probe"))


@pytest.fixture
def probe_lab(tmp_path: Path, pki: OpenSSLPKI) -> Iterator[Lab]:
    with lab(tmp_path, pki) as running:
        yield running


@pytest.fixture
def api() -> Iterator[FakeSlackApi]:
    with FakeSlackApi(bot_token=TOKEN) as fake:
        yield fake


@pytest.fixture
def seeded(sqlite_url: str, probe_lab: Lab) -> Iterator[ServiceContext]:
    """The lab's record in a SQLite file, and the services' context on it."""
    database = Database(sqlite_url)
    try:
        ctx = ServiceContext(database=database)
        seed_lab(ctx, probe_lab)
        yield ctx
    finally:
        database.dispose()


@pytest.fixture
def just_assigned(sqlite_url: str, probe_lab: Lab) -> Iterator[tuple[ServiceContext, ManualClock]]:
    """shop.example.com assigned now (updating), cert A recorded; a clock to move on."""
    from tests.support.tls_server import _record

    database = Database(sqlite_url)
    try:
        clock = ManualClock(START)
        ctx = ServiceContext(database=database, clock=clock)
        _record(ctx, probe_lab.cert_a, "prod")
        yield ctx, clock
    finally:
        database.dispose()


def outcomes(report: served.ProbeReport) -> dict[str, str]:
    return {r["hostname"]: r["outcome"] for r in report.results}


def stored(ctx: ServiceContext) -> dict[str, ServedProbe]:
    with ctx.session() as session:
        rows = list(queries.served_probes(session))
        session.expunge_all()
    return {row.hostname: row for row in rows}


def test_every_outcome_in_one_run(seeded: ServiceContext, probe_lab: Lab) -> None:
    ctx = seeded
    report = served.run_probe(ctx, probe_lab.config(), every=True)
    found = outcomes(report)
    assert {host: found.get(host) for host in EXPECTED} == EXPECTED
    details = {r["hostname"]: r["detail"] or "" for r in report.results}
    assert "within" in details["silent.shop.test"]  # the silent server ends at the deadline
    assert "169.254.169.254" in details["meta.shop.test"]
    assert "NXDOMAIN" in details["gone.shop.test"]
    rows = stored(ctx)
    assert {host: rows[host].outcome for host in EXPECTED} == EXPECTED
    assert rows["sooner.shop.test"].served_not_after == (probe_lab.cert_b.cert.not_valid_after_utc)
    # A first `ok` is no news; every other first outcome is a change to say.
    assert rows["ok.shop.test"].change == 0 and rows["other.shop.test"].change == 1


def test_loopback_is_refused_without_the_setting(seeded: ServiceContext, probe_lab: Lab) -> None:
    ctx = seeded
    report = served.run_probe(ctx, probe_lab.config(allow_loopback=False), every=True)
    found = outcomes(report)
    assert found["ok.shop.test"] == "address_refused"
    assert "loopback" in next(
        r["detail"] for r in report.results if r["hostname"] == "ok.shop.test"
    )
    assert probe_lab.a.sni == []  # nothing was dialled


def test_garbage_and_oversized_leaves_are_outcomes_not_crashes() -> None:
    with pytest.raises(pipeline.ServedProblem):
        pipeline.read_served_leaf(b"\x30\x82\x01\x00garbage", "x.shop.test")
    with pytest.raises(pipeline.ServedProblem, match="bytes"):
        pipeline.read_served_leaf(b"\x30" * (pipeline.MAX_LEAF_BYTES + 1), "x.shop.test")
    target = served.Target("x.shop.test", 1, "x", "acme-x.env.test", 1, "AB", None)
    garbage = ProbeResult("x.shop.test", "127.0.0.9", 443, "AB", leaf_der=b"not a certificate")
    observation = served.judge_probe(None, target, garbage)  # type: ignore[arg-type]
    assert observation.outcome == "handshake_failed"
    for address, refused in [
        ("127.0.0.1", True),
        ("::1", True),
        ("169.254.1.1", True),
        ("fe80::1", True),
        ("0.0.0.0", True),
        ("224.0.0.1", True),
        ("192.0.2.10", False),
    ]:
        assert (pipeline.address_refusal(address, allow_loopback=False) is not None) is refused
    assert pipeline.address_refusal("127.0.0.1", allow_loopback=True) is None
    assert pipeline.address_refusal("169.254.1.1", allow_loopback=True) is not None


def _action_ids(blocks: object) -> list[str]:
    parsed = json.loads(blocks) if isinstance(blocks, str) else blocks
    assert isinstance(parsed, list)
    return [e["action_id"] for b in parsed if b["type"] == "actions" for e in b["elements"]]


def _post(ctx: ServiceContext, lab_: Lab, api: FakeSlackApi) -> served.ProbeReport:
    publisher = SlackPublisher(WebClient(token=TOKEN, base_url=api.api_url))
    return served.post_changes(
        ctx,
        lab_.config(),
        publisher,
        expiry.ExpiryConfig(thresholds=()),
        expiry.ChannelPacer(interval=0),
    )


def test_a_change_is_posted_once_with_its_next_step(
    seeded: ServiceContext, probe_lab: Lab, api: FakeSlackApi
) -> None:
    ctx = seeded
    config = probe_lab.config()
    served.run_probe(ctx, config, every=True)
    first = _post(ctx, probe_lab, api)
    posts = api.calls("chat.postMessage")
    news = [h for h, outcome in EXPECTED.items() if outcome != "ok"]
    assert first.posted == len(posts) >= len(news)
    texts = [p.params["text"] for p in posts]
    for host in news:
        assert sum(text.startswith(f"{host} on ") for text in texts) == 1
    by_host = {p.params["text"].split(" ")[0]: p.params for p in posts}
    buttons = {host: _action_ids(params["blocks"]) for host, params in by_host.items()}
    assert buttons["other.shop.test"] == ["served_adopt"]
    assert buttons["acme-lab.env.test"] == ["served_adopt"]
    assert buttons["sooner.shop.test"] == ["served_renew"]
    assert buttons["silent.shop.test"] == ["served_dns_check"]
    assert buttons["moved.shop.test"] == ["served_dns_check"]
    assert by_host["other.shop.test"]["channel"] == "C0OTHER"
    meta = by_host["other.shop.test"]["metadata"]
    meta = json.loads(meta) if isinstance(meta, str) else meta
    assert meta["event_type"] == EVENT_TYPE

    # Nothing changed: a second run posts nothing.
    served.run_probe(ctx, config, every=True)
    assert _post(ctx, probe_lab, api).posted == 0
    assert len(api.calls("chat.postMessage")) == len(posts)

    # ok.shop.test now serves B: one post for it, one for its default host.
    probe_lab.a.serve(probe_lab.cert_b)
    served.run_probe(ctx, config, every=True)
    assert _post(ctx, probe_lab, api).posted == 2
    last = [p.params["text"] for p in api.calls("chat.postMessage")[len(posts) :]]
    sooner = probe_lab.cert_b.cert.not_valid_after_utc < (probe_lab.cert_a.cert.not_valid_after_utc)
    now = "served_expires_sooner" if sooner else "served_other_certificate"
    assert sorted(last) == sorted(
        [f"ok.shop.test on ok: {now}", "acme-ok.env.test on ok: not_recorded"]
    )
    assert stored(ctx)["ok.shop.test"].reported == stored(ctx)["ok.shop.test"].change


def test_the_scheduler_waits_for_new_hostnames_and_the_interval(
    sqlite_url: str, probe_lab: Lab
) -> None:
    database = Database(sqlite_url)
    try:
        clock = ManualClock(dt.datetime.now(dt.UTC))
        ctx = ServiceContext(database=database, clock=clock)
        seed_lab(ctx, probe_lab)
        config = probe_lab.config()
        assert served.run_probe(ctx, config).probed == 0  # first seen: in five minutes
        clock.advance(minutes=5)
        assert served.run_probe(ctx, config).probed >= len(EXPECTED)
        assert served.run_probe(ctx, config).probed == 0  # not due again before 6 h
        clock.advance(hours=6)
        assert served.run_probe(ctx, config).probed >= len(EXPECTED)
    finally:
        database.dispose()


def test_the_five_minute_check_is_the_first_probe(
    just_assigned: tuple[ServiceContext, ManualClock], probe_lab: Lab
) -> None:
    ctx, clock = just_assigned
    config = TlsCheckConfig(
        port=probe_lab.port, resolve=lambda _: "127.0.0.2", timeout=5, attempts=1
    )
    tls_check.run_checks(ctx, config, None)
    # Before its check ran, the probe leaves the new assignment's hostname alone.
    assert "shop.example.com" not in {t.hostname for t in served.targets(ctx, waiting_checks=False)}
    clock.advance(minutes=5)
    assert tls_check.run_checks(ctx, config, None).ok == 1
    row = stored(ctx)["shop.example.com"]
    assert row.outcome == "ok" and row.served_fingerprint and row.checked_at
    assert row.reported == row.change  # said by the check's thread reply
    assert "shop.example.com" in {t.hostname for t in served.targets(ctx, waiting_checks=False)}


def test_the_check_resolves_and_is_bounded_as_the_probe(
    just_assigned: tuple[ServiceContext, ManualClock], probe_lab: Lab, api: FakeSlackApi
) -> None:
    ctx, clock = just_assigned  # shop.example.com is not in the lab's DNS
    config = TlsCheckConfig(attempts=1, probe=probe_lab.config())
    publisher = SlackTlsPublisher(WebClient(token=TOKEN, base_url=api.api_url))
    tls_check.run_checks(ctx, config, publisher)
    clock.advance(minutes=5)
    assert tls_check.run_checks(ctx, config, publisher).unreachable == 1
    assert "unresolvable" in api.calls("chat.postMessage")[-1].params["text"]
    assert any(q[0].startswith("shop.example.com") for q in probe_lab.dns.queries)
    row = stored(ctx)["shop.example.com"]
    assert row.outcome == "unresolvable" and row.reported == row.change == 1


def test_two_processes_post_each_change_once_on_postgres(
    pg_url: str, probe_lab: Lab, api: FakeSlackApi, tmp_path: Path
) -> None:
    database = Database(pg_url)
    try:
        seed_lab(ServiceContext(database=database), probe_lab)
    finally:
        database.dispose()
    environ = run_environ(
        DATABASE_URL=pg_url,
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_API_URL=api.api_url,
        CERTOPS_NAMESERVERS=probe_lab.dns.nameserver,
        CERTOPS_PROBE_PORT=str(probe_lab.port),
        CERTOPS_PROBE_ALLOW_LOOPBACK="1",
        CERTOPS_PROBE_TIMEOUT="1.5",
    )
    command = [sys.executable, "-m", "bot", "probe", "--once", "--json"]
    runs = [
        subprocess.Popen(command, env=environ, cwd=tmp_path, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    answers = [json.loads(run.communicate(timeout=120)[0]) for run in runs]
    for run, answer in zip(runs, answers, strict=True):  # 4: drift among what it probed
        drift = set(answer["outcomes"]) - {"ok", "not_recorded"}
        assert run.returncode == (4 if drift else 0)
    assert any(run.returncode == 4 for run in runs)
    assert sum(a["probed"] for a in answers) >= len(EXPECTED)
    posted = api.calls("chat.postMessage")
    texts = [p.params["text"] for p in posted]
    assert len(texts) == len(set(texts)) == sum(a["posted"] for a in answers)
    for host, outcome in EXPECTED.items():
        assert sum(t.startswith(f"{host} on ") for t in texts) == (outcome != "ok")
    database = Database(pg_url)
    try:
        with database.session() as session:
            claims = session.exec(
                select(Notification).where(col(Notification.certificate_id).is_(None))
            ).all()
            assert len(claims) == len(texts) and all(c.posted_at for c in claims)
    finally:
        database.dispose()


def test_outcomes_in_views_metrics_and_cert_show(seeded: ServiceContext, probe_lab: Lab) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from bot.cli.record_text import render
    from bot.metrics import Metrics
    from bot.services import views
    from handlers.common.blocks.records import certificate_blocks, certificate_line

    ctx = seeded
    served.run_probe(ctx, probe_lab.config(), every=True)
    listed = {v.name: v for v in views.list_certificates(ctx)}
    other = listed["cert-other"].to_dict(with_report=False)
    assert other["served"][0]["outcome"] == "served_other_certificate"
    assert "served_other_certificate" in certificate_line(other)
    assert ":white_check_mark: served" in certificate_line(listed["cert-ok"].to_dict())
    with ctx.session() as session:
        row = queries.certificate_by_name(session, "cert-silent")
        assert row is not None
        shown = views.certificate_view(session, row, ctx.now())
    text = json.dumps(certificate_blocks(shown.to_dict()))
    assert "silent.shop.test" in text and "handshake_failed" in text
    assert "served:      silent.shop.test: handshake_failed" in render(shown)

    metrics = Metrics(ctx.database)
    families = {f.name: f for f in text_string_to_metric_families(metrics.render().decode())}
    match = {
        s.labels["hostname"]: s.value for s in families["certops_served_certificate_match"].samples
    }
    assert match["ok.shop.test"] == 1.0 and match["other.shop.test"] == 0.0
    expiry_series = {
        s.labels["hostname"]: s.value
        for s in families["certops_served_certificate_not_after"].samples
    }
    assert expiry_series["sooner.shop.test"] == (
        probe_lab.cert_b.cert.not_valid_after_utc.timestamp()
    )
    assert "silent.shop.test" not in expiry_series  # nothing was served


def test_the_buttons_check_the_dns_renew_and_adopt(sqlite_url: str, probe_lab: Lab) -> None:
    from tests.support.slack_harness import slack_harness

    with slack_harness(sqlite_url, nameservers=[probe_lab.dns.address]) as h:
        seed_lab(h.deps.services, probe_lab)
        with h.deps.services.session() as session:
            env = queries.environment(session, "moved")
            env_id = env.id
        value = json.dumps(
            {
                "hostname": "moved.shop.test",
                "environment_id": env_id,
                "environment": "moved",
                "certificate": "cert-moved",
                "domain": "moved.shop.test",
                "channel": "C0MOVED",
            }
        )
        checked = h.click("served_dns_check", value=value)
        text = checked.all_text
        assert "moved.shop.test" in text and "misconfigured" in text.lower()
        renew = h.click("served_renew", value=value)
        assert renew.of("views.open"), "the renewal form opens"
        assert "cert-moved" in json.dumps(renew.of("views.open")[0].params)
        refused = h.click("served_adopt", value=value)  # the adopt feature's own listener
        assert "adopting a served certificate is for admins only" in refused.all_text
        adopt = h.click("served_adopt", "UADMIN001", value=value)
        # the value the probe's post carries is the one the adopt feature reads: it goes
        # as far as resolving the hostname (the harness allows no loopback address)
        assert (
            "moved.shop.test resolves to 127.0.0.2, a loopback address: not probed"
            in adopt.all_text
        )


def test_the_dns_check_button_reads_its_value_as_the_adopt_button_does(
    sqlite_url: str, probe_lab: Lab
) -> None:
    from tests.support.slack_harness import slack_harness

    with slack_harness(sqlite_url, nameservers=[probe_lab.dns.address]) as h:
        seed_lab(h.deps.services, probe_lab)
        # An environment named, not numbered (the adopt value's form), is found by name.
        by_name = json.dumps({"hostname": "moved.shop.test", "environment": "moved"})
        checked = h.click("served_dns_check", value=by_name).all_text
        assert "moved.shop.test" in checked and "misconfigured" in checked.lower()
        # No hostname, or one longer than a host name can be: one line, no DNS check.
        for value in (
            json.dumps({"environment": "moved"}),
            json.dumps({"hostname": "a" * 300 + ".test", "environment": "moved"}),
            "not json",
        ):
            refused = h.click("served_dns_check", value=value).all_text
            assert "carries no hostname and environment I can read" in refused
            assert "misconfigured" not in refused.lower()


def test_the_bot_scheduler_runs_the_probe_and_posts(
    sqlite_url: str, probe_lab: Lab, api: FakeSlackApi
) -> None:
    from bot.scheduler import build_jobs, run_once
    from bot.settings import load
    from tests.support.slack_harness import harness_settings

    environ = {
        "CERTOPS_PROBE_PORT": str(probe_lab.port),
        "CERTOPS_PROBE_ALLOW_LOOPBACK": "1",
        "CERTOPS_PROBE_TIMEOUT": "1.5",
        "CERTOPS_NAMESERVERS": probe_lab.dns.nameserver,
    }
    loaded = load(environ, dotenv=False)
    assert (loaded.probe_port, loaded.probe_allow_loopback) == (probe_lab.port, True)
    assert loaded.nameservers == (probe_lab.dns.address,)
    assert load({"CERTOPS_PROBE_CONCURRENCY": "0"}, dotenv=False).problems()
    assert load({"CERTOPS_PROBE_ALLOW_LOOPBACK": "maybe"}, dotenv=False).problems()
    assert load({}, dotenv=False).probe_interval_seconds == 6 * 3600
    settings = harness_settings(
        sqlite_url,
        slack_bot_token=TOKEN,
        slack_api_url=api.api_url,
        probe_port=loaded.probe_port,
        probe_allow_loopback=True,
        probe_timeout_seconds=1.5,
        nameservers=loaded.nameservers,
    )
    database = Database(sqlite_url)
    try:
        clock = ManualClock(dt.datetime.now(dt.UTC))
        ctx = ServiceContext(database=database, clock=clock)
        seed_lab(ctx, probe_lab)
        jobs = build_jobs(settings, ctx, WebClient(token=TOKEN, base_url=api.api_url))
        assert [name for name, _ in jobs.as_list()] == ["expiry", "tls"]  # notify --once
        tick = jobs.as_list(with_probe=True)
        assert run_once(tick)["probe"].probed == 0  # new hostnames wait five minutes
        clock.advance(minutes=5)
        report = run_once(tick)["probe"]
        assert report.probed >= len(EXPECTED)
        assert report.posted == len(api.calls("chat.postMessage")) >= 9
    finally:
        database.dispose()


def test_certops_probe_usage_and_text(
    seeded: ServiceContext,
    probe_lab: Lab,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot import cli

    assert cli.main(["probe"]) == 2
    assert "say --once" in capsys.readouterr().err
    for key in ("SLACK_BOT_TOKEN", "CERTOPS_PROBE_INTERVAL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("DATABASE_URL", seeded.database.url.render_as_string(hide_password=False))
    monkeypatch.setenv("CERTOPS_PROBE_PORT", str(probe_lab.port))
    monkeypatch.setenv("CERTOPS_PROBE_ALLOW_LOOPBACK", "1")
    monkeypatch.setenv("CERTOPS_NAMESERVERS", probe_lab.dns.nameserver)
    monkeypatch.setenv("CERTOPS_PROBE_TIMEOUT", "1.5")
    assert cli.main(["probe", "--once"]) == 4
    out, err = capsys.readouterr()
    assert "other.shop.test  other  served_other_certificate" in out
    assert "not posted: SLACK_BOT_TOKEN is not set" in err
    monkeypatch.setenv("CERTOPS_PROBE_TIMEOUT", "-1")
    assert cli.main(["probe", "--once"]) == 2
    assert "CERTOPS_PROBE_TIMEOUT" in capsys.readouterr().err


def test_probe_once_adopt_takes_in_what_is_not_recorded(
    seeded: ServiceContext,
    probe_lab: Lab,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`certops probe --once --adopt`: the environments' hosts with nothing recorded are
    adopted from the probe's own connection (status observed); a certificate that does not
    cover its host is refused with the reason, the platform's own hosts are skipped, and
    the adopted hosts are `ok` from then on (no post)."""
    from bot import cli
    from tests.support.pki import CA

    portal = CA.root("Portal Root").leaf(sans=["portal.shop.test"], days=60)
    (tmp_path / "portal").mkdir()
    with TlsServer(tmp_path / "portal", "127.0.0.7", probe_lab.port) as server:
        server.serve(portal)
        probe_lab.dns.records["portal.shop.test"] = [("A", "127.0.0.7", 60)]
        probe_lab.dns.records["acme-x.outsystemsenterprise.com"] = [("A", "127.0.0.7", 60)]
        with seeded.session() as session:
            for name, host in (
                ("portal", "portal.shop.test"),
                ("x", "acme-x.outsystemsenterprise.com"),
            ):
                queries.add_environment(
                    session, Environment(name=name, default_host=host, channel="C0PORTAL")
                )
        monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
        monkeypatch.setenv(
            "DATABASE_URL", seeded.database.url.render_as_string(hide_password=False)
        )
        monkeypatch.setenv("CERTOPS_PROBE_PORT", str(probe_lab.port))
        monkeypatch.setenv("CERTOPS_PROBE_ALLOW_LOOPBACK", "1")
        monkeypatch.setenv("CERTOPS_NAMESERVERS", probe_lab.dns.nameserver)
        monkeypatch.setenv("CERTOPS_PROBE_TIMEOUT", "1.5")
        sni_before = len(server.sni)
        assert cli.main(["probe", "--once", "--adopt", "--json"]) == 4  # the lab's drift
        data = json.loads(capsys.readouterr().out)
        assert len(server.sni) - sni_before == 2  # one connection per host: none to adopt
    adopted = {entry["hostname"]: entry for entry in data["adopted"]}
    assert adopted["portal.shop.test"]["adopted"].startswith("portal.shop.test-observed-")
    assert "hostname_not_covered" in adopted["acme-lab.env.test"]["refused"]
    assert "platform" in adopted["acme-x.outsystemsenterprise.com"]["skipped"]
    with seeded.session() as session:
        cert = queries.certificate(session, adopted["portal.shop.test"]["adopted"])
        assert str(cert.status.value) == "observed"
        assert cert.fingerprint_sha256 == fingerprint_sha256(portal.cert)
        env = queries.environment(session, "portal")
        assert env.hostname == "portal.shop.test"
    rows = stored(seeded)
    assert rows["portal.shop.test"].outcome == "ok"
    assert rows["portal.shop.test"].reported == rows["portal.shop.test"].change  # no post
    assert rows["acme-lab.env.test"].outcome == "not_recorded"
    platform = rows["acme-x.outsystemsenterprise.com"]  # OutSystems' own: expected, no post
    assert platform.outcome == "not_recorded" and platform.reported == platform.change == 1
    assert rows["acme-lab.env.test"].reported < rows["acme-lab.env.test"].change  # to post
