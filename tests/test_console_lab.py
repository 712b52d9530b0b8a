"""The console's `/samples` and its lab DNS (`/dns`), through the real session.

Without CERTOPS_NAMESERVERS the console starts the lab DNS on loopback and its services
ask it; `/samples` writes test certificates, trusts their root in the running session
and gives the lab the CNAME the walk-through's assignment needs. Names the lab does not
serve get REFUSED, so the DNS check says Unknown, never a made-up verdict.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest

from bot.console.lab_dns import LAB_TARGET, LabDns
from bot.console.session import ConsoleSession, open_session
from bot.pipeline.tls_probe import probe
from bot.services.context import ServiceContext
from bot.settings import Settings
from bot.trust_roots import read_trust_file
from storage.db import Database
from tests.support.dns_server import DnsServer
from tests.support.slack_fixtures import add_env, make_pki, submit

HOST = "app.certops.test"


def line(session: ConsoleSession, text: str) -> str:
    out = session.handle_line(text)
    assert out is not None
    return out


@pytest.fixture
def in_tmp(tmp_path: Path) -> Iterator[Path]:
    """The console's working directory: `/samples` writes ./samples there."""
    before = Path.cwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(before)


def ask(server: tuple[str, int], name: str, rdtype: str = "A") -> dns.message.Message:
    return dns.query.udp(dns.message.make_query(name, rdtype), server[0], port=server[1], timeout=5)


def test_samples_trusts_the_root_and_the_lab_answers_the_dns_check(
    sqlite_url: str, in_tmp: Path
) -> None:
    with open_session(Settings(database_url=sqlite_url), user_id="U0ME", admin=True) as s:
        assert s.lab is not None
        assert s.deps.services.default_nameservers == s.lab.nameservers
        before = line(s, f"/cert env add dev {LAB_TARGET}")
        refused = line(s, f"/cert dns {HOST}")  # not recorded yet: no such name
        written = line(s, "/samples")
        ok = line(s, f"/cert dns {HOST}")
        outside = line(s, "/cert dns www.example.invalid")
        again = line(s, "/samples")
        roots = list(s.deps.services.extra_roots)
    assert "Environment *dev* recorded" in before
    assert "`no_record`" in refused
    assert "This console trusts samples/ca.pem from now on" in written
    assert f"{HOST}. CNAME {LAB_TARGET}." in written
    assert "/upload samples/valid.pfx" in written and "PFX password (valid.pfx): " in written
    assert roots == list(read_trust_file(in_tmp / "samples" / "ca.pem"))
    assert "*OK*" in ok and "`cname_ok`" in ok
    assert "*Unknown*" in outside and "answered REFUSED" in outside
    assert again == (
        "No samples written: 'samples' already holds sample files; use --force to replace them."
    )


def test_samples_options_and_refusals_are_one_line(sqlite_url: str, in_tmp: Path) -> None:
    with open_session(Settings(database_url=sqlite_url), admin=True) as s:
        bad_name = line(s, "/samples --name 'not a host'")
        bad_option = line(s, "/samples --colour red")
        quote = line(s, "/samples 'unclosed")
        (in_tmp / "afile").write_text("x")
        a_file = line(s, "/samples afile")
        named = line(s, "/samples shop --name shop.example.com")
        assert s.lab is not None
        record = ask(s.lab.address, "shop.example.com")
    for answer in (bad_name, bad_option, quote, a_file):
        assert "\n" not in answer and "Traceback" not in answer
    assert bad_name.startswith("No samples written: --name:")
    assert "unrecognized arguments: --colour red" in bad_option and "/samples [DIR]" in bad_option
    assert "No closing quotation" in quote
    assert a_file == "No samples written: 'afile' is a file, not a directory."
    assert "Test certificates for shop.example.com in shop" in named
    assert f"shop.example.com. CNAME {LAB_TARGET}." in named
    assert record.answer[0].to_text().endswith(f"CNAME {LAB_TARGET}.")


def test_dns_sets_records_for_the_other_verdicts(sqlite_url: str) -> None:
    with open_session(Settings(database_url=sqlite_url), admin=True) as s:
        line(s, f"/cert env add dev {LAB_TARGET}")
        set_a = line(s, "/dns shop.example.com A 192.0.2.7")
        a_record = line(s, "/cert dns shop.example.com")
        set_wrong = line(s, "/dns shop.example.com CNAME other.outsystemsenterprise.com")
        wrong = line(s, "/cert dns shop.example.com")
        outside = line(s, "/dns shop.acme.invalid CNAME " + LAB_TARGET)
        now_known = line(s, "/cert dns shop.acme.invalid")
        gone = line(s, "/dns shop.acme.invalid none")
        no_record = line(s, "/cert dns shop.acme.invalid")
        listing = line(s, "/dns")
        bad = [
            line(s, f"/dns {args}") for args in ("x", "x.test MX y", "x.test A 1.2", "-- A 1.2.3.4")
        ]
    assert set_a == "Lab DNS: shop.example.com. A 192.0.2.7"
    assert "`a_record_instead_of_cname`" in a_record
    assert set_wrong == "Lab DNS: shop.example.com. CNAME other.outsystemsenterprise.com."
    assert "`cname_wrong_target`" in wrong
    assert outside.startswith("Lab DNS: shop.acme.invalid. CNAME")
    assert "`cname_ok`" in now_known  # outside the lab's zones: its parent becomes one
    assert gone == "Lab DNS: shop.acme.invalid has no record now (NXDOMAIN)."
    assert "`no_record`" in no_record
    assert f"{LAB_TARGET}. A 127.0.0.1" in listing and "REFUSED" in listing
    for answer in bad:
        assert "\n" not in answer and "/dns NAME CNAME TARGET" in answer


