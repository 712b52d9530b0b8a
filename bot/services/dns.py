"""Running the pipeline's DNS check the way the process rules need it.

`misconfigured` refuses (with the report, so the person sees what to fix); `unknown`
means no nameserver answered, which is not evidence of a mistake, so it lets the change
through with a warning.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.pipeline.dns_report import VERDICT_MISCONFIGURED, VERDICT_UNKNOWN, DnsReport
from bot.pipeline.hostnames import InvalidHostname
from bot.services.context import ServiceContext
from bot.services.errors import ServiceError

UNKNOWN_WARNING = (
    "The DNS check got no answer (verdict unknown): the change goes ahead, but check the "
    "CNAME yourself, e.g. with `certops dns`."
)


def run_check(
    ctx: ServiceContext,
    hostname: str,
    target: str,
    *,
    nameservers: Sequence[tuple[str, int]] | None,
    timeout: float | None,
    certificate_names: Sequence[str] | None = None,
    refuse_misconfigured: bool = True,
) -> DnsReport:
    """Check the CNAME; raise `dns_misconfigured` with the report when it is wrong (unless
    `refuse_misconfigured` is False: a check someone asked to see returns the report)."""
    # dnspython loads with the first check: the record commands that only read (ticket
    # list, cert show) import this module and must not pay for it (issue 16).
    from bot.pipeline.dns_check import check_dns

    servers = nameservers if nameservers is not None else ctx.default_nameservers or ()
    try:
        report = check_dns(
            hostname,
            target,
            nameservers=list(servers),
            timeout=timeout if timeout is not None else ctx.dns_timeout,
            load_balancer_patterns=ctx.load_balancer_patterns,
            certificate_names=certificate_names,
        )
    except InvalidHostname as error:
        raise ServiceError("invalid_input", str(error)) from None
    except ValueError as error:
        raise ServiceError("invalid_input", str(error)) from None
    if report.verdict == VERDICT_MISCONFIGURED and refuse_misconfigured:
        errors = [f.code for f in report.findings if str(f.severity) == "error"]
        raise ServiceError(
            "dns_misconfigured",
            f"the DNS for {report.hostname} is misconfigured ({', '.join(errors) or 'see report'})"
            f": it must be a CNAME to {report.target}",
            {"dns_report": report.to_dict()},
        )
    return report


def warnings_for(report: DnsReport) -> list[str]:
    return [UNKNOWN_WARNING] if report.verdict == VERDICT_UNKNOWN else []
