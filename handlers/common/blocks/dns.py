"""A DNS check report (`DnsReport.to_dict()`) as Block Kit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handlers.common.blocks.base import Blocks, context, escape, section

VERDICT = {
    "ok": ":white_check_mark: *OK*",
    "misconfigured": ":x: *Misconfigured*",
    "unknown": ":grey_question: *Unknown* (no answer could be had; this is not a failure)",
}
SEVERITY = {
    "error": ":red_circle:",
    "warning": ":large_orange_circle:",
    "info": ":information_source:",
}


def _records(report: Mapping[str, Any]) -> list[str]:
    rows = [f"{h['name']}  CNAME  {h['target']}  (TTL {h['ttl']})" for h in report.get("hops", [])]
    rows += [f"{a['name']}  {a['type']}  {a['address']}" for a in report.get("addresses", [])[:6]]
    return rows


def dns_summary(report: Mapping[str, Any]) -> str:
    """One line for a message that is about something else (an assignment made): the
    verdict and the check's first finding, so the DNS check is seen to have run."""
    verdict = str(report.get("verdict"))
    head = "DNS check passed" if verdict == "ok" else f"DNS check: {verdict}"
    findings = report.get("findings") or []
    first = findings[0] if findings else None
    said = f": `{first['code']}` {escape(str(first['message']))}" if first else ""
    return f"{head}{said}"


def dns_blocks(report: Mapping[str, Any], environment: str | None = None) -> Blocks:
    host = escape(str(report["hostname"]))
    verdict = VERDICT.get(str(report.get("verdict")), escape(str(report.get("verdict"))))
    on = f" for environment *{escape(environment)}*" if environment else ""
    expected = f"{report['hostname']}  CNAME  {report['target']}"
    found = _records(report) or ["(nothing)"]
    blocks: Blocks = [
        section(f"DNS check of *{host}*{on}: {verdict}"),
        section(
            f"*Expected*\n```{escape(expected)}```\n*Found*\n```{escape(chr(10).join(found))}```"
        ),
    ]
    findings = report.get("findings") or []
    if findings:
        lines = [
            f"{SEVERITY.get(f.get('severity', ''), '')} `{f['code']}` {escape(str(f['message']))}"
            for f in findings
        ]
        blocks.append(section("\n".join(lines)))
    fixes = report.get("fixes") or []
    if fixes:
        blocks.append(
            section(
                "*To fix*\n" + "\n".join(f"{i}. {escape(str(x))}" for i, x in enumerate(fixes, 1))
            )
        )
    note = (report.get("cache") or {}).get("note")
    if note:
        blocks.append(context(escape(str(note))))
    return blocks
