"""The DNS check against real DNS servers on loopback UDP (tests/support/dns_server.py).

No resolver object is mocked: every answer crosses a socket, in the "normal" mode (chains
followed into the answer, like a recursive resolver), the "first hop only" mode, a silent
server, a SERVFAIL server, and three servers that disagree.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.pipeline.dns_check import (
    check_dns,
    matching_load_balancer,
    system_nameserver,
)
from bot.pipeline.dns_report import (
    STATUS_ANSWERED,
    STATUS_FAILED,
    STATUS_INCOMPLETE,
    STATUS_NO_ANSWER,
    DnsReport,
    format_duration,
    render_text,
)
from bot.pipeline.findings import CATALOG, Severity
from bot.pipeline.hostnames import InvalidHostname, covers, normalize, to_unicode
from bot.pipeline.nameservers import parse_nameserver
from tests.support.dns_server import LOAD_BALANCER, TARGET, ZONES, DnsServer, standard_records


@pytest.fixture(scope="module")
def normal() -> Iterator[DnsServer]:
    with DnsServer(standard_records(), zones=ZONES) as server:
        yield server


@pytest.fixture(scope="module")
def first_hop() -> Iterator[DnsServer]:
    with DnsServer(standard_records(), zones=ZONES, mode="first_hop") as server:
        yield server


@pytest.fixture(scope="module")
def silent() -> Iterator[DnsServer]:
    with DnsServer(mode="silent") as server:
        yield server


@pytest.fixture(scope="module")
def servfail() -> Iterator[DnsServer]:
    with DnsServer(mode="servfail") as server:
        yield server


def _check(server: DnsServer, host: str, target: str = TARGET, **kwargs: Any) -> DnsReport:
    return check_dns(host, target, nameservers=[server.address], timeout=3.0, **kwargs)


# host -> (verdict, codes); every DNS code of the catalog but the multi-server ones.
CASES = {
    "ok.example.com": ("ok", ["cname_ok"]),
    "lb.example.com": ("misconfigured", ["cname_to_load_balancer"]),
    "wrong.example.com": ("misconfigured", ["cname_wrong_target"]),
    "via.example.com": ("misconfigured", ["cname_wrong_target"]),
    "a.example.com": ("misconfigured", ["a_record_instead_of_cname"]),
    "aaaa.example.com": ("misconfigured", ["a_record_instead_of_cname"]),
    "example.com": ("misconfigured", ["apex_domain"]),
    "example.org": ("misconfigured", ["apex_domain"]),
    "missing.example.com": ("misconfigured", ["no_record"]),
    "txt.example.com": ("misconfigured", ["no_record"]),
    "dangling.example.com": ("misconfigured", ["cname_wrong_target", "dangling_cname"]),
    "dangling-nodata.example.com": ("misconfigured", ["cname_wrong_target", "dangling_cname"]),
    "loop1.example.com": ("misconfigured", ["cname_wrong_target", "cname_loop"]),
    "self.example.com": ("misconfigured", ["cname_wrong_target", "cname_loop"]),
}


@pytest.mark.parametrize("host", sorted(CASES))
def test_each_situation_gets_its_code(normal: DnsServer, host: str) -> None:
    verdict, codes = CASES[host]
    report = _check(normal, host)
    assert (report.verdict, report.codes) == (verdict, codes), render_text(report)
    for item in report.findings:
        assert item.severity is CATALOG[item.code].severity
        assert item.message and item.hint


@pytest.mark.parametrize("host", sorted(CASES))
def test_a_first_hop_only_server_gives_the_same_verdicts(
    normal: DnsServer, first_hop: DnsServer, host: str
) -> None:
    full, hop_by_hop = _check(normal, host), _check(first_hop, host)
    assert (hop_by_hop.verdict, hop_by_hop.codes) == (full.verdict, full.codes)
    assert hop_by_hop.hops == full.hops
    assert sorted(hop_by_hop.addresses, key=str) == sorted(full.addresses, key=str)


def test_ok_reports_every_hop_with_its_ttl_and_the_final_addresses(normal: DnsServer) -> None:
    report = _check(normal, "ok.example.com")
    assert [(h.name, h.target, h.ttl) for h in report.hops] == [
        ("ok.example.com", TARGET, 300),
        (TARGET, LOAD_BALANCER, 60),
    ]
    assert sorted((a.type, a.address, a.ttl) for a in report.addresses) == [
        ("A", "192.0.2.10", 60),
        ("A", "192.0.2.11", 60),
        ("AAAA", "2001:db8::10", 60),
    ]
    assert report.fixes == []
    assert report.cache_seconds == 300
    assert "5 min" in report.cache_note
    assert report.nameservers[0].status == STATUS_ANSWERED


def test_the_first_hop_is_judged_even_when_the_chain_reaches_the_target_later(
    normal: DnsServer,
) -> None:
    report = _check(normal, "via.example.com")
    message = report.findings[0].message
    assert "cdn.example.net" in message and "hop 2" in message
    assert report.hops[-1].target == LOAD_BALANCER  # the chain itself was followed


def test_a_dangling_first_hop_on_the_target_points_at_the_target_itself(
    normal: DnsServer,
) -> None:
    report = _check(normal, "broken.example.com", "broken-dev.outsystemsenterprise.com")
    assert report.codes == ["dangling_cname"]
    assert "--target" in report.fixes[0]
    assert report.nameservers[0].negative_ttl == 60


def test_a_chain_longer_than_the_hop_limit_stops_there(normal: DnsServer) -> None:
    report = _check(normal, "long0.example.com", "long1.example.com", max_hops=3)
    assert report.codes == ["cname_loop"]
    assert len(report.hops) == 3
    assert "longer than 3 hops" in report.findings[0].message
    generous = _check(normal, "long0.example.com", "long1.example.com", max_hops=10)
    assert generous.codes == ["cname_ok"]
    assert len(generous.hops) == 9


def test_load_balancer_patterns_come_from_the_caller(normal: DnsServer) -> None:
    report = _check(normal, "wrong.example.com", load_balancer_patterns=["*-dev.outsystems*.com"])
    assert report.codes == ["cname_to_load_balancer"]
    none = _check(normal, "lb.example.com", load_balancer_patterns=[])
    assert none.codes == ["cname_wrong_target"]


def test_three_nameservers_that_disagree_are_each_reported() -> None:
    records, new, old = standard_records(), standard_records(), standard_records()
    new["moved.example.com"] = [("CNAME", f"{TARGET}.", 300)]
    old["moved.example.com"] = [("CNAME", "old-dev.outsystemsenterprise.com.", 3600)]
    with (
        DnsServer(new, zones=ZONES) as one,
        DnsServer(old, zones=ZONES) as two,
        DnsServer(records, zones=ZONES) as three,
    ):
        report = check_dns(
            "moved.example.com",
            TARGET,
            nameservers=[one.address, two.address, three.address],
            timeout=3.0,
        )
    assert report.verdict == "misconfigured"
    assert "resolvers_disagree" in report.codes
    disagree = next(f for f in report.findings if f.code == "resolvers_disagree")
    assert disagree.severity is Severity.WARNING
    for server in (one, two, three):
        assert server.nameserver in disagree.message
    assert "old-dev.outsystemsenterprise.com" in disagree.message
    assert "NXDOMAIN" in disagree.message
    # each nameserver's own verdict, labelled with the nameserver
    labelled = {(f.code, f.message.split(": ")[0]) for f in report.findings}
    assert ("cname_ok", one.nameserver) in labelled
    assert ("dangling_cname", two.nameserver) in labelled  # old-dev no longer exists
    assert ("no_record", three.nameserver) in labelled
    assert [n.status for n in report.nameservers] == [STATUS_ANSWERED] * 3
    assert report.cache_seconds == 3600
    assert "1 h" in report.fixes[-1]


def test_servers_that_agree_in_different_ways_do_not_disagree(
    normal: DnsServer, first_hop: DnsServer
) -> None:
    report = check_dns(
        "lb.example.com", TARGET, nameservers=[normal.address, first_hop.address], timeout=3.0
    )
    assert report.codes == ["cname_to_load_balancer"]
    assert len(report.nameservers) == 2


def test_a_silent_nameserver_gives_unknown_not_misconfigured(silent: DnsServer) -> None:
    report = check_dns("ok.example.com", TARGET, nameservers=[silent.address], timeout=0.3)
    assert report.verdict == "unknown"
    assert report.codes == ["dns_unreachable"]
    assert report.nameservers[0].status == STATUS_NO_ANSWER
    assert "0.3 s" in report.findings[0].message
    assert report.cache_note == ""
    assert report.fixes == [CATALOG["dns_unreachable"].hint]


def test_a_silent_nameserver_beside_a_good_one_does_not_hide_the_answer(
    silent: DnsServer, normal: DnsServer
) -> None:
    report = check_dns(
        "ok.example.com", TARGET, nameservers=[silent.address, normal.address], timeout=1.0
    )  # 1 s: the good server's whole chain must fit even on a busy machine
    assert report.verdict == "ok"
    assert report.codes == ["cname_ok", "dns_unreachable"]
    assert "1 of 2" in report.findings[1].message
    assert len(report.hops) == 2
    assert report.answered_by == normal.nameserver
    assert f"(as answered by {normal.nameserver}; each one below)" in render_text(report)


def test_servfail_is_unknown_with_the_reason(servfail: DnsServer) -> None:
    report = check_dns("ok.example.com", TARGET, nameservers=[servfail.address], timeout=2.0)
    assert report.verdict == "unknown"
    assert report.nameservers[0].status == STATUS_FAILED
    assert report.nameservers[0].detail == "answered SERVFAIL"
    assert "SERVFAIL" in report.findings[0].message


def test_a_budget_that_runs_out_mid_chain_keeps_what_was_learned() -> None:
    # The first hop is answered, the next name never is: the budget runs out mid-chain on
    # any machine (no race between answer delays and the budget).
    silent = [TARGET, "other-dev.outsystemsenterprise.com"]
    records = standard_records()
    with DnsServer(records, zones=ZONES, mode="first_hop", silent_names=silent) as partial:
        ok = check_dns("ok.example.com", TARGET, nameservers=[partial.address], timeout=1.0)
        wrong = check_dns("wrong.example.com", TARGET, nameservers=[partial.address], timeout=1.0)
        asked = {name for name, _ in partial.queries}
    assert TARGET in asked and "other-dev.outsystemsenterprise.com" in asked
    assert ok.nameservers[0].status == STATUS_INCOMPLETE
    assert ok.hops and ok.hops[0].target == TARGET
    assert ok.verdict == "unknown"  # right so far, but never seen to end in an address
    assert "dns_unreachable" in ok.codes
    # a wrong first hop is wrong whatever follows
    assert wrong.verdict == "misconfigured"
    assert wrong.codes[0] == "cname_wrong_target"


def test_a_budget_already_spent_by_the_caller_asks_nothing(normal: DnsServer) -> None:
    before = len(normal.queries)
    report = check_dns(
        "ok.example.com", TARGET, nameservers=[normal.address], timeout=1.0, started=0.0
    )
    assert report.verdict == "unknown"
    assert len(normal.queries) == before


@pytest.mark.parametrize("written", ["OK.Example.COM", "ok.example.com.", "  Ok.EXAMPLE.com.  "])
def test_case_and_trailing_dot_are_ignored(normal: DnsServer, written: str) -> None:
    report = _check(normal, written, TARGET.upper() + ".")
    assert report.hostname == "ok.example.com"
    assert report.target == TARGET
    assert report.verdict == "ok"


def test_an_internationalised_hostname_is_asked_as_its_a_label(normal: DnsServer) -> None:
    report = _check(normal, "Bücher.example.com")
    assert report.hostname == "xn--bcher-kva.example.com"
    assert report.verdict == "ok"
    assert ("xn--bcher-kva.example.com", "CNAME") in normal.queries
    assert "(bücher.example.com)" in render_text(report)


@pytest.mark.parametrize(
    ("host", "target"),
    [
        ("not a host", TARGET),
        ("app..example.com", TARGET),
        ("*.example.com", TARGET),
        ("ok.example.com", "-bad-.example.com"),
        ("192.0.2.1", TARGET),
        (TARGET, TARGET),
    ],
)
def test_invalid_names_raise_before_any_query(normal: DnsServer, host: str, target: str) -> None:
    before = len(normal.queries)
    with pytest.raises(InvalidHostname):
        check_dns(host, target, nameservers=[normal.address])
    assert len(normal.queries) == before


def test_certificate_names_are_matched_one_label_deep(normal: DnsServer) -> None:
    covered = _check(normal, "ok.example.com", certificate_names=["*.EXAMPLE.com."])
    assert covered.verdict == "ok"
    assert covered.certificate is not None and covered.certificate.covers
    assert covered.certificate.names == ("*.example.com",)
    apex = _check(normal, "example.com", certificate_names=["*.example.com"])
    assert apex.codes == ["apex_domain", "hostname_not_covered"]
    below = _check(
        normal, "ok.example.com", certificate_names=["*.ok.example.com", "www.example.com"]
    )
    assert below.codes == ["cname_ok", "hostname_not_covered"]
    assert below.verdict == "misconfigured"
    assert "*.ok.example.com, www.example.com" in below.findings[1].message
    two_deep = _check(normal, "deep.ok.example.com", certificate_names=["*.example.com"])
    assert "hostname_not_covered" in two_deep.codes


def test_an_uncovered_hostname_is_misconfigured_even_without_dns(silent: DnsServer) -> None:
    report = check_dns(
        "ok.example.com",
        TARGET,
        nameservers=[silent.address],
        timeout=0.2,
        certificate_names=["other.example.net"],
    )
    assert report.codes == ["dns_unreachable", "hostname_not_covered"]
    assert report.verdict == "misconfigured"


def test_the_report_has_a_stable_json_shape(normal: DnsServer) -> None:
    data = json.loads(json.dumps(_check(normal, "lb.example.com").to_dict()))
    assert set(data) == {
        "verdict", "hostname", "target", "expected", "findings", "hops", "addresses",
        "answered_by", "nameservers", "fixes", "cache", "certificate", "timeout", "elapsed",
    }  # fmt: skip
    assert data["expected"] == {"name": "lb.example.com", "type": "CNAME", "target": TARGET}
    assert data["findings"][0]["code"] == "cname_to_load_balancer"
    assert set(data["findings"][0]) == {"code", "severity", "message", "hint"}
    assert data["hops"][0] == {
        "name": "lb.example.com", "type": "CNAME", "target": LOAD_BALANCER, "ttl": 300
    }  # fmt: skip
    assert data["nameservers"][0]["nameserver"] == normal.nameserver
    assert data["nameservers"][0]["status"] == "answered"
    assert data["cache"]["max_ttl"] == 300
    assert data["fixes"] and data["certificate"] is None


def test_the_text_report_puts_expected_beside_found_then_numbered_fixes(
    normal: DnsServer,
) -> None:
    text = render_text(_check(normal, "lb.example.com"))
    lines = text.splitlines()
    assert lines[0] == "DNS check for lb.example.com: MISCONFIGURED"
    expected = next(line for line in lines if line.startswith("  expected"))
    found = next(line for line in lines if line.startswith("  found"))
    assert expected.index("CNAME") == found.index("CNAME")  # aligned columns
    assert LOAD_BALANCER in found and "TTL 300" in found
    assert "  1. Point the CNAME of lb.example.com at" in text
    assert "Caches: " in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.0.2.1", ("192.0.2.1", 53)),
        ("192.0.2.1:5353", ("192.0.2.1", 5353)),
        ("::1", ("::1", 53)),
        ("[::1]:5353", ("::1", 5353)),
    ],
)
def test_nameserver_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_nameserver(text) == expected


@pytest.mark.parametrize("text", ["dns.google", "192.0.2.1:0", "192.0.2.1:x", "[::1", "1.2.3"])
def test_bad_nameserver_addresses_say_why(text: str) -> None:
    with pytest.raises(ValueError, match="nameserver"):
        parse_nameserver(text)


def test_load_balancer_patterns_span_several_labels() -> None:
    patterns = ["*.elb.amazonaws.com"]
    assert matching_load_balancer("a-1.us-east-1.elb.amazonaws.com", patterns) == patterns[0]
    assert matching_load_balancer("elb.amazonaws.com", patterns) is None
    assert matching_load_balancer("acme.outsystemsenterprise.com", patterns) is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(45, "45 s"), (300, "5 min"), (90, "1 min 30 s"), (5400, "1 h 30 min"), (172800, "2 days")],
)
def test_durations_read_like_a_person_writes_them(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text


def test_the_default_is_the_system_resolver_from_resolv_conf() -> None:
    conf = Path("/etc/resolv.conf")
    listed = (
        [line.split()[1] for line in conf.read_text().splitlines() if line.startswith("nameserver")]
        if conf.exists()
        else []
    )
    system = system_nameserver()
    if not listed:
        assert system is None
        return
    assert system is not None
    assert [address for address, _ in system.addresses] == listed
    assert all(port == 53 for _, port in system.addresses)
    assert system.label.startswith("system resolver (")


@pytest.mark.parametrize(
    ("written", "alabel"),
    [
        ("straße.example.com", "xn--strae-oqa.example.com"),  # IDNA 2008, not "strasse"
        ("STRASSE.example.com", "strasse.example.com"),
        ("Bücher.Example.COM.", "xn--bcher-kva.example.com"),
        ("ＡＰＰ.example.com", "app.example.com"),  # full-width letters map to ASCII
        ("ς.example.com", "xn--3xa.example.com"),  # final sigma kept, as browsers do
    ],
)
def test_names_become_the_a_labels_browsers_and_cas_use(written: str, alabel: str) -> None:
    assert normalize(written) == alabel


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("xn--zz.example.com", "not a valid internationalised"),
        ("xn--abc-.example.com", "not a valid internationalised"),
        ("a" * 64 + ".example.com", "longer than 63 characters"),
    ],
)
def test_bad_labels_say_why(written: str, reason: str) -> None:
    with pytest.raises(InvalidHostname, match=reason):
        normalize(written)


def test_idna_2008_names_are_matched_and_shown_in_unicode(normal: DnsServer) -> None:
    assert covers(["xn--strae-oqa.example.com"], normalize("straße.example.com"))
    assert not covers(["strasse.example.com"], normalize("straße.example.com"))
    assert to_unicode("xn--strae-oqa.example.com") == "straße.example.com"
    report = _check(normal, "straße.example.com")
    assert report.hostname == "xn--strae-oqa.example.com"
    assert "(straße.example.com)" in render_text(report)


@pytest.mark.parametrize(
    ("host", "second"),
    [("dangling.example.com", "dangling_cname"), ("loop1.example.com", "cname_loop")],
)
def test_a_wrong_first_hop_gives_one_fix_for_the_whole_chain(
    normal: DnsServer, host: str, second: str
) -> None:
    report = _check(normal, host)
    assert report.codes[:2] == ["cname_wrong_target", second]
    assert report.findings[1].hint == report.findings[0].hint  # the JSON keeps a hint
    assert len(report.fixes) == 1 and report.fixes[0].startswith(f"Change the CNAME of {host}")
    text = render_text(report)
    assert "  1. Change the CNAME" in text and "  2. " not in text


def test_nameservers_are_asked_at_once_not_one_after_another() -> None:
    """Issue 3: with several nameservers the check takes about as long as the slowest,
    not their sum. Proven without a clock: the three servers answer their first query
    only once all three have received one, which a check asking them in turn never
    achieves (it would end `unknown`). The figures are in bench/bench_dns.py."""
    gate = threading.Barrier(3, timeout=2.0)
    servers = [DnsServer(standard_records(), zones=ZONES, first_query_gate=gate) for _ in range(3)]
    with servers[0] as a, servers[1] as b, servers[2] as c:
        report = check_dns(
            "ok.example.com", TARGET, nameservers=[a.address, b.address, c.address], timeout=3.0
        )
    assert report.verdict == "ok", report.findings
    assert not gate.broken


def test_silent_nameservers_give_unknown_from_each() -> None:
    """The check ends even when no nameserver ever answers, and says so for each."""
    with (
        DnsServer(mode="silent") as a,
        DnsServer(mode="silent") as b,
        DnsServer(mode="silent") as c,
    ):
        report = check_dns(
            "ok.example.com", TARGET, nameservers=[a.address, b.address, c.address], timeout=1.0
        )
        assert all(server.queries for server in (a, b, c))  # each one was asked
    assert report.verdict == "unknown"
    assert [ns.status for ns in report.nameservers] == [STATUS_NO_ANSWER] * 3


def test_certops_nameservers_setting_points_the_bots_check_at_a_server(tmp_path: Path) -> None:
    """CERTOPS_NAMESERVERS reaches the services: the bot's check asks the loopback server."""
    from bot.context import create_service_context
    from bot.services.dns import run_check
    from bot.settings import load

    with DnsServer(standard_records()) as server:
        settings = load(
            {
                "CERTOPS_NAMESERVERS": server.nameserver,
                "CERTOPS_DATA_DIR": str(tmp_path),
            },
            dotenv=False,
        )
        ctx = create_service_context(settings)
        report = run_check(ctx, "ok.example.com", TARGET, nameservers=None, timeout=2.0)
    assert report.verdict == "ok", report.to_dict()
    assert [row["nameserver"] for row in report.to_dict()["nameservers"]] == [server.nameserver]
