"""The DNS tests' and the benchmark's records, served by the one loopback DNS server.

The server itself lives in bot/console/dns_server.py (the console runs it as its lab DNS);
it is re-exported here so `from tests.support.dns_server import DnsServer` keeps working.
"""

from __future__ import annotations

from bot.console.dns_server import (
    DEFAULT_TTL,
    MODES,
    DnsServer,
    Record,
    Records,
    records_from_zone_text,
)

__all__ = [
    "DEFAULT_TTL",
    "LOAD_BALANCER",
    "MODES",
    "TARGET",
    "ZONES",
    "DnsServer",
    "Record",
    "Records",
    "records_from_zone_text",
    "standard_records",
]

# --- the records the DNS tests and the benchmark serve ----------------------------------

TARGET = "acme-dev.outsystemsenterprise.com"
LOAD_BALANCER = "acme-lb-1.us-east-1.elb.amazonaws.com"
ZONES = ("example.com", "example.net", "example.org", "outsystemsenterprise.com", "amazonaws.com")


def standard_records() -> dict[str, list[Record]]:
    """One name per situation the DNS check must recognise (see tests/test_dns_check.py)."""
    records: dict[str, list[Record]] = {
        # the environment's default host, itself an alias of the load balancer
        TARGET: [("CNAME", f"{LOAD_BALANCER}.", 60)],
        LOAD_BALANCER: [
            ("A", "192.0.2.10", 60),
            ("A", "192.0.2.11", 60),
            ("AAAA", "2001:db8::10", 60),
        ],
        "other-dev.outsystemsenterprise.com": [("A", "192.0.2.20", 60)],
        # cname_ok
        "ok.example.com": [("CNAME", f"{TARGET}.", 300)],
        "xn--bcher-kva.example.com": [("CNAME", f"{TARGET}.", 300)],  # bücher.example.com
        # cname_to_load_balancer
        "lb.example.com": [("CNAME", f"{LOAD_BALANCER}.", 300)],
        # cname_wrong_target
        "wrong.example.com": [("CNAME", "other-dev.outsystemsenterprise.com.", 300)],
        "via.example.com": [("CNAME", "cdn.example.net.", 300)],
        "cdn.example.net": [("CNAME", f"{TARGET}.", 300)],
        # a_record_instead_of_cname
        "a.example.com": [("A", "192.0.2.30", 120), ("A", "192.0.2.31", 120)],
        "aaaa.example.com": [("AAAA", "2001:db8::30", 120)],
        # apex_domain: example.com itself (zone apex with an A record); example.org bare
        "example.com": [("A", "192.0.2.1", 3600)],
        # no_record: NXDOMAIN for missing.example.com; NODATA here
        "txt.example.com": [("TXT", '"v=spf1 -all"', 300)],
        # dangling_cname
        "dangling.example.com": [("CNAME", "gone.example.net.", 300)],
        "dangling-nodata.example.com": [("CNAME", "txt-only.example.net.", 300)],
        "txt-only.example.net": [("TXT", '"nothing here"', 300)],
        "broken.example.com": [("CNAME", "broken-dev.outsystemsenterprise.com.", 300)],
        # cname_loop
        "loop1.example.com": [("CNAME", "loop2.example.com.", 300)],
        "loop2.example.com": [("CNAME", "loop1.example.com.", 300)],
        "self.example.com": [("CNAME", "self.example.com.", 300)],
        # a long chain: long0 -> long1 -> ... -> long9 -> 192.0.2.40
        "long9.example.com": [("A", "192.0.2.40", 300)],
    }
    for i in range(9):
        records[f"long{i}.example.com"] = [("CNAME", f"long{i + 1}.example.com.", 300)]
    return records
