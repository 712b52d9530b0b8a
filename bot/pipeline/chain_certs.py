"""Certificate facts the chain modules share: names for messages, signatures checked
with any hash (SHA-1 and MD5 included, so weak links are found and named rather than
called missing), extension lookups that tolerate damaged certificates, and the
algorithms browsers accept.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509.oid import ExtensionOID, SignatureAlgorithmOID

from bot.pipeline.trust import name_key

# How a chain is anchored (ChainResult.anchor)
ANCHOR_TRUST_STORE = "trust_store"
ANCHOR_PRIVATE_ROOT = "private_root"
ANCHOR_NONE = "none"

WEAK_HASHES = (hashes.SHA1, hashes.MD5)
# What a damaged certificate raises when a lazily parsed part (names, extensions) is
# first used; such a certificate is reported, never allowed to raise out of here.
PARSE_ERRORS = (
    ValueError,
    TypeError,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
    UnsupportedAlgorithm,
)
SHA256 = hashes.SHA256()


def describe(cert: x509.Certificate) -> str:
    """A short quoted name for messages: the common name, else the whole DN."""
    try:
        cns = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        if cns:
            value = cns[0].value
            text = value if isinstance(value, str) else value.decode(errors="replace")
        else:
            text = cert.subject.rfc4514_string() or "(empty subject)"
    except PARSE_ERRORS:
        text = f"(unreadable name, SHA-256 {fingerprint(cert).hex()[:16]}…)"
    return f"“{text}”"


def readable_names(cert: x509.Certificate) -> bool:
    """Subject and issuer are parsed lazily: a damaged name raises on first use."""
    try:
        cert.subject.public_bytes()
        cert.issuer.public_bytes()
    except PARSE_ERRORS:
        return False
    return True


# --- signatures and extensions -------------------------------------------------------


def verify_signature(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
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


def names_match(subject: x509.Name, issuer_name: x509.Name) -> bool:
    return subject == issuer_name or name_key(subject) == name_key(issuer_name)


def signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """`issuer` issued `cert`: names match and the signature verifies."""
    return names_match(issuer.subject, cert.issuer) and verify_signature(cert, issuer)


def self_signed(cert: x509.Certificate) -> bool:
    return cert.subject == cert.issuer and verify_signature(cert, cert)


def extension(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> x509.ExtensionType | None:
    try:
        return cert.extensions.get_extension_for_oid(oid).value
    except (x509.ExtensionNotFound, *PARSE_ERRORS):
        return None


def authority_key_id(cert: x509.Certificate) -> bytes | None:
    value = extension(cert, ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
    return value.key_identifier if isinstance(value, x509.AuthorityKeyIdentifier) else None


def subject_key_id(cert: x509.Certificate) -> bytes | None:
    value = extension(cert, ExtensionOID.SUBJECT_KEY_IDENTIFIER)
    return value.digest if isinstance(value, x509.SubjectKeyIdentifier) else None


def key_id_rank(child: x509.Certificate, candidate: x509.Certificate) -> int:
    """0: the key identifiers match; 1: one is missing; 2: they differ."""
    aki, ski = authority_key_id(child), subject_key_id(candidate)
    if aki is None or ski is None:
        return 1
    return 0 if aki == ski else 2


def by_key_id(
    child: x509.Certificate, candidates: list[x509.Certificate]
) -> list[x509.Certificate]:
    if len(candidates) < 2:
        return candidates
    return sorted(candidates, key=lambda c: key_id_rank(child, c))


def weak_hash(cert: x509.Certificate) -> str | None:
    try:
        hash_alg = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return None
    return (
        hash_alg.name.upper().replace("SHA1", "SHA-1")
        if isinstance(hash_alg, WEAK_HASHES)
        else None
    )


def fingerprint(cert: x509.Certificate) -> bytes:
    return cert.fingerprint(SHA256)


BROWSER_SIGNATURES = {
    SignatureAlgorithmOID.RSA_WITH_SHA256,
    SignatureAlgorithmOID.RSA_WITH_SHA384,
    SignatureAlgorithmOID.RSA_WITH_SHA512,
    SignatureAlgorithmOID.RSASSA_PSS,
    SignatureAlgorithmOID.ECDSA_WITH_SHA256,
    SignatureAlgorithmOID.ECDSA_WITH_SHA384,
    SignatureAlgorithmOID.ECDSA_WITH_SHA512,
}


BROWSER_CA_KEYS = (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)


def public_key_of(cert: x509.Certificate) -> object:
    try:
        return cert.public_key()
    except (UnsupportedAlgorithm, ValueError):
        return None


def key_name(cert: x509.Certificate) -> str:
    key = public_key_of(cert)
    if key is None:
        return "unsupported"
    return type(key).__name__.removesuffix("PublicKey").removeprefix("_") or "unknown"


def browser_signature(cert: x509.Certificate) -> bool:
    return cert.signature_algorithm_oid in BROWSER_SIGNATURES


def signature_name(cert: x509.Certificate) -> str:
    oid = cert.signature_algorithm_oid
    name = getattr(oid, "_name", "")
    return name if name and name != "Unknown OID" else oid.dotted_string


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def role(cert: x509.Certificate) -> str:
    return "root" if cert.subject == cert.issuer else "intermediate CA"
