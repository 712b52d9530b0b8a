"""Verifying the path found: our own named checks of the CA side, then
`cryptography`'s WebPKI verifier on exactly that path with a one-anchor store.

The leaf's own problems belong to the leaf checks, so the verifier is built to let them
through (see `verify_found_path`), each relaxed rule named by the leaf checks
(`leaf_rules`); keyUsage may be absent on CAs as RFC 5280 and browsers allow, and
keyCertSign is checked here when it is present, on every CA of the path, trusted root
included (Chromium and Mozilla refuse a root whose keyUsage lacks it).

`cryptography`'s verifier counts self-issued certificates (a CA's key rollover: the old
key signing the new one under the same name) towards pathLenConstraint, which RFC 5280
4.2.1.9 does not, and then reports "signature does not match" from another candidate it
tried. A path holding a self-issued CA is therefore verified in segments split at each
self-issued certificate (`_verify_segments`); the path length is ours (`check_cas`).
"""

from __future__ import annotations

import datetime as dt
import itertools

from cryptography import x509
from cryptography.x509 import verification
from cryptography.x509.oid import ExtensionOID

from bot.pipeline.chain_certs import (
    ANCHOR_TRUST_STORE,
    BROWSER_CA_KEYS,
    PARSE_ERRORS,
    browser_signature,
    cap,
    describe,
    extension,
    key_name,
    public_key_of,
    role,
    signature_name,
    weak_hash,
)
from bot.pipeline.findings import Finding, finding
from bot.pipeline.leaf_rules import extension_name, unprocessed_critical

MAX_DEPTH = 8  # certificates above the leaf; real chains have 1-3


def check_cas(
    certs: list[x509.Certificate], *, anchor: str, now: dt.datetime
) -> list[tuple[str, Finding]]:
    """Problems of the certificates above the leaf that we can name precisely ourselves
    (the verifier says only *that* something broke, not *which* certificate)."""
    problems: list[tuple[str, Finding]] = []
    last = len(certs) - 1
    for index, cert in enumerate(certs[1:], start=1):
        child = certs[index - 1]
        trusted_anchor = index == last and anchor == ANCHOR_TRUST_STORE
        # A root's self-signature proves nothing and is never checked by clients.
        top_root = index == last and cert.subject == cert.issuer
        weak = None if trusted_anchor or top_root else weak_hash(cert)
        if weak:
            problems.append(
                (
                    "weak",
                    finding(
                        "weak_signature",
                        f"The {role(cert)} {describe(cert)} is signed with {weak}, which "
                        "browsers reject.",
                    ),
                )
            )
        constraints = extension(cert, ExtensionOID.BASIC_CONSTRAINTS)
        is_ca = isinstance(constraints, x509.BasicConstraints) and constraints.ca
        if not is_ca and not trusted_anchor:
            problems.append(
                (
                    "ca_flag",
                    finding(
                        "chain_invalid",
                        f"{cap(describe(cert))} issued {describe(child)} but is not a CA: "
                        "its basicConstraints do not say CA:TRUE.",
                    ),
                )
            )
        usage = extension(cert, ExtensionOID.KEY_USAGE)
        if isinstance(usage, x509.KeyUsage) and not usage.key_cert_sign:
            which = "trusted root" if trusted_anchor else role(cert)
            problems.append(
                (
                    "key_usage",
                    finding(
                        "chain_invalid",
                        f"The {which} {describe(cert)} issued {describe(child)} but its "
                        f"keyUsage ({key_usage_names(usage)}) lacks keyCertSign, the bit "
                        "that allows signing certificates.",
                    ),
                )
            )
        # Intermediate CAs between this one and the leaf; self-issued ones (key
        # rollover) do not count (RFC 5280 4.2.1.9).
        below = sum(1 for ca in certs[1:index] if ca.subject != ca.issuer)
        if (
            isinstance(constraints, x509.BasicConstraints)
            and constraints.path_length is not None
            and below > constraints.path_length
        ):
            names = ", ".join(describe(ca) for ca in certs[1:index])
            problems.append(
                (
                    "path_len",
                    finding(
                        "chain_invalid",
                        f"Path length exceeded: {describe(cert)} allows "
                        f"{constraints.path_length} intermediate CA(s) below it "
                        f"(pathLenConstraint), but the chain has {below} ({names}).",
                    ),
                )
            )
        problems += validity_problems(cert, now)
    return problems


_USAGE_BITS = (
    ("digital_signature", "digitalSignature"),
    ("content_commitment", "nonRepudiation"),
    ("key_encipherment", "keyEncipherment"),
    ("data_encipherment", "dataEncipherment"),
    ("key_agreement", "keyAgreement"),
    ("key_cert_sign", "keyCertSign"),
    ("crl_sign", "cRLSign"),
)


