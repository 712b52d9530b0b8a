"""The trust store: which roots a chain may end at.

Browsers trust their own root programs; certifi's bundle (Mozilla's roots) is the
closest portable stand-in, plus whatever extra roots a team names with `--trust-store`
(a private PKI). certifi's bundle is parsed once per process, lazily, certificate by
certificate: a few of its roots carry serial number 0, which `cryptography` loads with a
deprecation warning today and may refuse tomorrow, and one unreadable root must never
make every validation fail.

Lookups are by the DER of the subject name (the issuer name of the certificate being
chained), so finding the issuer of a certificate costs one dict access, not a scan over
a hundred roots; a second index on a normalised form of the name catches issuers whose
names were encoded differently (PrintableString against UTF8String, case).
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import verification

_PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----\s.*?-----END CERTIFICATE-----", re.DOTALL)


_SHA256 = hashes.SHA256()


class TrustStoreError(ValueError):
    """A `--trust-store` file that holds no certificate we can read."""


def name_key(name: x509.Name) -> str:
    """A comparison key for names that tolerates encoding differences (RFC 5280 7.1
    compares case-insensitively after whitespace folding)."""
    return " ".join(name.rfc4514_string().casefold().split())


def spki_der(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def certificates_from_pem(data: bytes) -> list[x509.Certificate]:
    """Every readable certificate of a PEM bundle, skipping (not failing on) bad ones.

    Each block is loaded alone, with warnings silenced, so a root with a non-conforming
    encoding (serial number 0) costs only itself.
    """
    found: list[x509.Certificate] = []
    for block in _PEM_BLOCK.findall(data):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                found.append(x509.load_pem_x509_certificate(block))
            except ValueError:
                continue
    return found


@functools.cache
def certifi_roots() -> tuple[x509.Certificate, ...]:
    """certifi's roots, parsed once per process (certifi itself imported then too)."""
    import certifi

    with open(certifi.where(), "rb") as bundle:
        return tuple(certificates_from_pem(bundle.read()))


@dataclass
class _Index:
    by_der: dict[bytes, list[x509.Certificate]] = field(default_factory=dict)
    by_key: dict[str, list[x509.Certificate]] = field(default_factory=dict)
    fingerprints: set[bytes] = field(default_factory=set)

    def add(self, cert: x509.Certificate) -> None:
        fingerprint = cert.fingerprint(_SHA256)
        if fingerprint in self.fingerprints:
            return
        self.fingerprints.add(fingerprint)
        self.by_der.setdefault(cert.subject.public_bytes(), []).append(cert)
        self.by_key.setdefault(name_key(cert.subject), []).append(cert)

    def named(self, name: x509.Name) -> list[x509.Certificate]:
        exact = self.by_der.get(name.public_bytes())
        if exact is not None:
            return exact
        return self.by_key.get(name_key(name), [])


def _build_index(certs: Iterable[x509.Certificate]) -> _Index:
    index = _Index()
    for cert in certs:
        index.add(cert)
    return index


@functools.cache
def _certifi_index() -> _Index:
    return _build_index(certifi_roots())


class TrustStore:
    """Trusted roots: certifi's (unless `include_certifi=False`) plus `extra_roots`.

    Anything in the store is a trust anchor, self-signed or not: a team that trusts its
    own intermediate may name it with `--trust-store`.
    """

    def __init__(
        self,
        extra_roots: Sequence[x509.Certificate] = (),
        *,
        include_certifi: bool = True,
    ) -> None:
        self.include_certifi = include_certifi
        self.extra_roots: tuple[x509.Certificate, ...] = tuple(extra_roots)
        self._extras = _build_index(self.extra_roots)
        self._store: verification.Store | None = None

    @classmethod
    def from_pem(
        cls, data: bytes, *, include_certifi: bool = True, source: str = "the trust store"
    ) -> TrustStore:
        """A store with the roots of a `--trust-store` file (PEM bundle or one DER
        certificate) added to certifi's."""
        roots = certificates_from_pem(data)
        if not roots:
            try:
                roots = [x509.load_der_x509_certificate(data)]
            except ValueError:
                roots = []
        if not roots:
            raise TrustStoreError(f"{source} holds no readable certificate (PEM or DER)")
        return cls(roots, include_certifi=include_certifi)

    def _indexes(self) -> Iterator[_Index]:
        yield self._extras
        if self.include_certifi:
            yield _certifi_index()

    def named(self, name: x509.Name) -> list[x509.Certificate]:
        """The trusted certificates whose subject is `name` (extras first)."""
        found: list[x509.Certificate] = []
        for index in self._indexes():
            found.extend(index.named(name))
        return found

    def issuers_named_by(self, cert: x509.Certificate) -> list[x509.Certificate]:
        """Trusted certificates whose subject is `cert`'s issuer name (signature not
        checked: the chain builder does that)."""
        return self.named(cert.issuer)

    def equivalent(self, cert: x509.Certificate) -> x509.Certificate | None:
        """The trusted certificate with `cert`'s subject and public key, if any: the same
        CA even when the uploaded copy was re-encoded or re-issued with other dates."""
        candidates = self.named(cert.subject)
        if not candidates:
            return None
        key = spki_der(cert)
        for candidate in candidates:
            if candidate == cert or spki_der(candidate) == key:
                return candidate
        return None

    def __contains__(self, cert: object) -> bool:
        if not isinstance(cert, x509.Certificate):
            return False
        fingerprint = cert.fingerprint(_SHA256)
        return any(fingerprint in index.fingerprints for index in self._indexes())

    def __iter__(self) -> Iterator[x509.Certificate]:
        yield from self.extra_roots
        if self.include_certifi:
            yield from certifi_roots()

    def __len__(self) -> int:
        return sum(len(index.fingerprints) for index in self._indexes())

    def store(self) -> verification.Store:
        """All roots as a `cryptography` Store, built once per TrustStore.

        The chain module verifies against a one-anchor Store of the anchor it found, which
        is cheaper; this is for callers that want cryptography to search on its own.
        """
        if self._store is None:
            if not self.extra_roots and self.include_certifi:
                self._store = _certifi_store()
            else:
                self._store = verification.Store(list(self))
        return self._store


@functools.cache
def _certifi_store() -> verification.Store:
    return verification.Store(list(certifi_roots()))
