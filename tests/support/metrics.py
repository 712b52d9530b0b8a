"""Reading `/metrics` back: a real scrape through the health app, parsed with
prometheus-client's own parser (tests/test_metrics.py, tests/test_metrics_record.py)."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from bot.health import HealthApp
from bot.http_server import HttpServer
from bot.metrics import Metrics
from storage.db import Database


def scrape(metrics: Metrics, database: Database | None = None) -> dict[str, list[Sample]]:
    """GET /metrics over HTTP from a server of the app's health endpoints; samples by name."""
    app = HealthApp(metrics, database or metrics.database)
    with (
        HttpServer(app, host="127.0.0.1", port=0, threads=2) as server,
        urllib.request.urlopen(server.url + "/metrics", timeout=10) as response,
    ):
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    samples: dict[str, list[Sample]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


def value(samples: dict[str, list[Sample]], name: str, **labels: str) -> float:
    found = [
        s for s in samples.get(name, []) if all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(found) == 1, f"{name}{labels}: {samples.get(name)}"
    return found[0].value