def test_without_a_lab_dns_says_where_the_records_live(sqlite_url: str) -> None:
    with DnsServer({}) as server:
        settings = Settings(database_url=sqlite_url, nameservers=(server.address,))
        with open_session(settings, admin=True) as s:
            assert s.lab is None
            assert s.deps.services.default_nameservers == [server.address]
            answer = line(s, "/dns x.test A 192.0.2.1")
    assert answer.startswith("There is no lab DNS: CERTOPS_NAMESERVERS names")


def test_the_lab_is_authoritative_for_its_zones_only() -> None:
    with LabDns() as lab:
        server = lab.address
        known = ask(server, LAB_TARGET)
        missing = ask(server, "nothing.certops.test")
        outside = ask(server, "www.google.com")
    assert known.rcode() == dns.rcode.NOERROR and known.flags & dns.flags.AA
    assert known.answer[0].to_text().endswith("A 127.0.0.1")
    assert not known.flags & dns.flags.RA  # no recursion offered
    assert missing.rcode() == dns.rcode.NXDOMAIN and missing.authority  # the zone's SOA
    assert outside.rcode() == dns.rcode.REFUSED and not outside.answer


def test_the_tls_check_through_the_lab_never_dials_its_loopback_address() -> None:
    with LabDns() as lab:
        lab.set(HOST, "CNAME", LAB_TARGET)
        lab.set("nowhere.test", "A", "192.0.2.1")
        lab.set("nowhere.test", "A", None)
        served = probe(HOST, resolve=lab.resolve, timeout=5)
        unknown = probe("nowhere.test", resolve=lab.resolve, timeout=5)
    assert not served.ok
    assert served.error == (
        f"OSError: {HOST} resolves to 127.0.0.1, a loopback address: not probed"
    )
    assert unknown.error == "OSError: nowhere.test does not exist (NXDOMAIN)"  # none: gone


def test_the_tls_check_after_an_assignment_ends_honestly_in_the_lab(sqlite_url: str) -> None:
    """Assigned through the lab's DNS check; the check after it resolves through the lab,
    is not let dial 127.0.0.1, and says so in the assignment's thread after its tries."""
    pki = make_pki()
    database = Database(sqlite_url)
    ctx = ServiceContext(database=database, extra_roots=[pki.root.cert])
    submit(ctx, pki, "shop")
    add_env(ctx)
    try:
        with open_session(Settings(database_url=sqlite_url), admin=True, services=ctx) as s:
            assert s.lab is not None  # no nameservers anywhere: the lab answers
            line(s, f"/dns shop.example.com CNAME {LAB_TARGET}")
            asked = line(s, "/cert assign shop dev shop.example.com")
            number = re.findall(r"(\d+)\) I have created the CNAME: assign", asked)
            assigned = line(s, f"/click {number[0]}")
            scans = [line(s, "/time +6m")] + [line(s, "/time +3m") for _ in range(3)]
    finally:
        database.dispose()
    assert "assigned *shop* to *dev* as *shop.example.com*" in assigned
    assert all("[#C0CONSOLE, in the thread]" not in scan for scan in scans[:-1])
    assert "[#C0CONSOLE, in the thread]" in scans[-1]
    assert (
        "I could not read the certificate of shop.example.com after 4 attempts (OSError: "
        "shop.example.com resolves to 127.0.0.1, a loopback address: not probed)"
    ) in scans[-1]


def test_the_probe_of_the_console_asks_the_lab_too(sqlite_url: str) -> None:
    """The scheduler's probe maps its nameservers from the settings: with the lab running
    they are the lab's, so an environment's default host resolves there (to its loopback
    address, which the probe refuses) and no question goes to the system's resolver."""
    from bot.services import served

    database = Database(sqlite_url)
    ctx = ServiceContext(database=database)
    add_env(ctx, host=LAB_TARGET)
    try:
        with open_session(Settings(database_url=sqlite_url), admin=True, services=ctx) as s:
            assert s.lab is not None and s.jobs.probe_config is not None
            assert s.jobs.probe_config.nameservers == tuple(s.lab.nameservers)
            report = served.run_probe(s.deps.services, s.jobs.probe_config, every=True)
    finally:
        database.dispose()
    (result,) = report.results
    assert result["hostname"] == LAB_TARGET and result["outcome"] == "address_refused"
    assert "resolves to 127.0.0.1, a loopback address" in result["detail"]
