"""The console's lab DNS: a small authoritative server on loopback, so a newcomer's
`/cert assign` gets a real DNS check without touching the Internet or a company's DNS.

When CERTOPS_NAMESERVERS is not set, the console starts it and its services ask it
(`ServiceContext.default_nameservers`), as the bot asks the configured nameservers. It
is authoritative for the names reserved for testing and documentation (`test`,
`example`, `example.com|net|org`, RFC 2606 and 6761) and for `outsystemsenterprise.com`,
whose `acme-dev` host it gives an address; any other name gets REFUSED, as an
authoritative server answers for a zone it does not serve, so the DNS check says the
answer is unknown rather than inventing one. `/samples` adds the CNAME the walk-through
needs; `/dns NAME CNAME|A TARGET` adds any other record (for a name outside its zones
the lab becomes authoritative for the name's parent), so each verdict of the DNS check
can be tried.

The TLS check after an assignment resolves through it too (never the system resolver).
The lab host's address is 127.0.0.1, which the probe does not dial (a loopback address:
the check must not probe the bot's own host), so the check's outcome is an honest "could
not read the certificate", at once, instead of a timeout.
"""

from __future__ import annotations

import ipaddress

from bot.console.dns_server import DnsServer
from bot.pipeline.hostnames import InvalidHostname, normalize
from bot.pipeline.served import ServedProblem, resolve_address

LAB_ZONES = (
    "test",
    "example",
    "example.com",
    "example.net",
    "example.org",
    "outsystemsenterprise.com",
)
# The default host the walk-through's environment uses, and its address.
LAB_TARGET = "acme-dev.outsystemsenterprise.com"
LAB_ADDRESS = "127.0.0.1"
LAB_TTL = 60
RECORD_TYPES = ("CNAME", "A")
DNS_USAGE = (
    "Type /dns NAME CNAME TARGET, /dns NAME A ADDRESS, /dns NAME none (no record), "
    "or /dns to list the lab's records."
)
# How long the TLS check's look-up may take in the lab (the lab answers at once).
RESOLVE_TIMEOUT = 2.0


class LabDnsError(ValueError):
    """A record the lab cannot hold: one line for the person typing."""


def record_lines(host: str, target: str = LAB_TARGET) -> list[str]:
    """The records the walk-through needs, as a zone file writes them."""
    return [f"{host}. CNAME {target}."]


class LabDns(DnsServer):
    """The lab server: its zones, the lab host's address, and what the console asks."""

    def __init__(self) -> None:
        super().__init__(
            {LAB_TARGET: [("A", LAB_ADDRESS, LAB_TTL)]},
            zones=LAB_ZONES,
            authoritative_only=True,
        )

    @property
    def nameservers(self) -> list[tuple[str, int]]:
        return [self.address]

    def set(self, name: str, kind: str, target: str | None) -> str:
        """Give `name` one record (None: no record, so it does not exist); the line that
        says what the lab now answers. LabDnsError for a bad name, type or target."""
        host = _hostname(name, "NAME")
        kind = kind.upper()
        if target is None:
            self.set_records(host, [])
            return f"Lab DNS: {host} has no record now (NXDOMAIN)."
        if kind == "CNAME":
            value = _hostname(target, "TARGET")
            if value == host:
                raise LabDnsError("a name cannot be a CNAME of itself")
            record = (kind, f"{value}.", LAB_TTL)
        elif kind == "A":
            try:
                value = str(ipaddress.IPv4Address(target.strip()))
            except ValueError:
                raise LabDnsError(f"{target!r} is not an IPv4 address") from None
            record = (kind, value, LAB_TTL)
        else:
            raise LabDnsError(f"the lab holds {' and '.join(RECORD_TYPES)} records, not {kind}")
        if not self.knows(host):
            # The lab becomes authoritative for the name's parent (a CNAME cannot sit
            # at a zone's apex), or for the name when it is a single label.
            self.add_zone(host.partition(".")[2] or host)
        self.set_records(host, [record])
        return f"Lab DNS: {host}. {kind} {value}{'.' if kind == 'CNAME' else ''}"

    def listing(self) -> str:
        """Every record the lab serves but the SOAs, one a line."""
        lines = [
            f"  {name}. {kind} {value}"
            for name, records in sorted(self.records.items())
            for kind, value, _ in records
            if kind != "SOA"
        ]
        zones = ", ".join(sorted(self.zones))
        return "\n".join(
            [
                f"The lab DNS on {self.nameserver} serves {zones}:",
                *lines,
                "Other names get REFUSED (the lab does not know them).",
            ]
        )

    def resolve(self, hostname: str) -> str:
        """The address the TLS check dials for `hostname`, asked of the lab; OSError with
        the reason when there is none or it may not be dialled (loopback)."""
        try:
            return resolve_address(hostname, self.nameservers, timeout=RESOLVE_TIMEOUT)
        except ServedProblem as problem:
            raise OSError(problem.message) from None


def _hostname(text: str, what: str) -> str:
    try:
        return normalize(text.strip().rstrip("."))
    except InvalidHostname as error:
        raise LabDnsError(f"{what}: {error}") from None
