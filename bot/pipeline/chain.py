"""Chain building, trust and path verification: from a leaf and a heap of uploaded
certificates to an ordered chain, a trust verdict and findings that say what to fix.

People upload chains in every order, with duplicates, with their whole CA bundle, with
a root or without, and sometimes without the intermediate. So the chain is *built*, not
read: from the leaf, each issuer is looked for by name and proven by signature (the
AuthorityKeyIdentifier is only used to try the likeliest candidate first), preferring a
trusted root as soon as one signs the top of the path (the way browsers stop at the
first anchor, which also makes cross-signed copies of a root unnecessary).

The path found is then handed, alone, to `cryptography`'s WebPKI verifier with a
one-anchor store, which checks the CA side strictly (CA flags, path length, name
constraints, key usage, CA validity, signature algorithms). The leaf's own problems (no
SAN, missing serverAuth, a critical SAN, its dates, its signature hash) are the leaf
checks' to report, so the verifier is built to let them through: the end-entity
extension policy only asks for what server verification needs, the validation time is
moved inside the leaf's validity when the leaf is out of date, and a leaf without a
usable DNS name, or with a SHA-1/MD5 signature, is verified another way (see
`_verify`).

Decisions:
- `ChainResult.links` always ends at the anchor when one was found, with its source.
  When the upload held the very certificate of the trusted root, the link keeps
  source "uploaded"; `ChainResult.anchor` says how the chain is anchored.
- An uploaded self-signed root that is not in the trust store anchors the chain as a
  private root (warning `private_root`), and stays in `links`. `served_chain()` (what a
  server should send) leaves every self-signed root out: clients never use a root
  sent by the server.
- A self-signed leaf has no chain: no chain finding (the leaf checks say `self_signed`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509 import verification
from cryptography.x509.oid import ExtensionOID, SignatureAlgorithmOID

from bot.pipeline.aia import FetchError, HttpIssuerFetcher, IssuerFetcher, ca_issuers_urls
from bot.pipeline.findings import Finding, finding
from bot.pipeline.trust import TrustStore, name_key

__all__ = [
    "ChainLink",
    "ChainResult",
    "IssuerFetcher",
    "build_chain",
    "describe",
    "signed_by",
]

UPLOADED, TRUST_STORE, FETCHED = "uploaded", "trust_store", "fetched"

# Anchors (ChainResult.anchor)
ANCHOR_TRUST_STORE = "trust_store"
ANCHOR_PRIVATE_ROOT = "private_root"
ANCHOR_NONE = "none"

MAX_DEPTH = 8  # certificates above the leaf; real chains have 1-3
MAX_FETCHES = 4  # issuers fetched from AIA, one level each

_WEAK_HASHES = (hashes.SHA1, hashes.MD5)
# What a damaged certificate raises when a lazily parsed part (names, extensions) is
# first used; such a certificate is reported, never allowed to raise out of here.
_PARSE_ERRORS = (
    ValueError,
    TypeError,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
    UnsupportedAlgorithm,
)
_SHA256 = hashes.SHA256()


@dataclass(frozen=True)
class ChainLink:
    cert: x509.Certificate
    source: str  # "uploaded" | "trust_store" | "fetched"


@dataclass
class ChainResult:
    links: list[ChainLink]  # leaf first, then each issuer, ending at the anchor if found
    findings: list[Finding]
    trusted: bool  # a path to an anchor (trusted or private root) was found and verified
    fetched: list[x509.Certificate] = field(default_factory=list)
    anchor: str = ANCHOR_NONE  # "trust_store" | "private_root" | "none"

    def served_chain(self) -> list[x509.Certificate]:
        """Leaf and intermediates in order, as a server should send them: without
        self-signed roots, with fetched issuers."""
        return [link.cert for link in self.links if not _self_signed(link.cert)] or [
            self.links[0].cert
        ]


def describe(cert: x509.Certificate) -> str:
    """A short quoted name for messages: the common name, else the whole DN."""
    try:
        cns = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        if cns:
            value = cns[0].value
            text = value if isinstance(value, str) else value.decode(errors="replace")
        else:
            text = cert.subject.rfc4514_string() or "(empty subject)"
    except _PARSE_ERRORS:
        text = f"(unreadable name, SHA-256 {_fp(cert).hex()[:16]}…)"
    return f"“{text}”"


def _readable_names(cert: x509.Certificate) -> bool:
    """Subject and issuer are parsed lazily: a damaged name raises on first use."""
    try:
        cert.subject.public_bytes()
        cert.issuer.public_bytes()
    except _PARSE_ERRORS:
        return False
    return True


# --- signatures and extensions -------------------------------------------------------


def _verify_signature(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Does `issuer`'s key verify `cert`'s signature? Any hash, SHA-1 and MD5 included:
    `verify_directly_issued_by` refuses those, and a weak link must still be found to be
    reported as weak rather than as missing."""
    signature, tbs = cert.signature, cert.tbs_certificate_bytes
    try:
        key = issuer.public_key()
        hash_alg = cert.signature_hash_algorithm
        if isinstance(key, rsa.RSAPublicKey):
            params = cert.signature_algorithm_parameters
            pad = params if isinstance(params, padding.PSS) else padding.PKCS1v15()
            if hash_alg is None:
                return False
            key.verify(signature, tbs, pad, hash_alg)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            if hash_alg is None:
                return False
            key.verify(signature, tbs, ec.ECDSA(hash_alg))
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(signature, tbs)
        elif isinstance(key, dsa.DSAPublicKey):
            if hash_alg is None:
                return False
            key.verify(signature, tbs, hash_alg)
        else:
            return False
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return True


