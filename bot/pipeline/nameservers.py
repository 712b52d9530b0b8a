"""Nameserver addresses as people write them, parsed without importing dnspython.

Its own module so that the settings (read by every command, `certops validate` included)
can check CERTOPS_NAMESERVERS at start without paying for the DNS library.
"""

from __future__ import annotations

import ipaddress


def parse_nameserver(text: str) -> tuple[str, int]:
    """'192.0.2.1', '192.0.2.1:5353', '::1' or '[::1]:5353' -> (address, port).

    Only IP addresses: naming a nameserver by host name would need a resolver to find
    the resolver. Raises ValueError with a sentence for a person.
    """
    raw = text.strip()
    host, port_text = raw, ""
    if raw.startswith("["):
        host, sep, rest = raw[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"nameserver {text!r}: write an IPv6 address as [ADDRESS]:PORT")
        port_text = rest[1:]
    elif raw.count(":") == 1:
        host, _, port_text = raw.partition(":")
    try:
        address = str(ipaddress.ip_address(host))
    except ValueError:
        raise ValueError(
            f"nameserver {text!r} is not an IP address (give HOST[:PORT] with an IP address)"
        ) from None
    port = 53
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"nameserver {text!r}: the port must be a number from 1 to 65535")
        port = int(port_text)
    return address, port
