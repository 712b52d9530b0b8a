"""What a hostname really serves, judged against the record (issue 17), without a database.

Three steps, each bounded and each ending in an outcome rather than an exception:
- `resolve_addresses`: the hostname's A (else AAAA) records through dnspython, asking the
  configured nameservers (never the system resolver when some are configured), within a
  time budget. No answer: `unresolvable`.
- `address_refusal`: loopback, link-local, unspecified and multicast addresses are not
  dialled (a record pointed at 127.0.0.1 or 169.254.169.254 must not make the bot probe its
  own host or a metadata service), unless a test or lab allows loopback.
- `read_served_leaf`: the served leaf (untrusted DER from the network) is read with the
  pipeline's own readers, after a size cap; anything unreadable is `handshake_failed`.
`judge` then compares the served leaf with the recorded certificate.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

OK = "ok"
SERVED_OTHER = "served_other_certificate"
SERVED_EXPIRES_SOONER = "served_expires_sooner"
HANDSHAKE_FAILED = "handshake_failed"
UNRESOLVABLE = "unresolvable"
CNAME_CHANGED = "cname_changed"
ADDRESS_REFUSED = "address_refused"
NOT_RECORDED = "not_recorded"

OUTCOMES = (
    OK,
    SERVED_OTHER,
    SERVED_EXPIRES_SOONER,
    HANDSHAKE_FAILED,
    UNRESOLVABLE,
    CNAME_CHANGED,
    ADDRESS_REFUSED,
    NOT_RECORDED,
)

# A leaf certificate is a few KiB; TLS allows 16 MiB per message. Past this it is not read.
MAX_SERVED_LEAF_BYTES = 64 * 1024


@dataclass(frozen=True)
class Resolution:
    addresses: tuple[str, ...] = ()
    error: str | None = None  # why there is no address


def resolve_addresses(
    hostname: str, nameservers: Sequence[tuple[str, int]], timeout: float
) -> Resolution:
    """The IPv4 (else IPv6) addresses of `hostname`, asking `nameservers` (empty: the system
    resolver) within `timeout` seconds in all."""
    import dns.exception
    import dns.resolver

    try:
        resolver = dns.resolver.Resolver(configure=not nameservers)
    except (dns.resolver.NoResolverConfiguration, OSError) as error:
        return Resolution(error=f"no resolver: {type(error).__name__}")
    if nameservers:
        resolver.nameservers = [address for address, _ in nameservers]
        resolver.nameserver_ports = {address: port for address, port in nameservers}
    resolver.lifetime = timeout
    resolver.timeout = timeout
    found: list[str] = []
    last = "no address"
    for rdtype in ("A", "AAAA"):
        try:
            answer = resolver.resolve(hostname, rdtype, search=False)
        except dns.resolver.NXDOMAIN:
            return Resolution(error="the name does not exist (NXDOMAIN)")
        except dns.resolver.NoAnswer:
            last = "no address record"
            continue
        except dns.exception.Timeout:
            return Resolution(error=f"no nameserver answered within {timeout:g} s")
        except (dns.exception.DNSException, OSError, ValueError) as error:
            return Resolution(error=f"{type(error).__name__}: {error}"[:300])
        found += [str(item) for item in answer]
        if found:
            break
    return Resolution(tuple(found)) if found else Resolution(error=last)


def address_refusal(address: str, *, allow_loopback: bool) -> str | None:
    """Why `address` is not dialled, or None when it may be."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"{address} is not an IP address"
    if ip.is_loopback:
        return None if allow_loopback else f"{ip} is a loopback address"
    if ip.is_link_local:
        return f"{ip} is a link-local address"
    if ip.is_unspecified:
        return f"{ip} is the unspecified address"
    if ip.is_multicast:
        return f"{ip} is a multicast address"
    return None


@dataclass(frozen=True)
class ServedLeaf:
    fingerprint_sha256: str
    not_after: dt.datetime
    subject: str
    names: tuple[str, ...]


class UnreadableLeaf(ValueError):
    """The served bytes are not one readable certificate."""


def read_served_leaf(der: bytes) -> ServedLeaf:
    """The served leaf, read with the pipeline's readers (never trusted: capped, then
    parsed like an upload). Raises UnreadableLeaf with a sentence."""
    if len(der) > MAX_SERVED_LEAF_BYTES:
        raise UnreadableLeaf(
            f"the served certificate is {len(der)} bytes (more than {MAX_SERVED_LEAF_BYTES})"
        )
    from bot.pipeline.leaf import dns_names
    from bot.pipeline.material import InputFile
    from bot.pipeline.readers import read_inputs
    from bot.pipeline.report import fingerprint_sha256

    material = read_inputs([InputFile("served leaf", der)])
    if len(material.certificates) != 1:
        raise UnreadableLeaf("the served certificate could not be read")
    cert = material.certificates[0].cert
    try:
        return ServedLeaf(
            fingerprint_sha256(cert),
            cert.not_valid_after_utc,
            cert.subject.rfc4514_string()[:300],
            tuple(dns_names(cert))[:100],
        )
    except Exception as error:  # a field that parses lazily and badly
        raise UnreadableLeaf(
            f"the served certificate is malformed ({type(error).__name__})"
        ) from None


@dataclass(frozen=True)
class Recorded:
    """The certificate the record says should be served (or None: nothing recorded)."""

    fingerprint_sha256: str
    not_after: dt.datetime | None


def judge(served: ServedLeaf, recorded: Recorded | None) -> str:
    """ok, served_expires_sooner, served_other_certificate or not_recorded."""
    if recorded is None:
        return NOT_RECORDED
    if _same(served.fingerprint_sha256, recorded.fingerprint_sha256):
        return OK
    if recorded.not_after is not None and served.not_after < recorded.not_after:
        return SERVED_EXPIRES_SOONER
    return SERVED_OTHER


def _same(a: str, b: str) -> bool:
    from bot.pipeline.tls_probe import normalize_fingerprint

    return bool(a and b) and normalize_fingerprint(a) == normalize_fingerprint(b)