def key_usage_names(usage: x509.KeyUsage) -> str:
    return ", ".join(name for attr, name in _USAGE_BITS if getattr(usage, attr)) or "none"


def validity_problems(cert: x509.Certificate, now: dt.datetime) -> list[tuple[str, Finding]]:
    if cert.not_valid_after_utc < now:
        text = f"expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
    elif cert.not_valid_before_utc > now:
        text = f"is not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC"
    else:
        return []
    return [
        (
            "validity",
            finding(
                "chain_invalid",
                f"The {role(cert)} {describe(cert)} {text}.",
                hint="Get the current chain from your CA and upload it instead.",
            ),
        )
    ]


# --- verification with cryptography ---------------------------------------------------

_AGNOSTIC = verification.Criticality.AGNOSTIC
# The WebPKI end-entity policy with exactly the rules the leaf checks report themselves
# relaxed (each one named there, see `leaf_rules`): SAN criticality, keyUsage
# (keyCertSign), name constraints, a critical authorityInfoAccess, CA:TRUE, the extended
# key usage (no_server_auth) and a missing authorityKeyIdentifier. Anything else the
# library refuses in a leaf still fails here.
EE_RELAXED = (
    verification.ExtensionPolicy.webpki_defaults_ee()
    .may_be_present(x509.AuthorityKeyIdentifier, _AGNOSTIC, None)
    .may_be_present(x509.KeyUsage, _AGNOSTIC, None)
    .may_be_present(x509.NameConstraints, _AGNOSTIC, None)
    .may_be_present(x509.AuthorityInformationAccess, _AGNOSTIC, None)
    .may_be_present(x509.BasicConstraints, _AGNOSTIC, None)
    .may_be_present(x509.ExtendedKeyUsage, _AGNOSTIC, None)
)
_EE_SERVER = EE_RELAXED.require_present(x509.SubjectAlternativeName, _AGNOSTIC, None)
_EE_ANY = EE_RELAXED.may_be_present(x509.SubjectAlternativeName, _AGNOSTIC, None)
# A CA certificate checked as the end of a path segment (key rollover, the CA part of a
# path whose leaf cannot be verified): anything goes for it as an end entity, its CA
# rules are `check_cas`'s and the segment above's.
_EE_CA = verification.ExtensionPolicy.permit_all()
# WebPKI rules for CAs, except that keyUsage may be absent: RFC 5280 path validation and
# browsers (Chrome, Mozilla) only require keyCertSign *when* keyUsage is present, and
# private roots made with `openssl req -x509` often have none. `check_cas` checks
# keyCertSign itself when keyUsage is there.
_CA_POLICY = verification.ExtensionPolicy.webpki_defaults_ca().may_be_present(
    x509.KeyUsage, verification.Criticality.AGNOSTIC, None
)
# For client-mode verification only: a CA restricted to serverAuth must not fail for
# lacking clientAuth (the verifier would otherwise check the CA against clientAuth).
_CA_ANY_EKU = _CA_POLICY.may_be_present(
    x509.ExtendedKeyUsage, verification.Criticality.AGNOSTIC, None
)


def verification_time(certs: list[x509.Certificate], now: dt.datetime) -> dt.datetime:
    """`now` when every certificate is valid then; else the nearest moment when all are
    (or at least the leaf is): the leaf's dates are the leaf checks' to report, and the
    CAs' dates are checked at `now` by `check_cas`, so neither may hide what else is
    wrong with the path."""
    start = max(c.not_valid_before_utc for c in certs)
    end = min(c.not_valid_after_utc for c in certs)
    if start > end:
        start, end = certs[0].not_valid_before_utc, certs[0].not_valid_after_utc
    return min(max(now, start), end)


