"""`validate()`: uploaded files in, a `Report` out. The one entry point of the pipeline.

Every caller (the `certops validate` command, DM uploads, `/cert validate`, renewals)
calls `validate()` or, when it already holds `Material`, `validate_material()`, so every
surface gives the same verdict for the same files. The order of the steps matters for
speed: the key policy (type and size) is decided before any private-key operation, so an
8192-bit key is rejected without the seconds OpenSSL would spend on it.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from bot.pipeline.chain import ANCHOR_PRIVATE_ROOT, ChainResult, IssuerFetcher, build_chain
from bot.pipeline.findings import Finding, Severity, finding, locked_inputs
from bot.pipeline.keys import (
    describe_certificate_key,
    describe_public_key,
    key_policy_finding,
    match_key,
)
from bot.pipeline.leaf import (
    Domain,
    check_leaf,
    choose_leaf,
    domain_findings,
    label,
    parse_domain,
    signs_itself,
    validity_length_finding,
)
from bot.pipeline.material import InputFile, Material, Passwords, SourcedCertificate
from bot.pipeline.readers import ArchiveLimits, read_inputs
from bot.pipeline.report import ChainEntry, Report
from bot.pipeline.trust import TrustStore


@dataclass(frozen=True)
class ValidateOptions:
    """What the person told us besides the files.

    domain: the Domain field (host name, `*.` wildcard or one SAN name), or None to report
        the names the certificate covers.
    name: the certificate's name in the bot (shown in the report only).
    extra_roots: roots trusted besides certifi's (`--trust-store`).
    fetch_missing/fetcher: fetch a missing issuer from its AIA URL (fetcher: the chain
        module's callable; None means its default HTTP fetcher).
    now: the moment to judge dates against (tests, and re-validation at a given time).
    limits: ZIP limits for the readers.
    """

    domain: str | None = None
    name: str | None = None
    extra_roots: Sequence[x509.Certificate] = ()
    fetch_missing: bool = False
    fetcher: IssuerFetcher | None = None
    now: dt.datetime | None = None
    limits: ArchiveLimits = field(default_factory=ArchiveLimits)


def validate(
    files: Sequence[InputFile],
    passwords: Passwords = Passwords(),  # noqa: B008 - frozen, harmless default
    options: ValidateOptions = ValidateOptions(),
) -> Report:
    """Read the files and check everything: the one call every surface makes."""
    material = read_inputs(files, passwords, options.limits)
    return validate_material(material, options)


# key.pem, privkey.pem, server.key, app_key.pem, "private key" (a form slot); not monkey.crt
_KEY_SLOT = re.compile(r"(^|[^a-z])(priv(ate)?[-_ ]?)?key([^a-z]|$)", re.IGNORECASE)


def _misplaced_certificates(material: Material) -> list[str]:
    """Inputs named like the key's place (key.pem, privkey.pem, "private key") that hold
    certificates: the usual reason no key is found."""
    return [
        i.name
        for i in material.inputs
        if i.kind in {"certificate", "pkcs7"} and _KEY_SLOT.search(i.name.rsplit("/", 1)[-1])
    ]


def _no_leaf_findings(material: Material) -> list[Finding]:
    """Without a leaf the keys can still be judged, so an 8192-bit key alone is named."""
    found: list[Finding] = []
    for sourced in material.keys:
        try:
            description = describe_public_key(sourced.key.public_key())
        except (ValueError, TypeError):
            continue
        policy = key_policy_finding(description, f"The private key ({sourced.source})")
        if policy is not None:
            found.append(policy)
    return found


def _trust(options: ValidateOptions) -> TrustStore:
    return TrustStore(extra_roots=list(options.extra_roots))


def _leaf_is_first(leaf: x509.Certificate, material: Material) -> bool:
    """Whether the leaf came first in its own file: order matters inside a bundle, not
    between files named in any order on a command line."""
    source = next(sc.source for sc in material.certificates if sc.cert == leaf)
    same_file = [sc.cert for sc in material.certificates if sc.source == source]
    return same_file[0] == leaf


def _chain(
    leaf: x509.Certificate, material: Material, options: ValidateOptions, now: dt.datetime
) -> ChainResult:
    candidates = [sc.cert for sc in material.certificates if sc.cert != leaf]
    return build_chain(
        leaf,
        candidates,
        trust=_trust(options),
        now=now,
        fetch_missing=options.fetch_missing,
        fetcher=options.fetcher,
        leaf_is_first=_leaf_is_first(leaf, material),
    )


def _private_anchor(result: ChainResult, options: ValidateOptions) -> bool:
    """An uploaded private root, or a root the team named with --trust-store."""
    if result.anchor == ANCHOR_PRIVATE_ROOT:
        return True
    return bool(result.links) and result.links[-1].cert in options.extra_roots


def _unreadable_part(cert: x509.Certificate) -> str | None:
    """The part of a certificate that cannot be parsed, if any.

    `cryptography` parses names, extensions and the key lazily: a certificate with a
    damaged subject loads, then raises when it is first read. Touch every part once
    here so that no check meets the error later.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # non-conforming encodings: judged, not printed
        for part in ("subject", "issuer", "extensions", "not_valid_after_utc"):
            try:
                getattr(cert, part)
            except Exception:  # ValueError, DuplicateExtension, UnsupportedGeneralNameType...
                return part.removesuffix("_utc").replace("_", " ")
        try:
            cert.public_key()
        except UnsupportedAlgorithm:
            return None  # an unknown key type is the key policy's to report
        except Exception:
            return "public key"
    return None


def _split_readable(material: Material) -> tuple[list[SourcedCertificate], list[Finding]]:
    readable: list[SourcedCertificate] = []
    damaged: list[Finding] = []
    for sourced in material.certificates:
        part = _unreadable_part(sourced.cert)
        if part is None:
            readable.append(sourced)
        else:
            damaged.append(
                finding(
                    "unrecognized_file",
                    f"{sourced.source}: a certificate in it is damaged (its {part} cannot be "
                    "read); it was left out.",
                )
            )
    return readable, damaged


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple[str, str]] = set()
    result: list[Finding] = []
    for f in findings:
        if (f.code, f.message) not in seen:
            seen.add((f.code, f.message))
            result.append(f)
    return result