def _names_match(subject: x509.Name, issuer_name: x509.Name) -> bool:
    return subject == issuer_name or name_key(subject) == name_key(issuer_name)


def signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """`issuer` issued `cert`: names match and the signature verifies."""
    return _names_match(issuer.subject, cert.issuer) and _verify_signature(cert, issuer)


def _self_signed(cert: x509.Certificate) -> bool:
    return cert.subject == cert.issuer and _verify_signature(cert, cert)


def _ext(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> x509.ExtensionType | None:
    try:
        return cert.extensions.get_extension_for_oid(oid).value
    except (x509.ExtensionNotFound, *_PARSE_ERRORS):
        return None


def _aki(cert: x509.Certificate) -> bytes | None:
    value = _ext(cert, ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
    return value.key_identifier if isinstance(value, x509.AuthorityKeyIdentifier) else None


def _ski(cert: x509.Certificate) -> bytes | None:
    value = _ext(cert, ExtensionOID.SUBJECT_KEY_IDENTIFIER)
    return value.digest if isinstance(value, x509.SubjectKeyIdentifier) else None


def _key_id_rank(child: x509.Certificate, candidate: x509.Certificate) -> int:
    """0: the key identifiers match; 1: one is missing; 2: they differ."""
    aki, ski = _aki(child), _ski(candidate)
    if aki is None or ski is None:
        return 1
    return 0 if aki == ski else 2


def _by_key_id(
    child: x509.Certificate, candidates: list[x509.Certificate]
) -> list[x509.Certificate]:
    if len(candidates) < 2:
        return candidates
    return sorted(candidates, key=lambda c: _key_id_rank(child, c))


def _weak_hash(cert: x509.Certificate) -> str | None:
    try:
        hash_alg = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return None
    return (
        hash_alg.name.upper().replace("SHA1", "SHA-1")
        if isinstance(hash_alg, _WEAK_HASHES)
        else None
    )


def _fp(cert: x509.Certificate) -> bytes:
    return cert.fingerprint(_SHA256)


# --- path search ---------------------------------------------------------------------


@dataclass
class _Path:
    links: list[ChainLink]
    end: str  # "trust_store" | "private_root" | "self_signed_leaf" | "missing" | "broken"
    near_misses: list[x509.Certificate] = field(default_factory=list)

    def rank(self) -> tuple[int, int]:
        order = {"trust_store": 0, "private_root": 1, "broken": 2, "missing": 3}
        return (order.get(self.end, 4), -len(self.links))


def _anchor_link(root: x509.Certificate, pool: list[x509.Certificate]) -> ChainLink:
    """The trusted root as a link; the uploaded copy when the upload holds the same one."""
    for cert in pool:
        if cert == root:
            return ChainLink(cert, UPLOADED)
    return ChainLink(root, TRUST_STORE)


MAX_STEPS = 64  # certificates tried while searching: caps a crafted upload's cost


@dataclass
class _Search:
    """Depth-first search for the path, with backtracking over uploaded alternatives
    (cross-signed copies, renewed CAs) and a budget of steps."""

    pool: list[x509.Certificate]
    trust: TrustStore
    steps: int = 0
    readable: list[x509.Certificate] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.readable = [c for c in self.pool if _readable_names(c)]

    def walk(self, path: list[ChainLink]) -> _Path:
        """Extend `path` upwards until an anchor, a self-signed root or a dead end."""
        top = path[-1].cert
        for root in _by_key_id(top, self.trust.issuers_named_by(top)):
            if root == top:
                continue  # a self-signed leaf named in the trust store: still no chain
            if _verify_signature(top, root):
                return _Path([*path, _anchor_link(root, self.pool)], "trust_store")
        if top.subject == top.issuer and _verify_signature(top, top):
            return _Path(path, "self_signed_leaf" if len(path) == 1 else "private_root")
        if len(path) > MAX_DEPTH:
            return _Path(path, "missing")
        on_path = {link.cert for link in path}
        named = [
            c
            for c in self.pool
            if c in self.readable and _names_match(c.subject, top.issuer) and c not in on_path
        ]
        best: _Path | None = None
        near: list[x509.Certificate] = []
        for candidate in _by_key_id(top, named):
            self.steps += 1
            if self.steps > MAX_STEPS:
                break
            if not _verify_signature(top, candidate):
                near.append(candidate)
                continue
            result = self.walk([*path, ChainLink(candidate, UPLOADED)])
            if result.end == "trust_store":
                return result
            if best is None or result.rank() < best.rank():
                best = result
        if best is not None:
            return best
        aki = _aki(top)
        for candidate in near:
            if aki is not None and aki == _ski(candidate):
                # Same name, same key identifier, yet the signature fails: a damaged or
                # forged certificate, not merely another version of the CA.
                return _Path([*path, ChainLink(candidate, UPLOADED)], "broken", near)
        return _Path(path, "missing", near)


# --- the entry point -----------------------------------------------------------------


def build_chain(
    leaf: x509.Certificate,
    candidates: Sequence[x509.Certificate],
    *,
    trust: TrustStore,
    now: dt.datetime,
    fetch_missing: bool = False,
    fetcher: IssuerFetcher | None = None,
    leaf_is_first: bool = True,
) -> ChainResult:
    """Build, diagnose and verify the chain of `leaf` from the uploaded `candidates`.

    `candidates`: every uploaded certificate other than the leaf, in upload order.
    `leaf_is_first`: whether the leaf came first in the upload (else: `chain_order`).
    """
    now = now if now.tzinfo is not None else now.replace(tzinfo=dt.UTC)
    if not _readable_names(leaf):
        return ChainResult(
            links=[ChainLink(leaf, UPLOADED)],
            findings=[
                finding(
                    "chain_invalid",
                    f"The names in {describe(leaf)} cannot be read (damaged encoding), so its "
                    "issuer cannot be found.",
                    hint="Download the certificate again from your CA.",
                )
            ],
            trusted=False,
        )
    findings: list[Finding] = []
    pool, duplicates = _dedupe(leaf, candidates)
    if duplicates:
        findings.append(_duplicates_finding(duplicates))

    search = _Search(pool, trust)
    path = search.walk([ChainLink(leaf, UPLOADED)])
    completion = _Completion(path)
    if path.end == "missing" and fetch_missing:
        completion = _complete(path, search, fetcher or HttpIssuerFetcher())
        path = completion.path
    fetched = [cert for cert, _ in completion.fetched]

    links = path.links
    on_path = {link.cert for link in links}
    # Certificates with the issuer's name that did not sign are explained by the
    # chain_incomplete message; every other certificate off the path is an extra.
    explained = path.near_misses if path.end == "missing" else []
    extras = [c for c in pool if c not in on_path and c not in explained]

    anchor = ANCHOR_NONE
    trusted = False
    if path.end == "trust_store":
        anchor = ANCHOR_TRUST_STORE
    elif path.end == "private_root":
        anchor = ANCHOR_PRIVATE_ROOT
        if links[-1].source == FETCHED:
            anchor = ANCHOR_NONE
            findings.append(_untrusted_fetched_root(links[-1].cert))
        else:
            findings.append(_private_root_finding(links[-1].cert))
    elif path.end == "missing":
        findings.append(_incomplete_finding(links[-1].cert, path.near_misses, completion.failures))
    elif path.end == "broken":
        findings.append(_broken_finding(links[-2].cert, links[-1].cert))

    if path.end != "self_signed_leaf":
        problems = _check_cas(links, anchor=anchor, now=now)
        findings += [f for _, f in problems]
        if anchor != ANCHOR_NONE:
            verdict = _verify(links, now=now)
            reported = {kind for kind, _ in problems}
            if verdict is not None and verdict[0] not in reported:
                findings.append(_verifier_finding(verdict, links))
            trusted = not problems and verdict is None

    if extras:
        findings.append(_extras_finding(extras, links))
    order = _order_finding(leaf, candidates, links, leaf_is_first)
    if order is not None:
        findings.append(order)
    for cert, url in completion.fetched:
        findings.append(
            finding(
                "chain_completed",
                f"The missing issuer {describe(cert)} was fetched from {url} and "
                "checked: it signed the certificate below it.",
            )
        )
    return ChainResult(
        links=links, findings=findings, trusted=trusted, fetched=fetched, anchor=anchor
    )


def _dedupe(
    leaf: x509.Certificate, candidates: Sequence[x509.Certificate]
) -> tuple[list[x509.Certificate], list[x509.Certificate]]:
    """Unique candidates in upload order, and the copies dropped (leaf copies included).

    A candidate whose names cannot be read stays in the pool (it is reported as an
    extra) but can never be matched as an issuer."""
    seen = {leaf}  # certificates compare (and hash) by their DER
    pool: list[x509.Certificate] = []
    duplicates: list[x509.Certificate] = []
    for cert in candidates:
        if cert in seen:
            duplicates.append(cert)
            continue
        seen.add(cert)
        pool.append(cert)
    return pool, duplicates


# --- AIA completion ------------------------------------------------------------------


@dataclass
class _Completion:
    path: _Path
    fetched: list[tuple[x509.Certificate, str]] = field(default_factory=list)  # (cert, url)
    failures: list[str] = field(default_factory=list)


def _complete(path: _Path, search: _Search, fetcher: IssuerFetcher) -> _Completion:
    """Fetch missing issuers level by level until an anchor or a failure."""
    done = _Completion(path)
    for _ in range(MAX_FETCHES):
        if done.path.end != "missing":
            break
        top = done.path.links[-1].cert
        issuer, url, done.failures = _fetch_issuer(top, fetcher)
        if issuer is None:
            break
        done.fetched.append((issuer, url))
        done.path = search.walk([*done.path.links, ChainLink(issuer, FETCHED)])
    return done


def _fetch_issuer(
    top: x509.Certificate, fetcher: IssuerFetcher
) -> tuple[x509.Certificate | None, str, list[str]]:
    urls = ca_issuers_urls(top)
    if not urls:
        return None, "", [f"{describe(top)} names no CA issuers URL to fetch it from"]
    failures: list[str] = []
    for url in urls:
        try:
            certs = list(fetcher(url))
        except FetchError as exc:
            failures.append(f"fetching {url} failed: {exc}")
            continue
        issuers = [c for c in _by_key_id(top, certs) if signed_by(top, c)]
        if issuers:
            return issuers[0], url, []
        names = ", ".join(describe(c) for c in certs) or "nothing"
        failures.append(f"{url} holds {names}, which did not issue {describe(top)}")
    return None, "", failures


# --- checks on the CA side -----------------------------------------------------------


def _role(cert: x509.Certificate) -> str:
    return "root" if cert.subject == cert.issuer else "intermediate CA"


def _check_cas(
    links: list[ChainLink], *, anchor: str, now: dt.datetime
) -> list[tuple[str, Finding]]:
    """Problems of the certificates above the leaf that we can name precisely ourselves
    (the verifier says only *that* something broke, not *which* certificate)."""
    problems: list[tuple[str, Finding]] = []
    last = len(links) - 1
    for index, link in enumerate(links[1:], start=1):
        cert, child = link.cert, links[index - 1].cert
        trusted_anchor = index == last and anchor == ANCHOR_TRUST_STORE
        # A root's self-signature proves nothing and is never checked by clients.
        top_root = index == last and cert.subject == cert.issuer
        weak = None if trusted_anchor or top_root else _weak_hash(cert)
        if weak:
            problems.append(
                (
                    "weak",
                    finding(
                        "weak_signature",
                        f"The {_role(cert)} {describe(cert)} is signed with {weak}, which "
                        "browsers reject.",
                    ),
                )
            )
        constraints = _ext(cert, ExtensionOID.BASIC_CONSTRAINTS)
        is_ca = isinstance(constraints, x509.BasicConstraints) and constraints.ca
        if not is_ca and not trusted_anchor:
            problems.append(
                (
                    "ca_flag",
                    finding(
                        "chain_invalid",
                        f"{_cap(describe(cert))} issued {describe(child)} but is not a CA: "
                        "its basicConstraints do not say CA:TRUE.",
                    ),
                )
            )
        usage = _ext(cert, ExtensionOID.KEY_USAGE)
        if isinstance(usage, x509.KeyUsage) and not usage.key_cert_sign and not trusted_anchor:
            problems.append(
                (
                    "key_usage",
                    finding(
                        "chain_invalid",
                        f"{_cap(describe(cert))} issued {describe(child)} but its keyUsage "
                        "does not allow signing certificates (keyCertSign).",
                    ),
                )
            )
        # Intermediate CAs between this one and the leaf; self-issued ones (key
        # rollover) do not count (RFC 5280 4.2.1.9).
        below = sum(1 for link in links[1:index] if link.cert.subject != link.cert.issuer)
        if (
            isinstance(constraints, x509.BasicConstraints)
            and constraints.path_length is not None
            and below > constraints.path_length
        ):
            names = ", ".join(describe(link.cert) for link in links[1:index])
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
        problems += _validity_problems(cert, now)
    return problems


def _validity_problems(cert: x509.Certificate, now: dt.datetime) -> list[tuple[str, Finding]]:
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
                f"The {_role(cert)} {describe(cert)} {text}.",
                hint="Get the current chain from your CA and upload it instead.",
            ),
        )
    ]


