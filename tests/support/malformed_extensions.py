"""Certificates with one malformed extension, signed properly: OpenSSL opens them.

cryptography will not build them, so the TBSCertificate is assembled here from a good
certificate's fields (asn1crypto, byte for byte) with raw extension bytes, and signed.

    der, key_pem = malformed("bad_san")   # also "two_basic_constraints", "bad_netmask",
                                           # "bad_sct"
"""

from __future__ import annotations

import datetime

from asn1crypto import core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SAN, BASIC, NAME_CONSTRAINTS, SCT = "2.5.29.17", "2.5.29.19", "2.5.29.30", "1.3.6.1.4.1.11129.2.4.2"
TBS_FIELDS = ("version", "serial_number", "signature", "issuer", "validity", "subject",
              "subject_public_key_info")  # fmt: skip


def _tlv(tag: int, value: bytes) -> bytes:
    size = len(value)
    if size < 0x80:
        return bytes([tag, size]) + value
    encoded = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(encoded)]) + encoded + value


def raw_extension(oid: str, value: bytes, critical: bool = False) -> tuple[str, bytes]:
    flag = core.Boolean(True).dump() if critical else b""
    return oid, _tlv(
        0x30, core.ObjectIdentifier(oid).dump() + flag + core.OctetString(value).dump()
    )


def _good(key: ec.EllipticCurvePrivateKey, name: str) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(9)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


CASES = {
    "bad_san": (SAN, lambda exts: [e for e in exts if e[0] != SAN]
                + [raw_extension(SAN, b"\x30\x05\x82\x03\xff\xfe")]),
    "two_basic_constraints": (BASIC, lambda exts: [*exts, raw_extension(BASIC, b"\x30\x00", True)]),
    "bad_netmask": (NAME_CONSTRAINTS, lambda exts: [*exts, raw_extension(
        NAME_CONSTRAINTS, bytes.fromhex("300ca00a30088706" + "0a000000ff00"), True)]),
    "bad_sct": (SCT, lambda exts: [*exts, raw_extension(SCT, b"\x04\x03\x00\x05\x00")]),
}  # fmt: skip


def malformed(case: str, name: str = "www.example.com") -> tuple[bytes, bytes]:
    """(certificate DER, its key as PEM) for one of CASES."""
    key = ec.generate_private_key(ec.SECP256R1())
    good = asn1_x509.Certificate.load(_good(key, name).public_bytes(serialization.Encoding.DER))
    tbs = good["tbs_certificate"]
    extensions = CASES[case][1]([(e["extn_id"].dotted, e.dump()) for e in tbs["extensions"]])
    fields = b"".join(tbs[f].dump() for f in TBS_FIELDS)
    tbs_der = _tlv(0x30, fields + _tlv(0xA3, _tlv(0x30, b"".join(d for _, d in extensions))))
    signature = key.sign(tbs_der, ec.ECDSA(hashes.SHA256()))
    algorithm = good["signature_algorithm"].dump()
    der = _tlv(0x30, tbs_der + algorithm + _tlv(0x03, b"\x00" + signature))
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return der, key_pem
