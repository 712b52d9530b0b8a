"""Issue 15, point 7: a person at a terminal takes a certificate from samples to a
snoozed expiry warning, in `certops console --admin` on a pseudo-terminal.

The console runs as a real process with no Slack tokens, its data in tmp, and
CERTOPS_NAMESERVERS pointing at the tests' loopback DNS server (so no lab DNS: the DNS
check of the assignment is answered by that server, and the test sees it was asked).
Each step types a line once the screen shows the prompt, and asserts on what the
screen then shows. The timeouts only bound a hang.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.console_pty import console_on_terminal
from tests.support.dns_server import TARGET, ZONES, DnsServer, standard_records
from tests.support.walkthrough import PROMPT, Step, type_step

HOST = "app.certops.test"


def test_a_person_takes_a_sample_from_upload_to_a_snoozed_warning(tmp_path: Path) -> None:
    records = standard_records()
    records[HOST] = [("CNAME", f"{TARGET}.", 300)]
    with (
        DnsServer(records, zones=(*ZONES, "certops.test")) as dns,
        console_on_terminal(
            tmp_path,
            "--admin",
            CERTOPS_DATA_DIR=str(tmp_path / "data"),
            CERTOPS_NAMESERVERS=dns.nameserver,
        ) as (process, screen),
    ):

        def step(typed: str, until: str = PROMPT) -> str:
            return type_step(screen, Step(typed, until))

        screen.wait_for(PROMPT)
        shown = step("/samples")
        assert "Test certificates for app.certops.test in samples" in shown
        assert "This console trusts samples/ca.pem from now on" in shown
        # CERTOPS_NAMESERVERS is set: no lab, the record it needs is said instead
        assert "Your nameservers (CERTOPS_NAMESERVERS) answer the DNS checks" in shown
        assert f"{HOST}. CNAME {TARGET}." in shown
        password = shown.split("PFX password (valid.pfx): ", 1)[1].split()[0]
        assert (tmp_path / "samples" / "valid.pfx").is_file()

        shown = step("/upload samples/valid.pfx")
        assert "[you, in the DM] valid.pfx" in shown
        assert "`password_required`" in shown and "1) Enter the password" in shown

        shown = step("/click 1", "Password of the key or PFX> ")
        assert "[form: Password]" in shown and "Typed without echo." in shown
        shown = step(password)  # the sample's root is trusted in the DM's worker too
        assert "*Valid*: this certificate can be uploaded." in shown
        assert "chain_incomplete" not in shown
        assert "Buttons: 1) Save  2) Assign" in shown

        step("/click 1", "Certificate name> ")
        step("", "Domain> ")
        step("", "Password of the key or PFX> ")
        shown = step(password)
        assert "Saved *app.certops.test-" in shown and "(validated)" in shown

        shown = step(f"/cert env add dev {TARGET}")
        assert "Environment *dev* recorded" in shown
        shown = step("/cert assign", "Certificate (validated or approved)> ")
        assert "[form: Assign a certificate]" in shown
        step("1", "Environment> ")
        shown = step("1", "Hostname> ")
        assert f"Enter keeps: {HOST}" in shown  # suggested from the certificate picked
        step("", "DNS> ")
        asked = len(dns.queries)
        shown = step("y")
        assert "[form: Assigned]" in shown
        assert "assigned *app.certops.test-" in shown and f"to *dev* as *{HOST}*" in shown
        assert f"DNS check passed: `cname_ok` {HOST} is a CNAME to {TARGET}" in shown
        assert (HOST, "CNAME") in dns.queries[asked:]  # the tests' server answered it

        shown = step("/time +25d")
        assert "25.0 days ahead of the real time" in shown
        assert "expires in 19 days" in shown or "expires in 20 days" in shown
        assert "Threshold: 30 days left." in shown
        assert "1) Renew  2) Snooze 1 day  3) Snooze 7 days  4) Acknowledge" in shown

        shown = step("/click 3")
        assert "[#C0CONSOLE, in the thread]" in shown
        assert "Snoozed by @U0CONSOLE until" in shown

        screen.end()
        assert process.wait(60) == 0
    assert screen.text.count(password) == 1  # printed by /samples; typed twice, never echoed
    assert "Traceback" not in screen.text
