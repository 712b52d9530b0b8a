"""`/cert` text → Command: every subcommand, and the usage answers for wrong input."""

from __future__ import annotations

import pytest

from handlers.common.command_parser import (
    ADMIN_ONLY,
    SYNOPSES,
    Command,
    UsageError,
    parse,
    usage_text,
)


@pytest.mark.parametrize(
    ("text", "name", "args"),
    [
        ("", "help", {}),
        ("help", "help", {}),
        ("validate", "validate", {}),
        ("assign", "assign", {}),
        (
            "assign shop dev shop.example.com",
            "assign",
            {"certificate": "shop", "environment": "dev", "hostname": "shop.example.com"},
        ),
        ("dns shop.example.com", "dns", {"hostname": "shop.example.com", "environment": None}),
        (
            "DNS <http://shop.example.com|shop.example.com> dev",
            "dns",
            {"hostname": "shop.example.com", "environment": "dev"},
        ),
        ("list", "list", {}),
        ("show shop", "show", {"name": "shop"}),
        ("show \u201cmy cert\u201d", "show", {"name": "my cert"}),
        (
            "env add dev acme-dev.outsystemsenterprise.com",
            "env add",
            {
                "name": "dev",
                "default_host": "acme-dev.outsystemsenterprise.com",
                "lifetime": False,
                "channel": None,
            },
        ),
        (
            "env add lt acme-lt.outsystemsenterprise.com lifetime <#C0123|ops>",
            "env add",
            {
                "name": "lt",
                "default_host": "acme-lt.outsystemsenterprise.com",
                "lifetime": True,
                "channel": "C0123",
            },
        ),
        (
            "env add qa h.example.com #ops",
            "env add",
            {"name": "qa", "default_host": "h.example.com", "lifetime": False, "channel": "#ops"},
        ),
        ("env list", "env list", {}),
        (
            "ticket open shop lt.example.com",
            "ticket open",
            {"certificate": "shop", "hostname": "lt.example.com"},
        ),
        (
            "ticket update 3 Submitted 0012345",
            "ticket update",
            {"id": "3", "state": "submitted", "case": "0012345"},
        ),
        (
            "ticket update 3 confirmed",
            "ticket update",
            {"id": "3", "state": "confirmed", "case": None},
        ),
        ("ticket list", "ticket list", {}),
        ("renew shop-2027", "renew", {"name": "shop-2027"}),
        ("approve shop", "approve", {"name": "shop"}),
        (
            "reject shop the key is 1024 bits",
            "reject",
            {"name": "shop", "reason": "the key is 1024 bits"},
        ),
        ("expiring", "expiring", {"days": 30}),
        ("expiring 7", "expiring", {"days": 7}),
    ],
)
def test_every_subcommand_parses(text: str, name: str, args: dict[str, object]) -> None:
    assert parse(text) == Command(name, args)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("frobnicate", "I don't know `/cert frobnicate`"),
        ("show", "Usage: `/cert show NAME`"),
        ("show a b", "more arguments than it takes"),
        ("assign shop dev", "Usage: `/cert assign [CERT ENV HOSTNAME]`"),
        ("dns", "Usage: `/cert dns HOSTNAME [ENV]`"),
        ("env", "`/cert env add` | `/cert env list`"),
        ("env delete dev", "`/cert env add` | `/cert env list`"),
        ("env add dev", "Usage: `/cert env add NAME DEFAULT_HOST [lifetime] [#channel]`"),
        ("env add dev h.example.com production", "I don't know what 'production' means"),
        ("ticket", "`/cert ticket open`"),
        ("ticket update 3", "Usage: `/cert ticket update ID STATE [CASE]`"),
        ("reject shop", "needs a NAME and a REASON"),
        ("expiring soon", "number of days"),
        ("expiring 99999", "number of days"),
        ("list everything", "Usage: `/cert list`"),
        ("validate cert.pem", "Usage: `/cert validate`"),
    ],
)
def test_bad_input_gets_a_usage_answer(text: str, says: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(text)
    assert says in f"{caught.value} {caught.value.usage}"


def test_admin_only_subcommands() -> None:
    assert parse("approve x").admin_only
    assert parse("assign a b c").admin_only
    assert not parse("assign").admin_only  # only opens the form
    assert not parse("list").admin_only
    assert {sub for sub, _, _ in SYNOPSES} >= ADMIN_ONLY


def test_usage_text_lists_every_subcommand() -> None:
    text = usage_text()
    for sub, _, _ in SYNOPSES:
        assert f"/cert {sub}" in text


def test_slack_escapes_are_read_back_as_typed() -> None:
    """Slack sends a typed `&` as `&amp;` (and `<`, `>` as entities); its markup stays."""
    reject = parse("reject R&amp;D-cert bad &lt;issuer&gt; &amp;amp; chain")
    assert reject.args == {"name": "R&D-cert", "reason": "bad <issuer> &amp; chain"}
    env = parse("env add dev &lt;x&gt; <#C0123|ops>")
    assert env.args["default_host"] == "<x>" and env.args["channel"] == "C0123"
    assert parse("dns <http://shop.example.com|shop.example.com>").args["hostname"] == (
        "shop.example.com"
    )
