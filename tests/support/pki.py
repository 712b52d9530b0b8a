"""A small PKI for tests, built with `cryptography`.

Tests also build fixtures with the `openssl` command line (see tests/support/openssl_pki.py) so
that our own code never grades only what our own library produced.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


@functools.cache
def rsa_key(bits: int = 2048, index: int = 0) -> rsa.RSAPrivateKey:
    """RSA keys are slow to make: cache them by size and an index for distinct keys."""
    del index
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@functools.cache
def ec_key(curve: str = "P-256", index: int = 0) -> ec.EllipticCurvePrivateKey:
    del index
    curves = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}
    return ec.generate_private_key(curves[curve])


def name(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def _hash_for(
    key: PrivateKey, algorithm: hashes.HashAlgorithm | None
) -> hashes.HashAlgorithm | None:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
    return algorithm or hashes.SHA256()


@dataclass
class Issued:
    cert: x509.Certificate
    key: PrivateKey

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    def key_pem(self, password: bytes | None = None, fmt: str = "pkcs8") -> bytes:
        return key_pem(self.key, password=password, fmt=fmt)


def key_pem(key: PrivateKey, password: bytes | None = None, fmt: str = "pkcs8") -> bytes:
    formats = {
        "pkcs8": serialization.PrivateFormat.PKCS8,
        "traditional": serialization.PrivateFormat.TraditionalOpenSSL,
    }
    enc: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, formats[fmt], enc)


@dataclass
class CA:
    """A certificate authority that can issue intermediates and leaves."""

    issued: Issued
    path_len: int | None = None
    serial: int = 1000
    children: list[Issued] = field(default_factory=list)

    @property
    def cert(self) -> x509.Certificate:
        return self.issued.cert

    @property
    def key(self) -> PrivateKey:
        return self.issued.key

    @classmethod
    def root(
        cls,
        cn: str = "Test Root CA",
        key: PrivateKey | None = None,
        path_len: int | None = None,
        not_after: dt.datetime | None = None,
        permitted_dns: list[str] | None = None,
        hash_alg: hashes.HashAlgorithm | None = None,
    ) -> CA:
        key = key or ec_key("P-256", index=hash(cn) % 1000)
        subject = name(cn, "certops tests")
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - dt.timedelta(days=365))
            .not_valid_after(not_after or NOW + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_len), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
        )
        if permitted_dns:
            builder = builder.add_extension(
                x509.NameConstraints([x509.DNSName(d) for d in permitted_dns], None),
                critical=True,
            )
        cert = builder.sign(key, _hash_for(key, hash_alg))
        return cls(Issued(cert, key), path_len)

    def _builder(
        self,
        subject: x509.Name,
        public_key: object,
        not_before: dt.datetime,
        not_after: dt.datetime,
    ) -> x509.CertificateBuilder:
        self.serial += 1
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.cert.subject)
            .public_key(public_key)  # type: ignore[arg-type]
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),  # type: ignore[arg-type]
                critical=False,
            )
        )

    def intermediate(
        self,
        cn: str = "Test Intermediate CA",
        key: PrivateKey | None = None,
        path_len: int | None = None,
        ca: bool = True,
        aia_url: str | None = None,
        hash_alg: hashes.HashAlgorithm | None = None,
        permitted_dns: list[str] | None = None,
        not_after: dt.datetime | None = None,
    ) -> CA:
        key = key or ec_key("P-256", index=(hash(cn) % 1000) + 1)
        builder = (
            self._builder(
                name(cn, "certops tests"),
                key.public_key(),
                NOW - dt.timedelta(days=300),
                not_after or NOW + dt.timedelta(days=3000),
            )
            .add_extension(
                x509.BasicConstraints(ca=ca, path_length=path_len if ca else None), critical=True
            )
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
        )
        if aia_url:
            builder = builder.add_extension(_aia(aia_url), critical=False)
        if permitted_dns:
            builder = builder.add_extension(
                x509.NameConstraints([x509.DNSName(d) for d in permitted_dns], None),
                critical=True,
            )
        cert = builder.sign(self.key, _hash_for(self.key, hash_alg))
        return CA(Issued(cert, key), path_len)

    def leaf(
        self,
        sans: list[str] | None = None,
        cn: str | None = None,
        key: PrivateKey | None = None,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        days: int = 90,
        hash_alg: hashes.HashAlgorithm | None = None,
        eku: list[x509.ObjectIdentifier] | None = None,
        include_san: bool = True,
        critical_san: bool = False,
        ca: bool = False,
        aia_url: str | None = None,
    ) -> Issued:
        sans = ["app.example.com"] if sans is None else sans
        key = key or rsa_key(2048)
        not_before = not_before or NOW - dt.timedelta(days=1)
        not_after = not_after or not_before + dt.timedelta(days=days)
        subject = name(cn or (sans[0] if sans else "leaf"))
        builder = self._builder(subject, key.public_key(), not_before, not_after)
        builder = builder.add_extension(
            x509.BasicConstraints(ca=ca, path_length=None), critical=True
        )
        if include_san:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=critical_san
            )
        ekus = [ExtendedKeyUsageOID.SERVER_AUTH] if eku is None else eku
        if ekus:
            builder = builder.add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
        if aia_url:
            builder = builder.add_extension(_aia(aia_url), critical=False)
        cert = builder.sign(self.key, _hash_for(self.key, hash_alg))
        issued = Issued(cert, key)
        self.children.append(issued)
        return issued


def _aia(url: str) -> x509.AuthorityInformationAccess:
    return x509.AuthorityInformationAccess(
        [
            x509.AccessDescription(
                x509.AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(url)
            )
        ]
    )


def self_signed_leaf(sans: list[str], key: PrivateKey | None = None) -> Issued:
    key = key or rsa_key(2048)
    subject = name(sans[0])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False)
        .sign(key, _hash_for(key, None))
    )
    return Issued(cert, key)


def pem_bundle(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


# -- for the caps and the malformed-extension tests, and a key that makes cryptography panic


def make_small_cert() -> x509.Certificate:
    """A self-signed EC P-256 certificate of about 500 bytes as PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "c.example")])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )


def _short_iv_key(cipher_iv_hex_len: int = 26) -> bytes:
    """A traditional encrypted EC key whose DEK-Info IV is cut short (13 of 16 bytes)."""
    import re

    pem = key_pem(ec_key("P-256", 77), password=b"right", fmt="traditional")
    assert b"DEK-Info: AES-256-CBC," in pem
    return re.sub(
        rb"(DEK-Info: AES-256-CBC,)([0-9A-F]+)",
        lambda m: m.group(1) + m.group(2)[:cipher_iv_hex_len],
        pem,
    )