# Reading findings that refuse a file (or its certificate) before it could be used.
REFUSED_CODES = frozenset(
    {"kdf_cost_too_high", "unsupported_encryption", "too_many_certificates", "malformed_extension"}
)
REFUSED_KEY_CODES = frozenset({"kdf_cost_too_high", "unsupported_encryption"})


def _refused_inputs(material: Material, codes: frozenset[str] = REFUSED_CODES) -> list[str]:
    names = [f.input for f in material.findings if f.code in codes and f.input]
    return list(dict.fromkeys(names))


def _explain_locked(found: list[Finding], material: Material) -> list[Finding]:
    """ "No certificate was given" is wrong when a file could not be opened: say which."""
    locked = locked_inputs(material.findings)
    refused = _refused_inputs(material)
    if locked:
        replacement = finding(
            "no_certificate",
            f"No certificate could be read: {', '.join(locked)} could not be opened "
            "(see the password finding).",
            hint="Give the right password; the certificate is probably in that file.",
        )
    elif refused:
        replacement = finding(
            "no_certificate",
            f"No usable certificate: {', '.join(refused)} was refused or left out (see the "
            "finding about it).",
            hint="Do what that finding says; the certificate is probably in that file.",
        )
    else:
        return found
    return [replacement if f.code == "no_certificate" else f for f in found]