def server_subjects(leaf: x509.Certificate) -> list[x509.DNSName | x509.IPAddress]:
    """Names to verify the leaf as a server for: its SANs, a wildcard made concrete."""
    san = extension(leaf, ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    if not isinstance(san, x509.SubjectAlternativeName):
        return []
    subjects: list[x509.DNSName | x509.IPAddress] = []
    for name in san.get_values_for_type(x509.DNSName):
        host = "wildcard-check" + name[1:] if name.startswith("*.") else name
        try:
            subjects.append(x509.DNSName(host))
        except ValueError:
            continue  # not a name the verifier can take (the leaf checks judge it)
    subjects += [x509.IPAddress(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return subjects


def _builder(anchor: x509.Certificate, when: dt.datetime) -> verification.PolicyBuilder:
    return (
        verification.PolicyBuilder()
        .store(verification.Store([anchor]))
        .time(when)
        .max_chain_depth(MAX_DEPTH + 1)
    )


def verify_found_path(certs: list[x509.Certificate], *, now: dt.datetime) -> tuple[str, str] | None:
    """Run cryptography's verifier on the path found; None when it passes, else
    (kind, detail). Only the path itself is given, with a one-anchor store, so the
    verifier's error is about this path and nothing else."""
    if len(certs) < 2:
        return None
    when = verification_time(certs, now)
    if not weak_hash(certs[0]) and not unprocessed_critical(certs[0]):
        verdict = _verify_whole_path(certs, when)
        if verdict is not None and self_issued_splits(certs):
            verdict = _verify_segments(certs, when)
        if verdict is None or verdict[0] != "validity" or when == now:
            return verdict
    # A SHA-1/MD5 leaf or one with a critical extension clients do not process (refused
    # outright; the leaf checks name it), or a leaf whose dates cannot be fitted with its
    # CAs': check the CA part, from the first intermediate up, at `now`.
    return _verify_ca_part(certs, now)


def self_issued_splits(certs: list[x509.Certificate]) -> list[int]:
    """Positions of self-issued CAs strictly between the leaf and the anchor."""
    return [i for i in range(1, len(certs) - 1) if certs[i].subject == certs[i].issuer]


def _verify_segments(certs: list[x509.Certificate], when: dt.datetime) -> tuple[str, str] | None:
    """Verify a key-rollover path piece by piece: the leaf up to the first self-issued
    CA (its anchor), then each self-issued CA up to the next one or the real anchor.

    Name constraints above the first self-issued CA would not be applied to the leaf's
    names that way: such a path is refused precisely rather than judged half-checked.
    """
    splits = self_issued_splits(certs)
    above = [c for c in certs[splits[0] :] if extension(c, ExtensionOID.NAME_CONSTRAINTS)]
    if above:
        return (
            "rollover_constraints",
            f"the path holds the self-issued (key rollover) certificate "
            f"{describe(certs[splits[0]])}, which cryptography's verifier refuses, and the "
            f"name constraints of {', '.join(describe(c) for c in above)} cannot be checked "
            "across it without that verifier",
        )
    bounds = [*splits, len(certs) - 1]
    verdict = _verify_whole_path(certs[: bounds[0] + 1], when)
    for low, high in itertools.pairwise(bounds):
        if verdict is not None:
            break
        segment = certs[low : high + 1]
        verdict = _verify_as_end_entity(segment[0], segment[1:-1], segment[-1], when)
    return verdict


def _verify_as_end_entity(
    first: x509.Certificate,
    rest: list[x509.Certificate],
    anchor: x509.Certificate,
    when: dt.datetime,
) -> tuple[str, str] | None:
    """Verify the CA certificate `first` up to `anchor` (client mode: no host name)."""
    client = _builder(anchor, when).extension_policies(ca_policy=_CA_ANY_EKU, ee_policy=_EE_CA)
    try:
        client.build_client_verifier().verify(first, rest)
    except (verification.VerificationError, *PARSE_ERRORS) as exc:
        return classify(str(exc))
    return None


def _verify_whole_path(certs: list[x509.Certificate], when: dt.datetime) -> tuple[str, str] | None:
    leaf, anchor, intermediates = certs[0], certs[-1], certs[1:-1]
    builder = _builder(anchor, when)
    try:
        for subject in server_subjects(leaf):
            try:
                server = builder.extension_policies(
                    ca_policy=_CA_POLICY, ee_policy=_EE_SERVER
                ).build_server_verifier(subject)
            except ValueError:
                continue  # a SAN the verifier cannot take as a subject: try the next
            server.verify(leaf, intermediates)
            return None
        # No usable SAN (the leaf checks report it): verify without a server name.
        client = builder.extension_policies(ca_policy=_CA_ANY_EKU, ee_policy=_EE_ANY)
        client.build_client_verifier().verify(leaf, intermediates)
    except (verification.VerificationError, *PARSE_ERRORS) as exc:
        return classify(str(exc))
    return None


def _verify_ca_part(certs: list[x509.Certificate], now: dt.datetime) -> tuple[str, str] | None:
    if len(certs) < 3:
        return None  # the leaf hangs directly from the anchor: nothing above to check
    return _verify_as_end_entity(certs[1], certs[2:-1], certs[-1], now)


_KINDS = (
    ("basicconstraints.ca", "ca_flag"),
    ("path length", "path_len"),
    ("name constraint", "name_constraints"),
    ("not valid at validation time", "validity"),
    ("forbidden signature algorithm", "weak"),
    ("forbidden public key algorithm", "key_algorithm"),
    ("eku", "eku"),
    ("unaccounted-for critical", "critical_extension"),
    ("2.5.29.15", "key_usage"),
    ("key usage", "key_usage"),
    ("signature", "signature"),
)


def classify(message: str) -> tuple[str, str]:
    detail = message.split(" (encountered processing", 1)[0]
    for prefix in ("validation failed: ", "candidates exhausted: "):
        if detail.startswith(prefix):
            detail = detail[len(prefix) :]
    lowered = detail.lower()
    for needle, kind in _KINDS:
        if needle in lowered:
            return kind, detail
    return "other", detail


def leaf_names(leaf: x509.Certificate) -> str:
    san = extension(leaf, ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    if not isinstance(san, x509.SubjectAlternativeName):
        return "(none)"
    names = [str(v) for v in san.get_values_for_type(x509.DNSName)]
    names += [str(v) for v in san.get_values_for_type(x509.IPAddress)]
    return ", ".join(names) or "(none)"


def subtrees(trees: list[x509.GeneralName] | None) -> str:
    return ", ".join(str(tree.value) for tree in trees or []) or "none"


def verifier_finding(verdict: tuple[str, str], certs: list[x509.Certificate]) -> Finding:
    kind, detail = verdict
    leaf, cas = certs[0], certs[1:]
    if kind == "name_constraints":
        constrained = [
            (c, v)
            for c in cas
            if isinstance(v := extension(c, ExtensionOID.NAME_CONSTRAINTS), x509.NameConstraints)
        ]
        where = "; ".join(
            f"{describe(c)} (permitted: {subtrees(v.permitted_subtrees)}; excluded: "
            f"{subtrees(v.excluded_subtrees)})"
            for c, v in constrained
        )
        return finding(
            "chain_invalid",
            f"Name constraints violated: the names of {describe(leaf)} ({leaf_names(leaf)}) "
            f"are not allowed by {where or 'a CA of the chain'}.",
            hint="Ask the CA for a certificate within its permitted names, or use another CA.",
        )
    if kind == "eku":
        return finding(
            "chain_invalid",
            "A CA of the chain limits its extended key usage and does not include "
            "serverAuth, so it may not issue server certificates "
            f"({', '.join(describe(c) for c in cas if extension(c, ExtensionOID.EXTENDED_KEY_USAGE))}).",
        )
    if kind == "key_usage":
        return finding(
            "chain_invalid",
            f"A CA certificate of the chain has a missing or wrong keyUsage ({detail}); "
            "CA certificates need keyUsage with keyCertSign.",
        )
    if kind == "key_algorithm":
        odd_keys = [c for c in cas if not isinstance(public_key_of(c), BROWSER_CA_KEYS)]
        named = ", ".join(f"{describe(c)} (key type {key_name(c)})" for c in odd_keys)
        return finding(
            "chain_invalid",
            "A CA of the chain has a key type browsers do not accept"
            + (f": {named}." if named else f" ({detail})."),
            hint="Use a CA whose keys are RSA or ECDSA.",
        )
    if kind == "weak":
        odd = [c for c in [leaf, *cas[:-1]] if not browser_signature(c)]
        named = ", ".join(f"{describe(c)} is signed with {signature_name(c)}" for c in odd)
        return finding(
            "chain_invalid",
            "A signature algorithm in the chain is not accepted by browsers"
            + (f": {named}." if named else f" ({detail})."),
            hint="Use a CA whose certificates are signed with RSA or ECDSA and SHA-256 or stronger.",
        )
    if kind == "signature":
        # Every link of a path the search hands over was proven by signature already, so
        # the verifier's "signature does not match" is about a path it built itself from
        # these certificates, not about a bad signature: say what was refused, no more.
        return finding(
            "chain_invalid",
            f"cryptography's WebPKI verifier refused this path ({detail}), although each "
            "signature on it verifies with its issuer's key: the path breaks a rule of that "
            "verifier that certops cannot name more precisely.",
            hint="Check the chain with `openssl verify -untrusted chain.pem` and ask your CA.",
        )
    if kind == "critical_extension":
        named = "; ".join(
            f"{describe(ca)} marks {', '.join(extension_name(e.oid) for e in exts)} critical"
            for ca in cas
            if (exts := unprocessed_critical(ca, ca=True))
        )
        return finding(
            "chain_invalid",
            "A CA of the chain has a critical extension clients do not process, so they "
            "refuse the chain" + (f": {named}." if named else f" ({detail})."),
        )
    if kind == "rollover_constraints":
        return finding("chain_invalid", f"The chain could not be verified: {detail}.")
    return finding("chain_invalid", f"The chain breaks a rule of certificate paths: {detail}.")
