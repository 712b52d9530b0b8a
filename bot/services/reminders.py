"""Fixed texts of the process: the reminders after every assignment, the support case text.

They come from OutSystems' procedure; one place so the terminal and Slack say the same.
"""

from __future__ import annotations

UPDATE_MINUTES = 5

ASSIGNMENT_REMINDERS: tuple[str, ...] = (
    "Consumers of this environment's REST and SOAP services must be reconfigured to use "
    "the new URLs on the new hostname.",
    "Mobile apps must be regenerated and redistributed so that they use the new hostname.",
    "Host header protection must allow the new hostname, or requests to it are refused.",
)


def support_case_text(
    *,
    environment: str,
    default_host: str,
    hostname: str,
    certificate: str,
    fingerprint: str,
    not_after: str,
    uploaded_on: list[str],
) -> str:
    """The text to paste into the OutSystems support case for a LifeTime domain change."""
    where = ", ".join(uploaded_on) if uploaded_on else "(a wildcard certificate already uploaded)"
    return (
        f"Subject: Change the LifeTime hostname of {environment} to {hostname}\n"
        "\n"
        "Hello,\n"
        "\n"
        f"Please configure the custom hostname {hostname} for our LifeTime environment "
        f"{environment} ({default_host}).\n"
        "\n"
        f"Certificate to use: {certificate}\n"
        f"  SHA-256 fingerprint: {fingerprint}\n"
        f"  valid until: {not_after}\n"
        f"  already uploaded on: {where}\n"
        "\n"
        f"Once you confirm, we will create the CNAME {hostname} -> {default_host}.\n"
        "\n"
        "Thank you."
    )


def dns_instruction(hostname: str, default_host: str) -> str:
    """What to do once support confirms: the one DNS record to create."""
    return (
        f"Support confirmed the change. Now create the DNS record: {hostname} CNAME "
        f"{default_host} (a CNAME, not an A record, and not the load balancer's address). "
        "Then mark the ticket dns_configured: the DNS check closes the loop."
    )
