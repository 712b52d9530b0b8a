"""The certificate names for `certops dns --cert FILE...`: read the files, pick the leaf.

The DNS check itself only takes a list of names (the Slack commands have them from the
database); this is the terminal's way to get them. Files are read with the shared readers
(`bot.pipeline.readers.read_inputs`), so every format `certops validate` accepts works
here too. Matching the names against the hostname is left to
`bot.pipeline.hostnames`, like everywhere else.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509

from bot.pipeline.hostnames import covers
from bot.pipeline.leaf import dns_names, is_ca
from bot.pipeline.material import InputFile, Passwords
from bot.pipeline.readers import read_inputs


def read_certificates(files: Sequence[InputFile]) -> tuple[list[x509.Certificate], list[str]]:
    """Every certificate in the files, and a sentence for each thing that could not be read.

    The shared readers, so every format `certops validate` accepts works here too.
    """
    material = read_inputs(list(files), Passwords())
    return [item.cert for item in material.certificates], [f.message for f in material.findings]


def pick_leaf(certs: Sequence[x509.Certificate], hostname: str) -> x509.Certificate | None:
    """The leaf among uploaded certificates: a non-CA one, preferring one naming `hostname`.

    A bundle often carries the intermediates too, and a renewal folder may hold two
    leaves; the one that covers the hostname is the one the question is about. With no
    non-CA certificate, a self-signed one that names hosts is the site's own: that is what
    `openssl req -x509` makes (CA:TRUE), not a root someone meant to upload.
    """
    leaves = [c for c in certs if not is_ca(c)] or [
        c for c in certs if c.issuer == c.subject and dns_names(c)
    ]
    for cert in leaves:
        if covers(dns_names(cert), hostname):
            return cert
    return leaves[0] if leaves else None


def certificate_names(files: Sequence[InputFile], hostname: str) -> list[str]:
    """The leaf's DNS names; ValueError with a sentence when there is no usable leaf."""
    certs, problems = read_certificates(files)
    shown = ", ".join(f.name for f in files)
    if not certs:
        why = f" ({problems[0]})" if problems else ""
        locked = any("password" in p for p in problems)
        advice = (
            "; give the certificate itself (PEM or DER), which needs no password" if locked else ""
        )
        raise ValueError(f"no certificate found in {shown}{why}{advice}")
    leaf = pick_leaf(certs, hostname)
    if leaf is None:
        raise ValueError(f"{shown} holds only CA certificates, no certificate for a host")
    return dns_names(leaf)