# --- verification with cryptography ---------------------------------------------------

_EE_SERVER = verification.ExtensionPolicy.permit_all().require_present(
    x509.SubjectAlternativeName, verification.Criticality.AGNOSTIC, None
)
_EE_ANY = verification.ExtensionPolicy.permit_all()
# WebPKI rules for CAs, except that keyUsage may be absent: RFC 5280 path validation and
# browsers (Chrome, Mozilla) only require keyCertSign *when* keyUsage is present, and
# private roots made with `openssl req -x509` often have none. `_check_cas` checks
# keyCertSign itself when keyUsage is there.
_CA_POLICY = verification.ExtensionPolicy.webpki_defaults_ca().may_be_present(
    x509.KeyUsage, verification.Criticality.AGNOSTIC, None
)
# For client-mode verification only: a CA restricted to serverAuth must not fail for
# lacking clientAuth (the verifier would otherwise check the CA against clientAuth).
_CA_ANY_EKU = _CA_POLICY.may_be_present(
    x509.ExtendedKeyUsage, verification.Criticality.AGNOSTIC, None
)


def _verification_time(links: list[ChainLink], now: dt.datetime) -> dt.datetime:
    """`now` when every certificate is valid then; else the nearest moment when all are
    (or at least the leaf is): the leaf's dates are the leaf checks' to report, and the
    CAs' dates are checked at `now` by `_check_cas`, so neither may hide what else is
    wrong with the path."""
    certs = [link.cert for link in links]
    start = max(c.not_valid_before_utc for c in certs)
    end = min(c.not_valid_after_utc for c in certs)
    if start > end:
        start, end = certs[0].not_valid_before_utc, certs[0].not_valid_after_utc
    return min(max(now, start), end)


