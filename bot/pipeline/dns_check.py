"""Is HOSTNAME a CNAME whose first hop is the environment's default host?

The check asks each nameserver for the CNAME of every name in turn instead of asking
for the address and reading the chain from the answer: some resolvers return only the
first hop of a chain, and the first hop is what is judged. The hostname's own records
(A/AAAA, the zone's SOA for the apex) are asked for only when it holds no CNAME.

Several nameservers are asked at the same time, one thread each, under one deadline:
`timeout` is a budget for the whole check, so a nameserver that never answers costs
exactly the budget, never more, and the others' answers are still used. No answer at
all is `unknown`, never `misconfigured`: a network problem is not a DNS error.

Pure pipeline code: dnspython and the standard library, no settings, no Slack. The
load-balancer patterns and nameservers come in as arguments.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver
import dns.rrset

from bot.pipeline.dns_report import (
    END_ADDRESSES,
    END_LOOP,
    END_NODATA,
    END_NXDOMAIN,
    END_TOO_LONG,
    STATUS_ANSWERED,
    STATUS_FAILED,
    STATUS_INCOMPLETE,
    STATUS_NO_ANSWER,
    VERDICT_MISCONFIGURED,
    VERDICT_OK,
    VERDICT_UNKNOWN,
    Address,
    CertificateCoverage,
    DnsReport,
    Hop,
    NameserverAnswer,
    format_duration,
)
from bot.pipeline.findings import Finding, Severity, finding
from bot.pipeline.hostnames import InvalidHostname, covers, normalize, normalize_names

DEFAULT_LOAD_BALANCER_PATTERNS: tuple[str, ...] = ("*.elb.amazonaws.com",)
DEFAULT_TIMEOUT = 5.0
DEFAULT_MAX_HOPS = 8

# One attempt never waits longer than this, so a lost UDP packet is retried in time.
_ATTEMPT_TIMEOUT = 2.0


# --- nameservers ----------------------------------------------------------------------


@dataclass(frozen=True)
class Nameserver:
    """One view of the DNS: a nameserver, or the system's resolvers used as one."""

    label: str
    addresses: tuple[tuple[str, int], ...]


def _label(address: str, port: int) -> str:
    shown = f"[{address}]" if ":" in address else address
    return f"{shown}:{port}"


def system_nameserver() -> Nameserver | None:
    """The system resolver (/etc/resolv.conf) as one view, or None when none is set up."""
    try:
        resolver = dns.resolver.Resolver(configure=True)
    except (dns.resolver.NoResolverConfiguration, OSError):
        return None
    addresses = tuple((str(ns), resolver.port) for ns in resolver.nameservers if _is_ip(str(ns)))
    if not addresses:
        return None
    shown = ", ".join(address for address, _ in addresses)
    return Nameserver(f"system resolver ({shown})", addresses)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def matching_load_balancer(name: str, patterns: Sequence[str]) -> str | None:
    """The first pattern that `name` matches, shell-style: '*' spans several labels.

    Load-balancer names have several labels before the fixed suffix
    (`name-123.us-east-1.elb.amazonaws.com`), so this is not certificate wildcard matching.
    """
    for pattern in patterns:
        canon = pattern.strip().lower().rstrip(".")
        if canon and fnmatch.fnmatchcase(name, canon):
            return pattern
    return None


# --- asking one nameserver ------------------------------------------------------------


class _OutOfTime(Exception):
    pass


