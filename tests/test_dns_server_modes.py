"""The test DNS server does what its modes promise, seen with plain dns.query.udp.

The DNS check's tests rest on these modes (a first-hop-only server must really withhold
the chain), so they are checked against the wire, independently of the check.
"""

from __future__ import annotations

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from tests.support.dns_server import (
    LOAD_BALANCER,
    TARGET,
    ZONES,
    DnsServer,
    records_from_zone_text,
    standard_records,
)


def _ask(server: DnsServer, name: str, rdtype: str = "A") -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    return dns.query.udp(query, "127.0.0.1", port=server.port, timeout=2.0)


def _answer_types(response: dns.message.Message) -> list[tuple[str, str]]:
    return [
        (r.name.to_text(omit_final_dot=True), dns.rdatatype.to_text(r.rdtype))
        for r in response.answer
    ]


def test_normal_mode_follows_the_chain_like_a_recursive_resolver() -> None:
    with DnsServer(standard_records(), zones=ZONES) as server:
        response = _ask(server, "ok.example.com")
        cname_only = _ask(server, "ok.example.com", "CNAME")
        missing = _ask(server, "missing.example.com")
        apex = _ask(server, "example.com", "SOA")
    assert _answer_types(response) == [
        ("ok.example.com", "CNAME"),
        (TARGET, "CNAME"),
        (LOAD_BALANCER, "A"),
    ]
    assert _answer_types(cname_only) == [("ok.example.com", "CNAME")]
    assert missing.rcode() == dns.rcode.NXDOMAIN
    assert missing.authority[0].rdtype == dns.rdatatype.SOA
    assert _answer_types(apex) == [("example.com", "SOA")]
    assert server.queries[0] == ("ok.example.com", "A")


def test_first_hop_mode_never_returns_the_rest_of_the_chain() -> None:
    with DnsServer(standard_records(), zones=ZONES, mode="first_hop") as server:
        response = _ask(server, "ok.example.com")
    assert response.rcode() == dns.rcode.NOERROR
    assert _answer_types(response) == [("ok.example.com", "CNAME")]


def test_servfail_mode() -> None:
    with DnsServer(standard_records(), mode="servfail") as server:
        assert _ask(server, "ok.example.com").rcode() == dns.rcode.SERVFAIL


def test_silent_mode_reads_and_never_answers() -> None:
    with DnsServer(standard_records(), mode="silent") as server:
        with pytest.raises(dns.exception.Timeout):
            dns.query.udp(
                dns.message.make_query("ok.example.com", "A"),
                "127.0.0.1",
                port=server.port,
                timeout=0.2,
            )
        assert server.queries == [("ok.example.com", "A")]


def test_zone_text_can_be_served() -> None:
    records = records_from_zone_text(
        "$TTL 120\n@ SOA ns1 hostmaster 1 3600 600 86400 30\nwww CNAME app\napp A 192.0.2.9\n",
        "zone.test.",
    )
    with DnsServer(records) as server:
        response = _ask(server, "www.zone.test")
    assert _answer_types(response) == [("www.zone.test", "CNAME"), ("app.zone.test", "A")]
    assert response.answer[0].ttl == 120