def _server_subjects(leaf: x509.Certificate) -> list[x509.DNSName | x509.IPAddress]:
    """Names to verify the leaf as a server for: its SANs, a wildcard made concrete."""
    san = _ext(leaf, ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
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


def _verify(links: list[ChainLink], *, now: dt.datetime) -> tuple[str, str] | None:
    """Run cryptography's verifier on the path found; None when it passes, else
    (kind, detail). Only the path itself is given, with a one-anchor store, so the
    verifier's error is about this path and nothing else."""
    if len(links) < 2:
        return None
    when = _verification_time(links, now)
    if not _weak_hash(links[0].cert):
        verdict = _verify_path(links, when)
        if verdict is None or verdict[0] != "validity" or when == now:
            return verdict
    # A SHA-1/MD5 leaf (refused outright), or a leaf whose dates cannot be fitted with
    # its CAs': check the CA part, from the first intermediate up, at `now`.
    return _verify_ca_part(links, now)


def _verify_path(links: list[ChainLink], when: dt.datetime) -> tuple[str, str] | None:
    leaf, anchor = links[0].cert, links[-1].cert
    intermediates = [link.cert for link in links[1:-1]]
    builder = _builder(anchor, when)
    try:
        for subject in _server_subjects(leaf):
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
    except (verification.VerificationError, *_PARSE_ERRORS) as exc:
        return _classify(str(exc))
    return None


def _verify_ca_part(links: list[ChainLink], now: dt.datetime) -> tuple[str, str] | None:
    if len(links) < 3:
        return None  # the leaf hangs directly from the anchor: nothing above to check
    first, rest, anchor = links[1].cert, [link.cert for link in links[2:-1]], links[-1].cert
    client = _builder(anchor, now).extension_policies(ca_policy=_CA_ANY_EKU, ee_policy=_EE_ANY)
    try:
        client.build_client_verifier().verify(first, rest)
    except (verification.VerificationError, *_PARSE_ERRORS) as exc:
        return _classify(str(exc))
    return None


_KINDS = (
    ("basicconstraints.ca", "ca_flag"),
    ("path length", "path_len"),
    ("name constraint", "name_constraints"),
    ("not valid at validation time", "validity"),
    ("forbidden signature algorithm", "weak"),
    ("forbidden public key algorithm", "key_algorithm"),
    ("eku", "eku"),
    ("2.5.29.15", "key_usage"),
    ("key usage", "key_usage"),
    ("signature", "signature"),
)


def _classify(message: str) -> tuple[str, str]:
    detail = message.split(" (encountered processing", 1)[0]
    for prefix in ("validation failed: ", "candidates exhausted: "):
        if detail.startswith(prefix):
            detail = detail[len(prefix) :]
    lowered = detail.lower()
    for needle, kind in _KINDS:
        if needle in lowered:
            return kind, detail
    return "other", detail


def _leaf_names(leaf: x509.Certificate) -> str:
    san = _ext(leaf, ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    if not isinstance(san, x509.SubjectAlternativeName):
        return "(none)"
    names = [str(v) for v in san.get_values_for_type(x509.DNSName)]
    names += [str(v) for v in san.get_values_for_type(x509.IPAddress)]
    return ", ".join(names) or "(none)"


def _subtrees(trees: list[x509.GeneralName] | None) -> str:
    return ", ".join(str(tree.value) for tree in trees or []) or "none"


def _verifier_finding(verdict: tuple[str, str], links: list[ChainLink]) -> Finding:
    kind, detail = verdict
    leaf = links[0].cert
    cas = [link.cert for link in links[1:]]
    if kind == "name_constraints":
        constrained = [
            (c, v)
            for c in cas
            if isinstance(v := _ext(c, ExtensionOID.NAME_CONSTRAINTS), x509.NameConstraints)
        ]
        where = "; ".join(
            f"{describe(c)} (permitted: {_subtrees(v.permitted_subtrees)}; excluded: "
            f"{_subtrees(v.excluded_subtrees)})"
            for c, v in constrained
        )
        return finding(
            "chain_invalid",
            f"Name constraints violated: the names of {describe(leaf)} ({_leaf_names(leaf)}) "
            f"are not allowed by {where or 'a CA of the chain'}.",
            hint="Ask the CA for a certificate within its permitted names, or use another CA.",
        )
    if kind == "eku":
        return finding(
            "chain_invalid",
            "A CA of the chain limits its extended key usage and does not include "
            "serverAuth, so it may not issue server certificates "
            f"({', '.join(describe(c) for c in cas if _ext(c, ExtensionOID.EXTENDED_KEY_USAGE))}).",
        )
    if kind == "key_usage":
        return finding(
            "chain_invalid",
            f"A CA certificate of the chain has a missing or wrong keyUsage ({detail}); "
            "CA certificates need keyUsage with keyCertSign.",
        )
    if kind == "key_algorithm":
        odd_keys = [c for c in cas if not isinstance(_public_key(c), _BROWSER_CA_KEYS)]
        named = ", ".join(f"{describe(c)} (key type {_key_name(c)})" for c in odd_keys)
        return finding(
            "chain_invalid",
            "A CA of the chain has a key type browsers do not accept"
            + (f": {named}." if named else f" ({detail})."),
            hint="Use a CA whose keys are RSA or ECDSA.",
        )
    if kind == "weak":
        odd = [c for c in [leaf, *cas[:-1]] if not _browser_signature(c)]
        named = ", ".join(f"{describe(c)} is signed with {_signature_name(c)}" for c in odd)
        return finding(
            "chain_invalid",
            "A signature algorithm in the chain is not accepted by browsers"
            + (f": {named}." if named else f" ({detail})."),
            hint="Use a CA whose certificates are signed with RSA or ECDSA and SHA-256 or stronger.",
        )
    if kind == "signature":
        return finding("chain_invalid", f"A signature in the chain does not verify ({detail}).")
    return finding("chain_invalid", f"The chain breaks a rule of certificate paths: {detail}.")


_BROWSER_SIGNATURES = {
    SignatureAlgorithmOID.RSA_WITH_SHA256,
    SignatureAlgorithmOID.RSA_WITH_SHA384,
    SignatureAlgorithmOID.RSA_WITH_SHA512,
    SignatureAlgorithmOID.RSASSA_PSS,
    SignatureAlgorithmOID.ECDSA_WITH_SHA256,
    SignatureAlgorithmOID.ECDSA_WITH_SHA384,
    SignatureAlgorithmOID.ECDSA_WITH_SHA512,
}


_BROWSER_CA_KEYS = (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)


def _public_key(cert: x509.Certificate) -> object:
    try:
        return cert.public_key()
    except (UnsupportedAlgorithm, ValueError):
        return None


def _key_name(cert: x509.Certificate) -> str:
    key = _public_key(cert)
    if key is None:
        return "unsupported"
    return type(key).__name__.removesuffix("PublicKey").removeprefix("_") or "unknown"


def _browser_signature(cert: x509.Certificate) -> bool:
    return cert.signature_algorithm_oid in _BROWSER_SIGNATURES


def _signature_name(cert: x509.Certificate) -> str:
    oid = cert.signature_algorithm_oid
    name = getattr(oid, "_name", "")
    return name if name and name != "Unknown OID" else oid.dotted_string


# --- findings ------------------------------------------------------------------------


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


MAX_NAMED = 10  # certificates named in one message; the rest are counted


def _names(certs: Sequence[x509.Certificate]) -> str:
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


def _duplicates_finding(duplicates: list[x509.Certificate]) -> Finding:
    return finding("chain_duplicate", f"Repeated certificates were dropped: {_names(duplicates)}.")


def _extras_finding(extras: list[x509.Certificate], links: list[ChainLink]) -> Finding:
    top = links[-1].cert
    notes = []
    for cert in extras[:MAX_NAMED]:
        note = describe(cert)
        if _readable_names(cert) and cert.subject == top.subject:
            note += " (another version of the CA the chain ends at)"
        notes.append(note)
    if len(extras) > MAX_NAMED:
        notes.append(f"and {len(extras) - MAX_NAMED} more")
    return finding(
        "chain_extra_certificates",
        f"Certificates that are not part of this chain were dropped: {', '.join(notes)}.",
    )


def _order_finding(
    leaf: x509.Certificate,
    candidates: Sequence[x509.Certificate],
    links: list[ChainLink],
    leaf_is_first: bool,
) -> Finding | None:
    path = [link.cert for link in links[1:] if link.source == UPLOADED]
    wanted = set(path)
    uploaded: list[x509.Certificate] = []
    for cert in candidates:
        if cert in wanted and cert not in uploaded:
            uploaded.append(cert)
    if leaf_is_first and uploaded == path:
        return None
    ordered = [f"{describe(leaf)} (leaf)"] + [
        describe(link.cert) for link in links[1:] if link.source == UPLOADED
    ]
    return finding("chain_order", f"The chain was put in order: {' → '.join(ordered)}.")


def _private_root_finding(root: x509.Certificate) -> Finding:
    return finding(
        "private_root",
        f"The chain ends at {describe(root)}, an uploaded root that is not in the trust "
        "store: only clients that have this root installed will trust the certificate.",
    )


def _untrusted_fetched_root(root: x509.Certificate) -> Finding:
    return finding(
        "chain_incomplete",
        f"The chain ends at {describe(root)}, a root fetched from a CA issuers URL that is "
        "not in the trust store: there is no path to a trusted root.",
        hint="If your organisation trusts this root, add it with --trust-store; for public "
        "sites use a certificate from a public CA.",
    )


def _incomplete_finding(
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
            f" The upload holds {_names(near_misses)} with that name, but it did not sign "
            f"{describe(top)} (another key: an older or newer version of that CA?)."
        )
    if failures:
        message += " " + _cap("; ".join(failures)) + "."
    hint = ""  # the catalog's default
    if urls:
        hint = f"Add the missing intermediate to the upload; it can be downloaded from {urls[0]}."
    return finding("chain_incomplete", message, hint=hint)


CATALOG_HINT_INCOMPLETE = ""  # empty: the catalog's default hint


def _broken_finding(child: x509.Certificate, issuer: x509.Certificate) -> Finding:
    return finding(
        "chain_invalid",
        f"Bad signature: the signature of {describe(child)} does not verify with the key of "
        f"{describe(issuer)}, although their names and key identifiers match: one of them "
        "is damaged or was altered.",
    )
