"""What a hostname serves, taken in safely: where to dial, the served leaf as read, and
how it compares with the record.

Three rules of issue 17 live here, pure (dnspython and the standard library, no settings):

- where to connect is found by asking the configured nameservers (the DNS check's own
  `ask_nameservers`, under its one budget), never the system's `getaddrinfo`; an address
  on loopback, link-local or "unspecified" is refused unless the caller allows loopback
  (tests and labs only), so a record cannot be made to probe the bot's own host;
- the served certificate is untrusted input: its DER is bounded, then read with the
  upload readers (`read_inputs`, the same parser as every uploaded file). Anything that
  is not exactly one certificate is a refusal with a reason, never an exception;
- `judge`: the served leaf against the recorded certificate, as one of the probe's
  outcomes (`OUTCOMES`; bot/services/served.py runs the probe and says what changed).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import time
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509

from bot.pipeline.dns_check import Nameserver, ask_nameservers, system_nameserver
from bot.pipeline.dns_report import END_NODATA, END_NXDOMAIN
from bot.pipeline.material import InputFile
from bot.pipeline.readers import read_inputs
from bot.pipeline.report import fingerprint_sha256
from bot.pipeline.tls_probe import normalize_fingerprint

# A leaf is one to a few KiB; a TLS Certificate message allows far more, so the bytes are
# capped before any parsing (64 KiB leaves room for a leaf with thousands of names).
MAX_LEAF_BYTES = 64 * 1024
RESOLVE_HOPS = 8

# The probe's outcomes, one per hostname (docs/operating.md#what-is-served-the-probe).
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


class ServedProblem(Exception):
    """Why a hostname's certificate cannot be taken in: one sentence for a person."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def address_refusal(address: str, *, allow_loopback: bool) -> str | None:
    """What kind of address `address` is when it must not be dialled (None when it may):
    unspecified, multicast and link-local ones never are (169.254.169.254 is a cloud's
    metadata service), loopback ones only with the tests' and labs' allowance."""
    ip = ipaddress.ip_address(address)
    if ip.is_unspecified:
        return "an unspecified"
    if ip.is_multicast:
        return "a multicast"
    if ip.is_link_local:
        return "a link-local"
    if ip.is_loopback and not allow_loopback:
        return "a loopback"
    return None


def resolve_address(
    hostname: str,
    nameservers: Sequence[tuple[str, int]],
    *,
    timeout: float,
    allow_loopback: bool = False,
) -> str:
    """The address to dial for `hostname` (IPv4 first), asked of `nameservers` (the system's
    nameservers from resolv.conf, asked directly, when none are given).

    Raises ServedProblem `unresolvable` (no answer, no such name, no address) or
    `address_refused` (loopback / link-local without the allowance).
    """
    servers = [Nameserver(f"{a}:{p}", ((a, p),)) for a, p in nameservers]
    if not servers:
        system = system_nameserver()
        servers = [system] if system else []
    if not servers:
        raise ServedProblem("unresolvable", f"{hostname}: no nameserver is configured")
    answers = ask_nameservers(
        hostname,
        servers,
        deadline=time.monotonic() + timeout,
        budget=timeout,
        max_hops=RESOLVE_HOPS,
    )
    answered = next((a for a in answers if a.answered), None)
    if answered is None:
        detail = next((a.detail for a in answers if a.detail), "no answer")
        raise ServedProblem("unresolvable", f"{hostname} could not be resolved ({detail})")
    if answered.end == END_NXDOMAIN:
        raise ServedProblem("unresolvable", f"{hostname} does not exist (NXDOMAIN)")
    addresses = sorted(answered.addresses, key=lambda a: a.type != "A")
    if not addresses or answered.end == END_NODATA:
        raise ServedProblem("unresolvable", f"{hostname} has no address (no A or AAAA record)")
    address = addresses[0].address
    refused = address_refusal(address, allow_loopback=allow_loopback)
    if refused:
        raise ServedProblem(
            "address_refused", f"{hostname} resolves to {address}, {refused} address: not probed"
        )
    return address


def read_served_leaf(der: bytes | None, hostname: str) -> x509.Certificate:
    """The served leaf, read with the upload readers; ServedProblem `served_unreadable`
    for no bytes, too many bytes, or anything that is not exactly one certificate."""
    if not der:
        raise ServedProblem("served_unreadable", f"{hostname} sent no certificate")
    if len(der) > MAX_LEAF_BYTES:
        raise ServedProblem(
            "served_unreadable",
            f"the certificate {hostname} sent is {len(der):,} bytes, more than the "
            f"{MAX_LEAF_BYTES:,} a certificate may be: not read",
        )
    material = read_inputs([InputFile(f"served by {hostname}", der)])
    certs = [sourced.cert for sourced in material.certificates]
    if len(certs) != 1 or material.keys:
        said = "; ".join(f.message for f in material.findings) or "not a certificate"
        raise ServedProblem(
            "served_unreadable", f"what {hostname} sent is not a readable certificate ({said})"
        )
    return certs[0]


@dataclass(frozen=True)
class ServedLeaf:
    """What the probe keeps of a served leaf (read by `read_served_leaf`)."""

    fingerprint_sha256: str
    not_after: dt.datetime
    subject: str


def served_leaf(cert: x509.Certificate) -> ServedLeaf:
    """The fields the probe records; ServedProblem `served_unreadable` for a field that
    parses lazily and badly."""
    try:
        subject = cert.subject.rfc4514_string()[:300]
        return ServedLeaf(fingerprint_sha256(cert), cert.not_valid_after_utc, subject)
    except Exception as error:
        raise ServedProblem(
            "served_unreadable", f"the served certificate is malformed ({type(error).__name__})"
        ) from None


@dataclass(frozen=True)
class Recorded:
    """The certificate the record says should be served."""

    fingerprint_sha256: str
    not_after: dt.datetime | None


def judge(served: ServedLeaf, recorded: Recorded | None) -> str:
    """ok, served_expires_sooner, served_other_certificate or (nothing recorded)
    not_recorded."""
    if recorded is None:
        return NOT_RECORDED
    same = normalize_fingerprint(served.fingerprint_sha256) == normalize_fingerprint(
        recorded.fingerprint_sha256
    )
    if same:
        return OK
    if recorded.not_after is not None and served.not_after < recorded.not_after:
        return SERVED_EXPIRES_SOONER
    return SERVED_OTHER
