"""A subcommand that fails as a bug would, for tests of the dispatcher's last guard."""

from __future__ import annotations


def main(argv: list[str], prog: str, command: str) -> int:
    raise RuntimeError("secret-ish detail /tmp/key.pem")
