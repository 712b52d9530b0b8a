"""Block Kit builders, rendered with no network and checked through slack_sdk.models."""

from __future__ import annotations

import pytest

from bot.console.render import blocks_text, mrkdwn
from handlers.common.blocks.base import (
    MESSAGE_BLOCK_LIMIT,
    InvalidBlocks,
    actions,
    button,
    checked_message,
    checked_view,
    section,
)
from handlers.common.blocks.dns import dns_blocks
from handlers.common.blocks.help import help_blocks
from handlers.common.blocks.records import certificate_list_blocks, soonest_first
from handlers.common.ids import HomeId
from handlers.home.blocks import home_view


def cert(
    name: str, not_after: str | None, days: int | None, status: str = "validated"
) -> dict[str, object]:
    return {
        "name": name,
        "domain": f"{name}.example.com",
        "status": status,
        "not_after": not_after,
        "days_left": days,
    }


def test_a_long_list_is_truncated_to_50_blocks_with_a_count() -> None:
    certs = [
        cert(f"c{i:03d}", f"2027-01-{1 + i % 28:02d}T00:00:00+00:00", 30 + i) for i in range(120)
    ]
    blocks = checked_message(certificate_list_blocks(certs))
    assert len(blocks) == MESSAGE_BLOCK_LIMIT
    assert blocks[-1]["type"] == "context"
    assert "and 72 more" in blocks[-1]["elements"][0]["text"]  # 1 header + 120 lines - 49 kept


def test_certificates_are_listed_soonest_expiry_first() -> None:
    certs = [
        cert("late", "2028-01-01T00:00:00+00:00", 700),
        cert("none", None, None),
        cert("soon", "2026-12-01T00:00:00+00:00", 4),
    ]
    assert [c["name"] for c in soonest_first(certs)] == ["soon", "late", "none"]


def test_slack_sdk_rejects_what_slack_would() -> None:
    too_long = {
        "type": "button",
        "text": {"type": "plain_text", "text": "x" * 76},
        "action_id": "a",
    }
    with pytest.raises(InvalidBlocks):
        checked_message([{"type": "actions", "elements": [too_long]}])
    with pytest.raises(InvalidBlocks, match="unknown type"):
        checked_message([{"type": "no_such_block"}])
    with pytest.raises(InvalidBlocks):
        checked_view(
            {"type": "modal", "title": {"type": "plain_text", "text": "t" * 25}, "blocks": []}
        )


def test_builders_clip_text_to_the_limits() -> None:
    blocks = checked_message([section("y" * 5000), actions(button("z" * 100, "act"))])
    assert len(blocks[0]["text"]["text"]) == 3000
    assert len(blocks[1]["elements"][0]["text"]["text"]) == 75


def test_home_view_has_the_record_and_the_buttons() -> None:
    envs = [
        {
            "name": "dev",
            "default_host": "acme-dev.outsystemsenterprise.com",
            "is_lifetime": False,
            "hostname": "shop.example.com",
            "current": {"certificate": "shop", "hostname": "shop.example.com", "state": "active"},
            "open_tickets": [
                {
                    "id": 4,
                    "state": "submitted",
                    "environment": "dev",
                    "hostname": "lt.example.com",
                    "certificate": "shop",
                    "case_number": "77",
                }
            ],
        }
    ]
    certs = [
        cert("shop", "2027-02-01T00:00:00+00:00", 12),
        cert("other", "2026-12-01T00:00:00+00:00", 3),
    ]
    view = home_view(envs, certs, user_id="U1", is_admin=True)
    text = blocks_text(view["blocks"])
    assert "shop.example.com" in text and "12 days left" in text
    assert text.index("*other*") < text.index("*shop* ·")
    assert "#4" in text and "case 77" in text
    action_ids = [
        e["action_id"] for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert set(action_ids) == set(HomeId)


def test_home_view_stays_within_100_blocks() -> None:
    certs = [cert(f"c{i}", "2027-01-01T00:00:00+00:00", 40) for i in range(300)]
    envs = [
        {"name": f"e{i}", "default_host": "x.outsystemsenterprise.com", "open_tickets": []}
        for i in range(80)
    ]
    view = home_view(envs, certs, user_id="U1", is_admin=False)
    assert len(view["blocks"]) <= 100
    assert "more" in blocks_text(view["blocks"])


def test_dns_report_blocks_show_expected_found_and_fixes() -> None:
    report = {
        "verdict": "misconfigured",
        "hostname": "shop.example.com",
        "target": "acme-dev.outsystemsenterprise.com",
        "hops": [{"name": "shop.example.com", "target": "lb.elb.amazonaws.com", "ttl": 300}],
        "addresses": [],
        "findings": [
            {
                "code": "cname_to_load_balancer",
                "severity": "error",
                "message": "points at the load balancer",
            }
        ],
        "fixes": ["Point the CNAME at acme-dev.outsystemsenterprise.com."],
        "cache": {"note": "Caches may keep the old answer for 5 min."},
    }
    text = blocks_text(checked_message(dns_blocks(report, "dev")))
    assert "Misconfigured" in text and "lb.elb.amazonaws.com" in text
    assert "1. Point the CNAME" in text and "5 min" in text


def test_help_marks_admin_commands() -> None:
    text = blocks_text(help_blocks(is_admin=False))
    assert "`/cert approve NAME`" in text and "_(admins)_" in text


def test_console_rendering_of_mrkdwn() -> None:
    assert mrkdwn(":white_check_mark: <@U1> in <#C1|ops> &lt;x&gt;") == "@U1 in #ops <x>"
    assert mrkdwn("`AB:12:CD`") == "`AB:12:CD`"


def test_upload_findings_never_point_at_terminal_options() -> None:
    """The pipeline's hints serve the CLI too; in Slack none may name a `--flag`."""
    from bot.pipeline.findings import CATALOG
    from handlers.common.blocks.verdicts import finding_blocks

    findings = [
        {"code": code, "severity": str(info.severity), "message": "m", "hint": info.hint}
        for code, info in CATALOG.items()
        if code != "dns_unreachable"  # the DNS check's, not an upload's
    ]
    findings.append(
        {"code": "private_root", "severity": "warning", "message": "m", "hint": "add --trust-store"}
    )
    text = str([finding_blocks(findings[i : i + 10]) for i in range(0, len(findings), 10)])
    assert " --" not in text and "(--" not in text


def test_a_renewal_result_gives_a_new_tickets_next_step_and_support_text() -> None:
    from handlers.common.blocks.confirm import renewal_done_blocks

    result = {
        "ok": True,
        "certificate": "wild-2",
        "renews": "wild",
        "outcomes": [
            {
                "ok": True,
                "target": {
                    "environment": "lifetime",
                    "hostname": "lt.example.com",
                    "is_lifetime": True,
                },
                "result": {
                    "ok": True,
                    "ticket": {"id": 7},
                    "message": "Ticket 7 is a draft. Open a support case with the text below",
                    "support_text": "Subject: Change the LifeTime hostname of lifetime\n\nHello,",
                },
            },
            {
                "ok": True,
                "target": {
                    "environment": "dev",
                    "hostname": "app.example.com",
                    "is_lifetime": False,
                },
                "result": {"ok": True, "assignment": {"id": 3}},
            },
        ],
    }
    text = blocks_text(renewal_done_blocks(result, "U1"))
    assert "Ticket 7 is a draft" in text
    assert "Subject: Change the LifeTime hostname of lifetime" in text
    assert text.count("Subject:") == 1  # the assignment gets no ticket text
