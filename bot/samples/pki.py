"""A throwaway PKI for `certops samples`: a root, an intermediate and leaves, with `cryptography`.

Every certificate says what it is in its subject (O=certops test material - NOT FOR
PRODUCTION), so one that escapes into a real upload is recognised at a glance. The root
is trusted nowhere until someone names it in a trust store; its key and the
intermediate's live only in memory and are never written.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

TEST_MATERIAL = "certops test material - NOT FOR PRODUCTION"
UNIT = "certops samples"
KEY_BITS = 2048
# Over the platform's 4096-bit limit: the `key_too_large` sample. Making one takes
# OpenSSL several seconds (one to thirty on a busy machine), so it is made once per
# process and kept: a second `/samples` in the console costs nothing.
LARGE_KEY_BITS = 8192
LEAF_DAYS = 45  # short enough that a month of `/time` in the console reaches a warning
CA_DAYS = 3650
BACKDATE = dt.timedelta(hours=1)  # a clock a little behind still accepts the certificates


def new_key(bits: int = KEY_BITS) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@functools.cache
def large_key() -> rsa.RSAPrivateKey:
    """The 8192-bit key, made once per process (seconds of work): sample material only."""
    return new_key(LARGE_KEY_BITS)


def subject(common_name: str) -> x509.Name:
    """A name that says, in the certificate itself, that it is test material."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, UNIT),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, TEST_MATERIAL),
        ]
    )


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: rsa.RSAPrivateKey

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return key_pem(self.key)


def key_pem(key: rsa.RSAPrivateKey) -> bytes:
    """The key as unencrypted PKCS#8 PEM: sample material, to be read without a password."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _builder(
    name: x509.Name,
    issuer: Issued | None,
    key: rsa.RSAPrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> x509.CertificateBuilder:
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.cert.subject if issuer else name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )
    signer = issuer.key.public_key() if issuer else public
    return builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(signer), critical=False
    )


def _usage(ca: bool) -> x509.KeyUsage:
    """A CA signs certificates and CRLs; a server certificate signs and enciphers keys."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=not ca,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def ca(
    common_name: str, now: dt.datetime, issuer: Issued | None = None, path_length: int | None = None
) -> Issued:
    """A root (no issuer) or an intermediate, valid ten years."""
    key = new_key()
    cert = (
        _builder(subject(common_name), issuer, key, now - BACKDATE, now + dt.timedelta(CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_usage(ca=True), critical=True)
        .sign(issuer.key if issuer else key, hashes.SHA256())
    )
    return Issued(cert, key)


def leaf(
    issuer: Issued,
    host: str,
    *,
    not_before: dt.datetime,
    not_after: dt.datetime,
    key: rsa.RSAPrivateKey | None = None,
    sha1: bool = False,
) -> Issued:
    """A server certificate for `host` (SAN, serverAuth), signed by `issuer` with
    SHA-256, or with SHA-1 when asked (the `weak_signature` sample)."""
    key = key or new_key()
    cert = (
        _builder(subject(host), issuer, key, not_before, not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(issuer.key, hashes.SHA256())
    )
    return Issued(signed_with_sha1(cert, issuer.key) if sha1 else cert, key)


def signed_with_sha1(cert: x509.Certificate, issuer_key: rsa.RSAPrivateKey) -> x509.Certificate:
    """`cert` signed again with SHA-1 (sha1WithRSAEncryption, in the TBS and outside).

    `cryptography` refuses to sign a certificate with SHA-1, rightly; the sample needs one,
    so the TBS it built is re-labelled with asn1crypto and signed with the key directly.
    """
    from asn1crypto import algos
    from asn1crypto import x509 as asn1_x509

    def sha1_rsa() -> algos.SignedDigestAlgorithm:
        return algos.SignedDigestAlgorithm({"algorithm": "sha1_rsa", "parameters": None})

    parsed = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    tbs = parsed["tbs_certificate"]
    tbs["signature"] = sha1_rsa()
    signature = issuer_key.sign(tbs.dump(force=True), padding.PKCS1v15(), hashes.SHA1())
    resigned = asn1_x509.Certificate(
        {"tbs_certificate": tbs, "signature_algorithm": sha1_rsa(), "signature_value": signature}
    )
    return x509.load_der_x509_certificate(resigned.dump())
