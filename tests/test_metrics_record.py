"""The record's gauges (issue 16): read on a timer, served from memory, in the series
mode asked for. Scraped over HTTP and parsed with prometheus-client's own parser, on
SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import event

from bot import metrics as metrics_module
from bot import settings as settings_module
from bot.metrics import DAYS_LEFT_BUCKETS, OVER_BUCKET, SERIES_MODES, Metrics
from storage.db import Database
from storage.models import (
    Assignment,
    AssignmentState,
    Certificate,
    CertificateStatus,
    Environment,
    SubmittedFormat,
)
from tests.support.metrics import scrape, value

NOW = dt.datetime.now(dt.UTC)
PER_CERTIFICATE = {"certops_cert_not_after", "certops_cert_expires_in_seconds"}
AGGREGATED = {"certops_certificates_by_days_left", "certops_environment_soonest_expiry"}


def fill(database: Database, days_left: list[int], served: int, prefix: str = "cert") -> None:
    """Certificates expiring in `days_left` days; the first `served` serve env-i."""
    with database.session() as session:
        environments = [
            Environment(name=f"env-{i}", default_host=f"h{i}.example.net") for i in range(served)
        ]
        session.add_all(environments)
        certificates = [
            Certificate(
                name=f"{prefix}-{i}",
                domain=f"host{i}.example.com",
                submitted_format=SubmittedFormat.PEM,
                status=CertificateStatus.VALIDATED,
                subject=f"CN=host{i}.example.com,O=Test",
                issuer="CN=Test CA,O=Test",
                serial=f"{i:040x}",
                not_after=NOW + dt.timedelta(days=days, hours=1),
                submitted_by="UTEST",
            )
            for i, days in enumerate(days_left)
        ]
        session.add_all(certificates)
        session.flush()
        session.add_all(
            Assignment(
                certificate_id=certificates[i].id or 0,
                environment_id=environments[i].id or 0,
                hostname=f"host{i}.example.com",
                state=AssignmentState.ACTIVE,
                assigned_by="UTEST",
                active_at=NOW,
            )
            for i in range(served)
        )


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


class Statements:
    """Counts the SQL statements an engine runs while it is watched."""

    def __init__(self, database: Database) -> None:
        self.count = 0
        event.listen(database.engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: object) -> None:
        self.count += 1


def test_a_scrape_reads_no_database_after_the_refresh(database: Database) -> None:
    fill(database, [10, 40, 200], served=2)
    metrics = Metrics(database)
    assert metrics.record is not None
    first = scrape(metrics)  # starts the timer, which refreshes at once
    assert value(first, "certops_certificates", status="validated") == 3
    statements = Statements(database)
    fill(
        database, [5], served=0, prefix="late"
    )  # a change after the refresh: not seen until the next
    statements.count = 0
    for _ in range(3):
        samples = scrape(metrics)
    assert statements.count == 0
    assert value(samples, "certops_certificates", status="validated") == 3
    assert value(samples, "certops_database_up") == 1
    assert metrics.record.refresh()
    assert statements.count > 0
    assert value(scrape(metrics), "certops_certificates", status="validated") == 4
    metrics.record.stop()


def test_the_refresh_gauge_moves_and_the_timer_refreshes(database: Database) -> None:
    metrics = Metrics(database, refresh_seconds=0.2)
    assert metrics.record is not None
    before = time.time()
    first = value(scrape(metrics), "certops_record_refreshed_timestamp_seconds")
    assert before <= first <= time.time()
    deadline = time.monotonic() + 20
    later = first
    while later == first and time.monotonic() < deadline:
        time.sleep(0.1)
        later = value(scrape(metrics), "certops_record_refreshed_timestamp_seconds")
    assert later > first  # the timer refreshed on its own, no scrape asked it to
    metrics.record.stop()


def test_a_failed_refresh_keeps_the_last_success_time() -> None:
    down = Database("postgresql://postgres@127.0.0.1:1/certops")
    metrics = Metrics(down)
    samples = scrape(metrics)
    assert value(samples, "certops_database_up") == 0
    assert value(samples, "certops_record_refreshed_timestamp_seconds") == 0
    assert not PER_CERTIFICATE & samples.keys() and not AGGREGATED & samples.keys()


@pytest.mark.parametrize(
    ("series", "per_certificate", "aggregated"),
    [
        ("both", True, True),
        ("auto", True, True),
        ("per_certificate", True, False),
        ("aggregated", False, True),
    ],
)
def test_each_series_mode_serves_its_documented_series(
    database: Database, series: str, per_certificate: bool, aggregated: bool
) -> None:
    fill(database, [-3, 3, 3, 20, 45, 100], served=3)
    metrics = Metrics(database, series=series)
    samples = scrape(metrics)
    assert bool(PER_CERTIFICATE & samples.keys()) is per_certificate
    assert bool(AGGREGATED & samples.keys()) is aggregated
    assert value(samples, "certops_record_per_certificate_series") == float(per_certificate)
    if per_certificate:
        assert len(samples["certops_cert_not_after"]) == 6
        assert value(samples, "certops_cert_expired", certificate="cert-0") == 1
    if aggregated:
        # cert-0..2 serve env-0..2; cert-3..5 serve none (environment "").
        by = "certops_certificates_by_days_left"
        assert value(samples, by, environment="env-0", days_left="expired") == 1
        assert value(samples, by, environment="env-1", days_left="0-7d") == 1
        assert value(samples, by, environment="", days_left="14-30d") == 1
        assert value(samples, by, environment="", days_left="30-60d") == 1
        assert value(samples, by, environment="", days_left=OVER_BUCKET) == 1
        soonest = value(samples, "certops_environment_soonest_expiry", environment="")
        assert soonest == pytest.approx((NOW + dt.timedelta(days=20, hours=1)).timestamp())
        assert sum(s.value for s in samples[by]) == 6
    assert metrics.record is not None
    metrics.record.stop()


def test_auto_drops_the_per_certificate_series_above_its_limit(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics_module, "AUTO_PER_CERTIFICATE_LIMIT", 2)
    fill(database, [1, 2, 3], served=1)
    samples = scrape(Metrics(database))
    assert not PER_CERTIFICATE & samples.keys()
    assert value(samples, "certops_record_per_certificate_series") == 0
    assert sum(s.value for s in samples["certops_certificates_by_days_left"]) == 3


def test_the_settings_name_the_modes_the_collector_knows() -> None:
    assert settings_module.METRICS_SERIES == SERIES_MODES
    assert DAYS_LEFT_BUCKETS[0][0] == "expired"
    loaded = settings_module.load(
        {"CERTOPS_METRICS_REFRESH": "15", "CERTOPS_METRICS_SERIES": "aggregated"}, dotenv=False
    )
    assert (loaded.metrics_refresh_seconds, loaded.metrics_series) == (15.0, "aggregated")
    bad = settings_module.load(
        {"CERTOPS_METRICS_REFRESH": "0", "CERTOPS_METRICS_SERIES": "everything"}, dotenv=False
    )
    problems = " ".join(bad.problems())
    assert "CERTOPS_METRICS_REFRESH" in problems and "CERTOPS_METRICS_SERIES" in problems
    with pytest.raises(ValueError):
        metrics_module.RecordCollector(Database("sqlite://"), series="everything")


def test_two_replicas_on_one_record_show_the_same_figures(database: Database) -> None:
    fill(database, [-1, 4, 12, 50, 200], served=2)
    one, two = Metrics(database), Metrics(database, refresh_seconds=5)
    first, second = scrape(one), scrape(two)
    for name in ("certops_certificates", "certops_certificates_by_days_left"):
        assert sorted((tuple(sorted(s.labels.items())), s.value) for s in first[name]) == sorted(
            (tuple(sorted(s.labels.items())), s.value) for s in second[name]
        )
    assert first["certops_cert_not_after"] == second["certops_cert_not_after"]
    for metrics in (one, two):
        assert metrics.record is not None
        metrics.record.stop()
