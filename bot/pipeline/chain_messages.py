"""The chain findings' messages: what was dropped, reordered, missing or broken, naming
the certificates so that a person can find them in their files."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509

from bot.pipeline.aia import ca_issuers_urls
from bot.pipeline.chain_certs import cap, describe, readable_names
from bot.pipeline.findings import Finding, finding

MAX_NAMED = 10  # certificates named in one message; the rest are counted


def names_of(certs: Sequence[x509.Certificate]) -> str:
    counts: dict[x509.Certificate, int] = {}
    for cert in certs:
        counts[cert] = counts.get(cert, 0) + 1
    parts = [
        describe(cert) + (f" ({n} copies)" if n > 1 else "")
        for cert, n in list(counts.items())[:MAX_NAMED]
    ]
    if len(counts) > MAX_NAMED:
        parts.append(f"and {len(counts) - MAX_NAMED} more")
    return ", ".join(parts)


def duplicates_finding(duplicates: list[x509.Certificate]) -> Finding:
    return finding(
        "chain_duplicate", f"Repeated certificates were dropped: {names_of(duplicates)}."
    )


def extras_finding(extras: list[x509.Certificate], top: x509.Certificate) -> Finding:
    """`top`: the certificate the chain ends at."""
    notes = []
    for cert in extras[:MAX_NAMED]:
        note = describe(cert)
        if readable_names(cert) and cert.subject == top.subject:
            note += " (another version of the CA the chain ends at)"
        notes.append(note)
    if len(extras) > MAX_NAMED:
        notes.append(f"and {len(extras) - MAX_NAMED} more")
    return finding(
        "chain_extra_certificates",
        f"Certificates that are not part of this chain were dropped: {', '.join(notes)}.",
    )


def order_finding(
    leaf: x509.Certificate,
    candidates: Sequence[x509.Certificate],
    uploaded_path: list[x509.Certificate],
    leaf_is_first: bool,
) -> Finding | None:
    """`uploaded_path`: the uploaded certificates of the chain above the leaf, in chain
    order; `chain_order` when the upload had them (or the leaf) in another order."""
    wanted = set(uploaded_path)
    uploaded: list[x509.Certificate] = []
    for cert in candidates:
        if cert in wanted and cert not in uploaded:
            uploaded.append(cert)
    if leaf_is_first and uploaded == uploaded_path:
        return None
    ordered = [f"{describe(leaf)} (leaf)"] + [describe(cert) for cert in uploaded_path]
    return finding("chain_order", f"The chain was put in order: {' → '.join(ordered)}.")


def private_root_finding(root: x509.Certificate) -> Finding:
    return finding(
        "private_root",
        f"The chain ends at {describe(root)}, an uploaded root that is not in the trust "
        "store: only clients that have this root installed will trust the certificate.",
    )


def untrusted_fetched_root_finding(root: x509.Certificate) -> Finding:
    return finding(
        "chain_incomplete",
        f"The chain ends at {describe(root)}, a root fetched from a CA issuers URL that is "
        "not in the trust store: there is no path to a trusted root.",
        hint="If your organisation trusts this root, add it with --trust-store; for public "
        "sites use a certificate from a public CA.",
    )


def incomplete_finding(
    top: x509.Certificate, near_misses: list[x509.Certificate], failures: list[str]
) -> Finding:
    issuer = top.issuer.rfc4514_string() or "(empty name)"
    message = (
        f"The issuer of {describe(top)} is missing: “{issuer}” is neither in the upload "
        "nor a trusted root."
    )
    urls = ca_issuers_urls(top)
    if urls:
        message += f" Its CA issuers URL is {' and '.join(urls)}."
    if near_misses:
        message += (
            f" The upload holds {names_of(near_misses)} with that name, but it did not sign "
            f"{describe(top)} (another key: an older or newer version of that CA?)."
        )
    if failures:
        message += " " + cap("; ".join(failures)) + "."
    hint = (
        "Add the missing issuer to the upload (your CA's intermediate bundle); if it is "
        "your organisation's own root, upload that root too."
    )
    if urls:
        hint = (
            f"Add the missing issuer to the upload: it can be downloaded from {urls[0]}. If "
            "it is your organisation's own root, upload that root too."
        )
    return finding("chain_incomplete", message, hint=hint)


def broken_finding(child: x509.Certificate, issuer: x509.Certificate) -> Finding:
    return finding(
        "chain_invalid",
        f"Bad signature: the signature of {describe(child)} does not verify with the key of "
        f"{describe(issuer)}, although their names and key identifiers match: one of them "
        "is damaged or was altered.",
    )


def path_tried_note(
    first: Finding, certs: Sequence[x509.Certificate], tried: int, cut: bool
) -> Finding:
    """Say which path a failure is about when several were tried and none verified, and
    when the search's bounds left some certificates untried."""
    path = " → ".join(describe(cert) for cert in certs)
    bound = (
        " The search stopped at its bounds, so some uploaded certificates were not tried."
        if cut
        else ""
    )
    return Finding(
        first.code,
        first.severity,
        f"{first.message} (On the path {path}: the best of {tried} paths tried, none of "
        f"which verifies.{bound})",
        first.hint,
    )