class _Failed(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass
class _Reply:
    nxdomain: bool
    rrset: dns.rrset.RRset | None
    response: dns.message.Message | None


def _canon(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True).lower()


def _negative_ttl(response: dns.message.Message | None) -> int | None:
    """How long a "no such name / no data" answer may be cached: min(SOA TTL, minimum)."""
    if response is None:
        return None
    for rrset in response.authority:
        if rrset.rdtype == dns.rdatatype.SOA and len(rrset):
            return int(min(rrset.ttl, rrset[0].minimum))
    return None


class _Probe:
    """Follows the chain of HOSTNAME at one nameserver, recording what it learns.

    Queries go out with `dns.query.udp` under the probe's own deadline rather than
    through `dns.resolver.Resolver`, whose retries and back-off overrun a lifetime by
    0.1 s or more: the budget is a promise. A lost packet is retried while time is left.
    """

    def __init__(self, server: Nameserver, deadline: float, budget: float, max_hops: int):
        self.server = server
        self.deadline = deadline
        self.budget = budget
        self.max_hops = max_hops
        self.answer = NameserverAnswer(server.label)
        self.done = threading.Event()

    def run(self, hostname: str) -> None:
        started = time.monotonic()
        answer = self.answer
        try:
            self._follow(hostname)
            answer.status = STATUS_ANSWERED
        except _OutOfTime:
            answer.status = STATUS_INCOMPLETE if answer.learned_anything else STATUS_NO_ANSWER
            answer.detail = f"no answer within the {self.budget:g} s budget"
        except _Failed as exc:
            answer.status = STATUS_INCOMPLETE if answer.learned_anything else STATUS_FAILED
            answer.detail = exc.detail
        except Exception as exc:  # a bug or an odd packet must not kill the whole check
            answer.status = STATUS_INCOMPLETE if answer.learned_anything else STATUS_FAILED
            answer.detail = f"failed: {type(exc).__name__}: {exc}"
        finally:
            answer.elapsed = time.monotonic() - started
            self.done.set()

    def _exchange(self, query: dns.message.Message) -> dns.message.Message:
        """One question to the server (or each of its addresses in turn), until the deadline.

        NOERROR and NXDOMAIN are answers; SERVFAIL, REFUSED and the like from every
        address make the server failed; silence is retried while time is left.
        """
        while True:
            errors: list[str] = []
            for address, port in self.server.addresses:
                remaining = self.deadline - time.monotonic()
                if remaining <= 0:
                    raise _OutOfTime
                try:
                    response = dns.query.udp(
                        query,
                        address,
                        timeout=min(_ATTEMPT_TIMEOUT, remaining),
                        port=port,
                        ignore_unexpected=True,
                    )
                    if response.flags & dns.flags.TC:
                        remaining = self.deadline - time.monotonic()
                        if remaining <= 0:
                            raise _OutOfTime
                        response = dns.query.tcp(query, address, timeout=remaining, port=port)
                except dns.exception.Timeout:
                    continue
                except (OSError, dns.exception.DNSException) as exc:
                    errors.append(f"failed: {exc}")
                    continue
                rcode = response.rcode()
                if rcode in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                    return response
                errors.append(f"answered {dns.rcode.to_text(rcode)}")
            if len(errors) == len(self.server.addresses):
                raise _Failed(errors[0])

    def _query(self, name: str, rdtype: dns.rdatatype.RdataType) -> _Reply:
        qname = dns.name.from_text(name)
        response = self._exchange(dns.message.make_query(qname, rdtype))
        if response.rcode() == dns.rcode.NXDOMAIN:
            return _Reply(True, None, response)
        rrset = next(
            (r for r in response.answer if r.name == qname and r.rdtype == rdtype and len(r)),
            None,
        )
        return _Reply(False, rrset, response)

    def _follow(self, hostname: str) -> None:
        answer = self.answer
        name, seen = hostname, {hostname}
        while True:
            reply = self._query(name, dns.rdatatype.CNAME)
            if reply.nxdomain:
                answer.end = END_NXDOMAIN
                answer.negative_ttl = _negative_ttl(reply.response)
                return
            if reply.rrset is None or not len(reply.rrset):
                break
            if len(answer.hops) >= self.max_hops:
                answer.end = END_TOO_LONG
                return
            target = _canon(reply.rrset[0].target)
            answer.hops.append(Hop(name, target, int(reply.rrset.ttl)))
            if target in seen:
                answer.end = END_LOOP
                return
            seen.add(target)
            name = target
        if name == hostname:
            answer.apex = self._is_apex(hostname)
        negative: int | None = None
        for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            reply = self._query(name, rdtype)
            if reply.nxdomain:
                answer.end = END_NXDOMAIN
                answer.negative_ttl = _negative_ttl(reply.response)
                return
            if reply.rrset is None:
                negative = _negative_ttl(reply.response)
                continue
            owner = _canon(reply.rrset.name)
            kind = dns.rdatatype.to_text(rdtype)
            answer.addresses += sorted(
                (
                    Address(owner, kind, rdata.address, int(reply.rrset.ttl))
                    for rdata in reply.rrset
                ),
                key=lambda a: ipaddress.ip_address(a.address),
            )
        answer.end = END_ADDRESSES if answer.addresses else END_NODATA
        if not answer.addresses:
            answer.negative_ttl = negative

    def _is_apex(self, hostname: str) -> bool:
        """The apex of a zone holds the zone's SOA: an SOA owned by the name itself."""
        reply = self._query(hostname, dns.rdatatype.SOA)
        if reply.nxdomain or reply.response is None:
            return False
        qname = dns.name.from_text(hostname)
        return any(
            rrset.rdtype == dns.rdatatype.SOA and rrset.name == qname
            for rrset in reply.response.answer
        )


def _snapshot(probe: _Probe) -> NameserverAnswer:
    """A copy of what a probe has learned; an unfinished probe is out of time."""
    if probe.done.is_set():
        return probe.answer
    live = probe.answer
    hops, addresses = list(live.hops), list(live.addresses)
    learned = bool(hops or addresses)
    return NameserverAnswer(
        nameserver=live.nameserver,
        status=STATUS_INCOMPLETE if learned else STATUS_NO_ANSWER,
        detail=f"no answer within the {probe.budget:g} s budget",
        hops=hops,
        addresses=addresses,
        apex=live.apex,
        elapsed=probe.budget,
    )


def ask_nameservers(
    hostname: str,
    servers: Sequence[Nameserver],
    *,
    deadline: float,
    budget: float,
    max_hops: int,
) -> list[NameserverAnswer]:
    """Ask every nameserver at once; return what each said by `deadline`, in order.

    `deadline` is a `time.monotonic()` value; `budget` is only for messages.
    """
    probes = [_Probe(server, deadline, budget, max_hops) for server in servers]
    threads = [
        threading.Thread(target=p.run, args=(hostname,), name="certops-dns", daemon=True)
        for p in probes
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [_snapshot(p) for p in probes]


# --- judging --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    hostname: str
    target: str
    patterns: tuple[str, ...]
    max_hops: int


def _chain_text(answer: NameserverAnswer) -> str:
    return " -> ".join([answer.hops[0].name, *[h.target for h in answer.hops]])


def _judge_first_hop(answer: NameserverAnswer, ctx: _Context) -> list[Finding]:
    host, target = ctx.hostname, ctx.target
    first = answer.hops[0].target
    if first == target:
        return []
    pattern = matching_load_balancer(first, ctx.patterns)
    if pattern is not None:
        return [
            finding(
                "cname_to_load_balancer",
                f"{host} is a CNAME to the load balancer {first} (matches {pattern}); "
                f"expected {target}.",
                hint=f"Point the CNAME of {host} at {target} instead of {first}: the "
                "load balancer's name and addresses change without notice.",
            )
        ]
    later = [i for i, hop in enumerate(answer.hops) if hop.target == target]
    reach = (
        f" The chain reaches {target} only at hop {later[0] + 1}; the first hop must be it."
        if later
        else ""
    )
    return [
        finding(
            "cname_wrong_target",
            f"{host} is a CNAME to {first}; expected {target}.{reach}",
            hint=f"Change the CNAME of {host} so that it points at {target} (now {first}).",
        )
    ]


def _judge_chain_end(answer: NameserverAnswer, ctx: _Context) -> list[Finding]:
    host, target = ctx.hostname, ctx.target
    last = answer.hops[-1].target
    first_ok = answer.hops[0].target == target
    if answer.end == END_LOOP:
        return [
            finding(
                "cname_loop",
                f"The CNAME chain loops: {_chain_text(answer)}.",
                hint=f"Break the loop: make {host} a CNAME to {target}.",
            )
        ]
    if answer.end == END_TOO_LONG:
        return [
            finding(
                "cname_loop",
                f"The CNAME chain is longer than {ctx.max_hops} hops ({_chain_text(answer)} "
                "...): a loop, or a chain too long to follow.",
                hint=f"Make {host} a CNAME to {target}, with a short chain behind it.",
            )
        ]
    if answer.end in (END_NXDOMAIN, END_NODATA):
        why = "does not exist" if answer.end == END_NXDOMAIN else "has no A or AAAA record"
        hint = (
            f"{target} does not resolve: check that --target is the environment's default "
            "host (shown in the environment's details)."
            if first_ok
            else f"Point the CNAME of {host} at {target}."
        )
        return [
            finding(
                "dangling_cname",
                f"The CNAME chain ends at {last}, which {why}: {_chain_text(answer)}.",
                hint=hint,
            )
        ]
    if answer.end == END_ADDRESSES and first_ok:
        count = len(answer.addresses)
        return [
            finding(
                "cname_ok",
                f"{host} is a CNAME to {target}; the chain ends in {count} "
                f"address{'es' if count != 1 else ''}.",
            )
        ]
    return []


def _judge_no_cname(answer: NameserverAnswer, ctx: _Context) -> list[Finding]:
    host, target = ctx.hostname, ctx.target
    if answer.apex:
        return [
            finding(
                "apex_domain",
                f"{host} is the apex of its DNS zone (it holds the zone's SOA record): a "
                "zone apex cannot hold a CNAME.",
                hint=f"Use a subdomain such as www.{host} or app.{host}, with a CNAME to {target}.",
            )
        ]
    if answer.addresses:
        shown = ", ".join(f"{a.type} {a.address}" for a in answer.addresses[:6])
        return [
            finding(
                "a_record_instead_of_cname",
                f"{host} has address records ({shown}) instead of a CNAME to {target}.",
                hint=f"Delete the A/AAAA records of {host} and create the record "
                f"'{host} CNAME {target}': the platform's addresses change.",
            )
        ]
    if answer.end in (END_NXDOMAIN, END_NODATA):
        why = (
            "does not exist (NXDOMAIN)"
            if answer.end == END_NXDOMAIN
            else "exists but has no CNAME, A or AAAA record"
        )
        return [
            finding(
                "no_record",
                f"{host} {why}.",
                hint=f"Create the record '{host} CNAME {target}' in the zone that holds {host}.",
            )
        ]
    return []


_FIXED_WITH_FIRST_HOP = frozenset({"dangling_cname", "cname_loop"})


def judge(answer: NameserverAnswer, ctx: _Context) -> list[Finding]:
    """The findings one nameserver's answer supports, as far as it got."""
    if answer.hops:
        findings = _judge_first_hop(answer, ctx)
        if answer.answered:
            # Where the first hop is wrong, its fix also removes whatever the chain does
            # after it: one fix, not two wordings of it.
            fix = next((f.hint for f in findings if f.severity is Severity.ERROR), None)
            findings += [
                replace(f, hint=fix) if fix and f.code in _FIXED_WITH_FIRST_HOP else f
                for f in _judge_chain_end(answer, ctx)
            ]
        return findings
    if answer.answered:
        return _judge_no_cname(answer, ctx)
    return []


def _conflict(a: NameserverAnswer, b: NameserverAnswer) -> bool:
    if a.answered and b.answered:
        return a.signature() != b.signature()
    short, long_ = sorted(([(h.name, h.target) for h in x.hops] for x in (a, b)), key=len)
    return long_[: len(short)] != short


def _disagreement(answers: Sequence[NameserverAnswer]) -> bool:
    learned = [a for a in answers if a.learned_anything]
    return any(_conflict(a, b) for i, a in enumerate(learned) for b in learned[i + 1 :])


def _own_ttl(answer: NameserverAnswer, hostname: str) -> int | None:
    """The TTL of what the hostname itself answers: how long caches keep that answer."""
    if answer.hops:
        return answer.hops[0].ttl
    own = [a.ttl for a in answer.addresses if a.name == hostname]
    if own:
        return max(own)
    return answer.negative_ttl


def _cache_note(answers: Sequence[NameserverAnswer], hostname: str) -> tuple[int | None, str]:
    ttls = [t for a in answers if a.learned_anything if (t := _own_ttl(a, hostname)) is not None]
    if not ttls:
        return None, ""
    longest = max(ttls)
    return longest, (
        f"resolvers may keep the current answer for {hostname} for up to "
        f"{format_duration(longest)} (TTL {longest} s). If the record was just changed, "
        "wait that long before expecting every resolver to see the change."
    )


def _prefixed(item: Finding, label: str) -> Finding:
    return Finding(item.code, item.severity, f"{label}: {item.message}", item.hint)


def _dedupe(findings: Sequence[Finding]) -> list[Finding]:
    seen: set[tuple[str, str]] = set()
    out: list[Finding] = []
    for item in findings:
        key = (item.code, item.message)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _dns_findings(
    answers: Sequence[NameserverAnswer], ctx: _Context, timeout: float, cache_seconds: int | None
) -> list[Finding]:
    learned = [a for a in answers if a.learned_anything]
    silent = [a for a in answers if not a.answered]
    findings: list[Finding] = []
    if _disagreement(answers):
        for answer in learned:
            findings += [_prefixed(f, answer.nameserver) for f in judge(answer, ctx)]
        said = "; ".join(f"{a.nameserver} says {a.summary()}" for a in learned)
        wait = (
            f"Wait up to {format_duration(cache_seconds)} (the longest TTL seen) for caches "
            "to catch up, then check again; if they still disagree, look for a second "
            "copy of the zone that was not updated."
            if cache_seconds
            else ""
        )
        findings.append(
            finding("resolvers_disagree", f"The nameservers disagree: {said}.", hint=wait)
        )
    elif learned:
        primary = next((a for a in learned if a.answered), learned[0])
        findings += judge(primary, ctx)
    if silent and len(silent) == len(answers) and not learned:
        said = "; ".join(f"{a.nameserver}: {a.detail or a.status}" for a in silent)
        findings.append(
            finding(
                "dns_unreachable", f"No nameserver gave an answer within {timeout:g} s ({said})."
            )
        )
    elif silent:
        said = "; ".join(f"{a.nameserver}: {a.detail or a.status}" for a in silent)
        findings.append(
            finding(
                "dns_unreachable",
                f"{len(silent)} of {len(answers)} nameservers gave no full answer ({said}).",
                hint="Check that these nameservers are reachable and serve the zone, or "
                "leave them out; the verdict rests on the others.",
            )
        )
    return _dedupe(findings)


def _certificate_findings(
    names: Sequence[str], hostname: str
) -> tuple[CertificateCoverage, list[Finding]]:
    canon = tuple(normalize_names(names))
    ok = covers(canon, hostname)
    coverage = CertificateCoverage(canon, ok)
    if ok:
        return coverage, []
    shown = ", ".join(canon) if canon else "no DNS names at all"
    return coverage, [
        finding(
            "hostname_not_covered",
            f"The certificate does not cover {hostname}: it names {shown}.",
            hint=f"Use a certificate whose names include {hostname} (a wildcard covers "
            "exactly one label), or a hostname the certificate covers.",
        )
    ]


_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


def _fixes(findings: Sequence[Finding]) -> list[str]:
    """The hints of errors, then warnings, each once: what to do, in order."""
    out: list[str] = []
    for item in sorted(findings, key=lambda f: _ORDER[f.severity]):
        if item.severity is not Severity.INFO and item.hint and item.hint not in out:
            out.append(item.hint)
    return out


def _verdict(findings: Sequence[Finding], answers: Sequence[NameserverAnswer]) -> str:
    if any(f.severity is Severity.ERROR for f in findings):
        return VERDICT_MISCONFIGURED
    if not any(a.answered for a in answers):
        return VERDICT_UNKNOWN
    return VERDICT_OK


def check_dns(
    hostname: str,
    target: str,
    *,
    nameservers: Sequence[tuple[str, int]] = (),
    timeout: float = DEFAULT_TIMEOUT,
    load_balancer_patterns: Sequence[str] = DEFAULT_LOAD_BALANCER_PATTERNS,
    certificate_names: Sequence[str] | None = None,
    max_hops: int = DEFAULT_MAX_HOPS,
    started: float | None = None,
) -> DnsReport:
    """Check that `hostname` is a CNAME whose first hop is `target`.

    `nameservers` are (IP address, port) pairs, each asked independently and compared;
    empty means the system resolver. `timeout` bounds the whole check. With
    `certificate_names` (a certificate's SANs), also check that they cover `hostname`.
    Raises InvalidHostname for a hostname or target that is not a host name, and
    ValueError for a non-positive timeout or hop limit; everything the DNS does is a
    finding, never an exception. `started` (a `time.monotonic()` value) lets a caller
    count its own start-up into the budget; by default the budget starts now.
    """
    started = time.monotonic() if started is None else started
    host = normalize(hostname)
    expected = normalize(target)
    if host == expected:
        raise InvalidHostname(f"the hostname and the target are the same name ({host})")
    if not timeout > 0:
        raise ValueError("the timeout must be a positive number of seconds")
    if max_hops < 1:
        raise ValueError("the hop limit must be at least 1")
    ctx = _Context(host, expected, tuple(load_balancer_patterns), max_hops)
    servers = [
        Nameserver(_label(address, port), ((address, port),)) for address, port in nameservers
    ]
    if not servers:
        system = system_nameserver()
        servers = [system] if system else []
    if servers:
        answers = ask_nameservers(
            host, servers, deadline=started + timeout, budget=timeout, max_hops=max_hops
        )
    else:
        answers = [
            NameserverAnswer("system resolver", STATUS_FAILED, "no nameserver in /etc/resolv.conf")
        ]
    cache_seconds, cache_note = _cache_note(answers, host)
    findings = _dns_findings(answers, ctx, timeout, cache_seconds)
    coverage = None
    if certificate_names is not None:
        coverage, cert_findings = _certificate_findings(certificate_names, host)
        findings += cert_findings
    primary = next((a for a in answers if a.answered), None) or next(
        (a for a in answers if a.learned_anything), None
    )
    return DnsReport(
        hostname=host,
        target=expected,
        verdict=_verdict(findings, answers),
        findings=findings,
        hops=list(primary.hops) if primary else [],
        addresses=list(primary.addresses) if primary else [],
        nameservers=list(answers),
        fixes=_fixes(findings),
        cache_seconds=cache_seconds,
        cache_note=cache_note,
        timeout=timeout,
        elapsed=time.monotonic() - started,
        certificate=coverage,
        answered_by=primary.nameserver if primary else "",
    )
