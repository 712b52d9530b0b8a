"""A real DNS server over UDP on 127.0.0.1: the console's lab DNS, and the tests' server.

The console's stand-ins live in bot/console (like FakeSlackApi): this one answers the
console's DNS checks when CERTOPS_NAMESERVERS is not set (bot/console/lab_dns.py), and
the tests and the benchmark serve their records with it (tests/support/dns_server.py
holds their data and re-exports the class). One class for both.

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

``authoritative_only`` makes it answer as an authoritative server does, the console's lab:
only names in its ``zones`` get an answer (AA set, no recursion offered; NXDOMAIN for a
missing name in a zone), any other name gets REFUSED, so a DNS check of a real name says
plainly that the lab does not know it instead of pretending it does not exist.
``set_records`` replaces a name's records while the server runs (the console's `/dns`).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Self

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
        authoritative_only: bool = False,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.mode = mode
        self.delay = delay
        self.authoritative_only = authoritative_only
        self.negative_ttl = negative_ttl
        self.silent_names = {_canon(n) for n in silent_names}
        self.records: dict[str, list[tuple[str, str, int]]] = {}
        for name, items in (records or {}).items():
            self.set_records(name, [*self.records.get(_canon(name), []), *items])
        self.zones: set[str] = set()
        for zone in zones:
            self.add_zone(zone)
        self.queries: list[tuple[str, str]] = []
        # Servers sharing a gate answer their first query only once every one of them has
        # received one: a client that asks them one after another never gets an answer.
        self._gate = first_query_gate
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._port = int(self._sock.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="test-dns", daemon=True)

    def add_zone(self, zone: str) -> None:
        """Serve `zone` (its apex gets an SOA record); nothing when it is served already."""
        zone = _canon(zone)
        if zone in self.zones:
            return
        soa = f"ns1.{zone}. hostmaster.{zone}. 1 3600 600 86400 {self.negative_ttl}"
        self.records.setdefault(zone, []).append(("SOA", soa, 3600))
        self.zones.add(zone)

    def set_records(self, name: str, records: Sequence[Record]) -> None:
        """Replace `name`'s records (SOA kept) while serving: one assignment, so a query
        answered meanwhile sees the old records or the new ones, never half of them."""
        name = _canon(name)
        kept = [r for r in self.records.get(name, []) if r[0] == "SOA"]
        added = [(r[0].upper(), r[1], int(r[2]) if len(r) == 3 else DEFAULT_TTL) for r in records]
        if kept or added:
            self.records[name] = kept + [r for r in added if r not in kept]
        else:
            self.records.pop(name, None)  # no record left: the name no longer exists

    def knows(self, name: str) -> bool:
        """Whether `name` is in one of the zones served (an authoritative server answers)."""
        return self._zone_of(_canon(name)) is not None

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

    def start(self) -> Self:
        self._sock.settimeout(0.05)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sock.close()

    def __enter__(self) -> Self:
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
        question = query.question[0]
        qtype = dns.rdatatype.to_text(question.rdtype)
        name = _canon(question.name.to_text())
        if self.authoritative_only:
            if not self.knows(name):
                response.set_rcode(dns.rcode.REFUSED)
                return response
            response.flags |= dns.flags.AA
        else:
            response.flags |= dns.flags.RA
        if self.mode == "servfail":
            response.set_rcode(dns.rcode.SERVFAIL)
            return response
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
                if self.authoritative_only and not self.knows(name):
                    return response  # the chain leaves the zones served: its end is not ours
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