def _key_findings(leaf: x509.Certificate, material: Material) -> list[Finding]:
    """The platform's key rule on the leaf, then which given key belongs to it."""
    where = label(leaf)
    policy = key_policy_finding(describe_certificate_key(leaf), where[:1].upper() + where[1:])
    match = match_key(
        leaf,
        material.keys,
        leaf_label=where,
        key_policy_ok=policy is None,
        misplaced_certificates=_misplaced_certificates(material),
    )
    found = [policy] if policy is not None else []
    locked = locked_inputs(material.findings)
    refused = _refused_inputs(material, REFUSED_KEY_CODES)
    for f in match.findings:
        if f.code == "no_private_key" and locked:
            f = finding(
                "no_private_key",
                f"No private key could be read: {', '.join(locked)} could not be opened "
                "(see the password finding).",
                hint="Give the right password; the key is probably in that file.",
            )
        elif f.code == "no_private_key" and refused:
            f = finding(
                "no_private_key",
                f"No private key could be read: {', '.join(refused)} was refused unread "
                "(see the finding about it).",
                hint="Export that file again as its finding says; the key is probably in it.",
            )
        found.append(f)
    return found


def _leaf_and_chain(
    leaf: x509.Certificate, material: Material, options: ValidateOptions, now: dt.datetime
) -> tuple[list[Finding], list[ChainEntry]]:
    """Everything about a chosen leaf: key, leaf checks, chain, lifetime rule."""
    findings = [*_key_findings(leaf, material), *check_leaf(leaf, now=now)]
    chain: list[ChainEntry] = []
    private_root = False
    if not signs_itself(leaf):  # a self-signed leaf has no chain: self_signed says it all
        result = _chain(leaf, material, options, now)
        findings += result.findings
        chain = [ChainEntry(link.cert, link.source) for link in result.links if link.cert != leaf]
        private_root = _private_anchor(result, options)
    too_long = validity_length_finding(leaf, private_root=private_root)
    if too_long is not None:
        findings.append(too_long)
    return findings, chain


def _extra_requests_are_warnings(findings: list[Finding]) -> list[Finding]:
    """A CSR beside the certificate it produced is not in the certificate's place.

    People upload the whole folder their CA or certbot left them, CSR included; when the
    certificate itself is there, the CSR is ignored and said so, not made an error.
    """
    return [
        Finding(
            f.code,
            Severity.WARNING,
            f"{f.message}; it was ignored, the certificate itself was given",
            "Nothing to do: the CSR is not needed once you have the certificate.",
        )
        if f.code == "certificate_request" and f.severity is Severity.ERROR
        else f
        for f in findings
    ]


def validate_material(material: Material, options: ValidateOptions = ValidateOptions()) -> Report:
    """Check material already read: leaf choice, key, leaf checks, chain, Domain.

    Never raises for any material the readers produce: a certificate that cannot be
    parsed in full is left out with a finding.
    """
    now = options.now or dt.datetime.now(dt.UTC)
    findings: list[Finding] = list(material.findings)
    domain: Domain | None = parse_domain(options.domain) if options.domain else None
    if domain is not None and domain.finding is not None:
        findings.append(domain.finding)

    readable, damaged = _split_readable(material)
    findings += damaged
    material = Material(readable, material.keys, material.inputs, material.findings)
    choice = choose_leaf([sc.cert for sc in readable], [k.key for k in material.keys], domain)
    findings += _explain_locked(choice.findings, material)
    leaf = choice.leaf
    chain: list[ChainEntry] = []
    if leaf is None:
        findings += _no_leaf_findings(material)
    else:
        findings = _extra_requests_are_warnings(findings)
        leaf_findings, chain = _leaf_and_chain(leaf, material, options, now)
        findings += leaf_findings + domain_findings(leaf, domain)
    return Report(
        findings=_dedupe(findings),
        leaf=leaf,
        chain=chain,
        inputs=list(material.inputs),
        now=now,
        name=options.name,
        domain=domain.canonical if domain is not None and domain.canonical else None,
    )
