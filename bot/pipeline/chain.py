"""Chain building, trust and path verification: from a leaf and a heap of uploaded
certificates to an ordered chain, a trust verdict and findings that say what to fix.

People upload chains in every order, with duplicates, with their whole CA bundle, with
a root or without, and sometimes without the intermediate. So the chain is *built*, not
read: from the leaf, each issuer is looked for by name and proven by signature (the
AuthorityKeyIdentifier is only used to try the likeliest candidate first), preferring a
trusted root as soon as one signs the top of the path (the way browsers stop at the
first anchor, which also makes cross-signed copies of a root unnecessary).

Every path that reaches an anchor is verified as soon as it is found, and the search
goes on when it fails: two versions of an intermediate (name-constrained or not,
cross-signed by two roots, renewed), or several roots with one name, give several paths,
and the chain is valid when any of them verifies, as browsers' path builders do. The
search is bounded: candidates per certificate (`MAX_CANDIDATES`), complete paths
verified (`MAX_PATHS`), signatures checked (`MAX_STEPS`) and depth (`MAX_DEPTH`). Only
when none verifies is the best failed path reported, named when several were tried.

Each path is handed, alone, to `cryptography`'s WebPKI verifier with a
one-anchor store, which checks the CA side strictly (CA flags, path length, name
constraints, key usage, CA validity, signature algorithms). The leaf's own problems (no
SAN, missing serverAuth, a critical SAN, its dates, its signature hash) are the leaf
checks' to report, so the verifier is built to let them through: the end-entity
extension policy only asks for what server verification needs, the validation time is
moved inside the leaf's validity when the leaf is out of date, and a leaf without a
usable DNS name, or with a SHA-1/MD5 signature, is verified another way (see
`verify_found_path`).

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

from bot.pipeline.aia import FetchError, HttpIssuerFetcher, IssuerFetcher, ca_issuers_urls
from bot.pipeline.chain_certs import (
    ANCHOR_NONE,
    ANCHOR_PRIVATE_ROOT,
    ANCHOR_TRUST_STORE,
    authority_key_id,
    by_key_id,
    describe,
    names_match,
    readable_names,
    self_signed,
    signed_by,
    subject_key_id,
    verify_signature,
)
from bot.pipeline.chain_messages import (
    broken_finding,
    duplicates_finding,
    extras_finding,
    incomplete_finding,
    order_finding,
    path_tried_note,
    private_root_finding,
    untrusted_fetched_root_finding,
)
from bot.pipeline.chain_verify import MAX_DEPTH, check_cas, verifier_finding, verify_found_path
from bot.pipeline.findings import Finding, finding
from bot.pipeline.trust import TrustStore

__all__ = [
    "ANCHOR_NONE",
    "ANCHOR_PRIVATE_ROOT",
    "ANCHOR_TRUST_STORE",
    "ChainLink",
    "ChainResult",
    "IssuerFetcher",
    "build_chain",
    "describe",
    "signed_by",
]

UPLOADED, TRUST_STORE, FETCHED = "uploaded", "trust_store", "fetched"


MAX_FETCHES = 4  # issuers fetched from AIA, one level each


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
    paths_tried: int = 0  # anchored paths verified by the search (at most MAX_PATHS)

    def served_chain(self) -> list[x509.Certificate]:
        """Leaf and intermediates in order, as a server should send them: without
        self-signed roots, with fetched issuers."""
        return [link.cert for link in self.links if not self_signed(link.cert)] or [
            self.links[0].cert
        ]


# --- path search ---------------------------------------------------------------------


Problem = tuple[str, Finding]  # (kind, finding), as check_cas gives them


@dataclass
class _Path:
    links: list[ChainLink]
    end: str  # "trust_store" | "private_root" | "self_signed_leaf" | "missing" | "broken"
    near_misses: list[x509.Certificate] = field(default_factory=list)
    problems: list[Problem] | None = None  # None until an anchored path is verified
    verdict: tuple[str, str] | None = None  # the verifier's, when it refused the path
    anchored: bool = False  # ends at a trusted or uploaded root (not a fetched one)

    @property
    def valid(self) -> bool:
        return self.anchored and self.problems == [] and self.verdict is None

    def rank(self) -> tuple[int, int, int, int]:
        """Lower is better: a verified path, then trust store over private root over a
        broken or missing issuer, then fewer problems, then longer (got further)."""
        order = {"trust_store": 0, "private_root": 1, "broken": 2, "missing": 3}
        failures = len(self.problems or []) + (self.verdict is not None) + (not self.anchored)
        return (0 if self.valid else 1, order.get(self.end, 4), failures, -len(self.links))


def _anchor_link(root: x509.Certificate, pool: list[x509.Certificate]) -> ChainLink:
    """The trusted root as a link; the uploaded copy when the upload holds the same one."""
    for cert in pool:
        if cert == root:
            return ChainLink(cert, UPLOADED)
    return ChainLink(root, TRUST_STORE)


MAX_STEPS = 64  # certificates tried while searching: caps a crafted upload's cost
MAX_CANDIDATES = 8  # issuers tried for one certificate (uploaded, and trusted roots)
MAX_PATHS = 16  # complete paths verified before the best failure is reported


@dataclass
class _Search:
    """Depth-first search for a path that verifies, with backtracking over every
    alternative (cross-signed copies, renewed or constrained CAs, several roots) within
    a budget of steps and verified paths."""

    pool: list[x509.Certificate]
    trust: TrustStore
    now: dt.datetime
    steps: int = 0
    judged: list[_Path] = field(default_factory=list)
    cut: bool = False  # a bound left candidates untried
    readable: list[x509.Certificate] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.readable = [c for c in self.pool if readable_names(c)]

    @property
    def exhausted(self) -> bool:
        return self.steps >= MAX_STEPS or len(self.judged) >= MAX_PATHS

    def bounded(self, candidates: list[x509.Certificate]) -> list[x509.Certificate]:
        if len(candidates) > MAX_CANDIDATES:
            self.cut = True
        return candidates[:MAX_CANDIDATES]

    def judge(self, links: list[ChainLink], end: str) -> _Path:
        """Verify an anchored path now: the search goes on when it fails."""
        certs = [link.cert for link in links]
        anchor = ANCHOR_TRUST_STORE if end == "trust_store" else ANCHOR_PRIVATE_ROOT
        if links[-1].source == FETCHED and end == "private_root":
            anchor = ANCHOR_NONE  # a fetched root is no anchor (see build_chain)
        problems = check_cas(certs, anchor=anchor, now=self.now)
        verdict = verify_found_path(certs, now=self.now) if anchor != ANCHOR_NONE else None
        if verdict is not None and verdict[0] in {kind for kind, _ in problems}:
            verdict = None  # already named precisely by check_cas
        path = _Path(links, end, problems=problems, verdict=verdict)
        path.anchored = anchor != ANCHOR_NONE
        self.judged.append(path)
        return path

    def walk(self, path: list[ChainLink]) -> _Path:
        """Extend `path` upwards until a verified anchored path, or return the best
        failure among the alternatives (an anchored path that broke a rule, a
        self-signed root, a dead end)."""
        top = path[-1].cert
        best: _Path | None = None

        def keep(result: _Path) -> None:
            nonlocal best
            if best is None or result.rank() < best.rank():
                best = result

        roots = [r for r in by_key_id(top, self.trust.issuers_named_by(top)) if r != top]
        for root in self.bounded(roots):  # a self-signed leaf in the store: no chain
            if self.exhausted:
                self.cut = True
                break
            self.steps += 1
            if verify_signature(top, root):
                result = self.judge([*path, _anchor_link(root, self.pool)], "trust_store")
                if result.valid:
                    return result
                keep(result)
        if top.subject == top.issuer and verify_signature(top, top):
            if len(path) == 1:
                return _Path(path, "self_signed_leaf")
            keep(self.judge(path, "private_root"))
            assert best is not None
            return best
        if len(path) > MAX_DEPTH:
            keep(_Path(path, "missing"))
            assert best is not None
            return best
        on_path = {link.cert for link in path}
        named = [
            c
            for c in self.pool
            if c in self.readable and names_match(c.subject, top.issuer) and c not in on_path
        ]
        near: list[x509.Certificate] = []
        for candidate in self.bounded(by_key_id(top, named)):
            if self.exhausted:
                self.cut = True
                break
            self.steps += 1
            if not verify_signature(top, candidate):
                near.append(candidate)
                continue
            result = self.walk([*path, ChainLink(candidate, UPLOADED)])
            if result.valid and result.end == "trust_store":
                return result
            keep(result)
        if best is not None:
            return best
        aki = authority_key_id(top)
        for candidate in near:
            if aki is not None and aki == subject_key_id(candidate):
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
    if not readable_names(leaf):
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
        findings.append(duplicates_finding(duplicates))

    search = _Search(pool, trust, now)
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
            findings.append(untrusted_fetched_root_finding(links[-1].cert))
        else:
            findings.append(private_root_finding(links[-1].cert))
    elif path.end == "missing":
        findings.append(incomplete_finding(links[-1].cert, path.near_misses, completion.failures))
    elif path.end == "broken":
        findings.append(broken_finding(links[-2].cert, links[-1].cert))

    if path.end != "self_signed_leaf":
        certs = [link.cert for link in links]
        if path.problems is None:  # not anchored: the CA rules that can still be named
            path.problems = check_cas(certs, anchor=anchor, now=now)
        problems = [f for _, f in path.problems]
        if path.verdict is not None:
            problems.append(verifier_finding(path.verdict, certs))
        if problems and len(search.judged) > 1:
            problems[0] = path_tried_note(problems[0], certs, len(search.judged), search.cut)
        findings += problems
        trusted = anchor != ANCHOR_NONE and path.valid

    if extras:
        findings.append(extras_finding(extras, links[-1].cert))
    uploaded_path = [link.cert for link in links[1:] if link.source == UPLOADED]
    order = order_finding(leaf, candidates, uploaded_path, leaf_is_first)
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
        links=links,
        findings=findings,
        trusted=trusted,
        fetched=fetched,
        anchor=anchor,
        paths_tried=len(search.judged),
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
        issuers = [c for c in by_key_id(top, certs) if signed_by(top, c)]
        if issuers:
            return issuers[0], url, []
        names = ", ".join(describe(c) for c in certs) or "nothing"
        failures.append(f"{url} holds {names}, which did not issue {describe(top)}")
    return None, "", failures
