"""What the markup gate costs: `safe_payload` on the largest things the bot sends.

A Home tab of 100 blocks and a message of 50, with escaped names, own mentions and a
hostile name left unescaped in one block (the worst case: one fix). Prints the median
time per payload (the gate runs once per Web API call, response URL post or ack) and
the cost of the guarded client the middleware makes for each request.

    .venv/bin/python bench/bench_markup.py [--rounds 200]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from slack_sdk import WebClient

from handlers.common.blocks.base import escape, safe_payload, section
from handlers.common.markup_gate import guarded

HOSTILE = "<!channel> soon <@UEVIL0001>"


def payload(blocks: int) -> dict[str, Any]:
    line = f"<@UADMIN001> :white_check_mark: *{escape(HOSTILE)}* · shop.example.com · " * 6
    body = [section(line) for _ in range(blocks - 1)] + [section(HOSTILE)]
    return {"type": "home", "blocks": body, "private_metadata": '{"renews": "x"}'}


def median_us(data: dict[str, Any], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        safe_payload(data, [])
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    for name, blocks in (("message, 50 blocks", 50), ("Home tab, 100 blocks", 100)):
        data = payload(blocks)
        size = len(str(data))
        print(f"{name} ({size} chars): {median_us(data, args.rounds):.0f} µs per payload")
    client = WebClient(token="xoxb-bench", base_url="http://127.0.0.1:9/api/")
    start = time.perf_counter()
    for _ in range(args.rounds):
        guarded(client)  # the middleware's per-request copy of Bolt's client
    per_copy = (time.perf_counter() - start) / args.rounds * 1e6
    print(f"guarded client per request: {per_copy:.0f} µs")


if __name__ == "__main__":
    main()
