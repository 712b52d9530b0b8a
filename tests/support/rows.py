"""Record rows built in memory, with every column filled and any of them overridden: the
storage tests add them straight through a session.

Shared by tests/test_storage_*.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage.models import Certificate, CertificateStatus, Environment, SubmittedFormat

NOT_AFTER = datetime(2027, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


def make_certificate(name: str = "acme-2027", **overrides: object) -> Certificate:
    values: dict[str, object] = {
        "name": name,
        "domain": "*.acme.example",
        "submitted_format": SubmittedFormat.PFX,
        "status": CertificateStatus.VALIDATED,
        "subject": "CN=*.acme.example",
        "sans": ["*.acme.example", "acme.example"],
        "issuer": "CN=Test Intermediate",
        "serial": "0a1b2c",
        "not_before": NOT_AFTER - timedelta(days=90),
        "not_after": NOT_AFTER,
        "fingerprint_sha256": "ab" * 32,
        "key_type": "RSA",
        "key_bits": 2048,
        "certificate_pem": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        "report": {"verdict": "valid", "findings": [{"code": "expiring_soon"}]},
        "submitted_by": "U123",
    }
    values.update(overrides)
    return Certificate(**values)  # type: ignore[arg-type]


def make_environment(name: str = "acme-dev", **overrides: object) -> Environment:
    values: dict[str, object] = {"name": name, "default_host": f"{name}.outsystemsenterprise.com"}
    values.update(overrides)
    return Environment(**values)  # type: ignore[arg-type]
