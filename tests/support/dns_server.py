"""A real DNS server over UDP on 127.0.0.1, for the DNS tests and the benchmark.

It answers from a dict of records the way a recursive resolver answers a client
(recursion available, CNAME chains followed into the answer), with modes for the
resolvers that make a DNS check hard:

- ``normal``: an A query on an alias gets the CNAME chain plus the target's records
  when it knows them; NXDOMAIN / NODATA carry the zone's SOA for negative caching.
- ``first_hop``: a query on an alias gets only the CNAME of the queried name, never
  the rest of the chain.
- ``silent``: reads every query and never answers.
- ``servfail``: answers every query with SERVFAIL.

``delay`` holds every answer back that many seconds (answers are sent from timers, so a
slow answer never blocks the next query). ``silent_names`` are names whose queries are
read and never answered, whatever the mode: a budget that runs out part-way through a
chain, without depending on how fast the machine is.

Records: ``{"app.example.com": [("CNAME", "env.example.net", 300)], ...}``; a record
without a TTL gets 300. ``zones`` names the zone apexes: each gets an SOA record
(negative TTL ``negative_ttl``). ``records_from_zone_text`` reads zone-file text instead.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone

MODES = ("normal", "first_hop", "silent", "servfail")
DEFAULT_TTL = 300

Record = tuple[str, str] | tuple[str, str, int]
Records = Mapping[str, Sequence[Record]]


def _canon(name: str) -> str:
    return name.lower().rstrip(".")


def records_from_zone_text(text: str, origin: str) -> dict[str, list[tuple[str, str, int]]]:
    """Zone-file text -> the record dict this server serves (SOA records included)."""
    zone = dns.zone.from_text(text, origin=origin, relativize=False, check_origin=False)
    out: dict[str, list[tuple[str, str, int]]] = {}
    for name, ttl, rdata in zone.iterate_rdatas():
        out.setdefault(_canon(name.to_text()), []).append(
            (dns.rdatatype.to_text(rdata.rdtype), rdata.to_text(), int(ttl))
        )
    return out


class DnsServer:
    """One UDP DNS server on a random free loopback port, answering from a thread."""

    def __init__(
        self,
        records: Records | None = None,
        *,
        zones: Iterable[str] = (),
        mode: str = "normal",
        delay: float = 0.0,
        negative_ttl: int = 60,
        silent_names: Iterable[str] = (),
        first_query_gate: threading.Barrier | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.mode = mode
        self.delay = delay
        self.silent_names = {_canon(n) for n in silent_names}
        self.records: dict[str, list[tuple[str, str, int]]] = {}
        for name, items in (records or {}).items():
            for item in items:
                ttl = item[2] if len(item) == 3 else DEFAULT_TTL
                self.records.setdefault(_canon(name), []).append(
                    (item[0].upper(), item[1], int(ttl))
                )
        self.zones = {_canon(z) for z in zones}
        for zone in self.zones:
            soa = f"ns1.{zone}. hostmaster.{zone}. 1 3600 600 86400 {negative_ttl}"
            self.records.setdefault(zone, []).append(("SOA", soa, 3600))
        self.queries: list[tuple[str, str]] = []
        # Servers sharing a gate answer their first query only once every one of them has
        # received one: a client that asks them one after another never gets an answer.
        self._gate = first_query_gate
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._port = int(self._sock.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="test-dns", daemon=True)

    # --- lifecycle --------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    @property
    def nameserver(self) -> str:
        """The CLI form: 127.0.0.1:PORT."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> DnsServer:
        self._sock.settimeout(0.05)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sock.close()

    def __enter__(self) -> DnsServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- serving ----------------------------------------------------------------------

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self._sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                query = dns.message.from_wire(data)
            except Exception:
                continue
            question = query.question[0]
            self.queries.append(
                (_canon(question.name.to_text()), dns.rdatatype.to_text(question.rdtype))
            )
            if self.mode == "silent" or self.queries[-1][0] in self.silent_names:
                continue
            if self._gate is not None:
                gate, self._gate = self._gate, None
                try:
                    gate.wait()
                except threading.BrokenBarrierError:
                    continue  # the others were never asked: this one stays silent
            wire = self.respond(query).to_wire()
            if self.delay:
                timer = threading.Timer(self.delay, self._send, (wire, peer))
                timer.daemon = True
                timer.start()
            else:
                self._send(wire, peer)

    def _send(self, wire: bytes, peer: tuple[str, int]) -> None:
        with contextlib.suppress(OSError):
            self._sock.sendto(wire, peer)

    def _exists(self, name: str) -> bool:
        """A name exists when it holds records or has names below it (empty non-terminal)."""
        return name in self.records or any(n.endswith("." + name) for n in self.records)

    def _zone_of(self, name: str) -> str | None:
        candidates = [z for z in self.zones if name == z or name.endswith("." + z)]
        return max(candidates, key=len) if candidates else None

    def _rrset(self, name: str, rdtype: str) -> dns.rrset.RRset | None:
        items = [r for r in self.records.get(name, []) if r[0] == rdtype]
        if not items:
            return None
        return dns.rrset.from_text_list(
            dns.name.from_text(name), items[0][2], "IN", rdtype, [value for _, value, _ in items]
        )

    def respond(self, query: dns.message.Message) -> dns.message.Message:
        """The answer this server gives to `query` (public so the bench can reuse it)."""
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA
        if self.mode == "servfail":
            response.set_rcode(dns.rcode.SERVFAIL)
            return response
        question = query.question[0]
        qtype = dns.rdatatype.to_text(question.rdtype)
        name = _canon(question.name.to_text())
        seen: set[str] = set()
        while True:
            if not self._exists(name):
                response.set_rcode(dns.rcode.NXDOMAIN)
                self._add_soa(response, name)
                return response
            cname = self._rrset(name, "CNAME")
            if cname is not None and qtype not in ("CNAME", "ANY"):
                response.answer.append(cname)
                if self.mode == "first_hop" or name in seen or len(seen) > 16:
                    return response
                seen.add(name)
                name = _canon(cname[0].target.to_text())
                continue
            found = self._rrset(name, qtype)
            if found is None:
                self._add_soa(response, name)
            else:
                response.answer.append(found)
            return response

    def _add_soa(self, response: dns.message.Message, name: str) -> None:
        zone = self._zone_of(name)
        if zone is not None:
            soa = self._rrset(zone, "SOA")
            if soa is not None:
                response.authority.append(soa)


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
