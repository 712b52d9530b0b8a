"""The DNS resolver answers: `/cert dns` and assignments depend on it.

Any answer counts, NXDOMAIN included: the point is that a resolver replies in time.
"""

from __future__ import annotations

import dns.exception
import dns.resolver

from bot.doctor.result import CheckResult, fail, ok

DEFAULT_NAME = "outsystemsenterprise.com"
DEFAULT_TIMEOUT = 3.0


def resolver(
    nameservers: list[tuple[str, int]] | None,
    name: str = DEFAULT_NAME,
    timeout: float = DEFAULT_TIMEOUT,
) -> CheckResult:
    check = "dns"
    try:
        if nameservers:
            res = dns.resolver.Resolver(configure=False)
            res.nameservers = [host for host, _ in nameservers]
            res.nameserver_ports = {host: port for host, port in nameservers}
            where = ", ".join(f"{host}:{port}" for host, port in nameservers)
        else:
            res = dns.resolver.Resolver()
            where = "the system resolver (" + ", ".join(str(n) for n in res.nameservers) + ")"
    except dns.resolver.NoResolverConfiguration:
        return fail(
            check,
            "no DNS resolver is configured on this host",
            "set nameservers in /etc/resolv.conf",
        )
    res.timeout = timeout
    res.lifetime = timeout
    try:
        res.resolve(name, "SOA", raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        pass  # an answer all the same
    except dns.resolver.NoNameservers:
        return fail(
            check,
            f"{where} refused or failed (SERVFAIL) for {name}",
            "check the resolver, or the network to it",
        )
    except dns.exception.Timeout:
        return fail(
            check,
            f"{where} did not answer within {timeout:g} s",
            "check /etc/resolv.conf and that UDP/TCP port 53 to the resolver is open",
        )
    except dns.exception.DNSException as error:
        return fail(check, f"{where}: {type(error).__name__}", "check the resolver")
    return ok(check, f"{where} answers")
