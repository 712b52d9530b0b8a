"""Findings: the unit of every verdict, and the catalog of their codes.

The codes are a public contract (scripts match on them): add codes, never rename one.
Each code carries a default severity and a default hint so that every caller says the
same thing about the same problem.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Secret(StrEnum):
    """Which password a password finding asks for.

    Said by the reader that refused the file, never guessed from the message: a key
    inside an unencrypted ZIP is named "a.zip:k.pem", and guessing from that text sent
    people to the ZIP password field.
    """

    KEY = "key"  # the key's or the PKCS#12 file's password
    ZIP = "zip"  # the ZIP archive's password


PASSWORD_CODES = frozenset({"password_required", "wrong_password"})


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    message: str
    hint: str
    secret: Secret | None = None  # password findings: which password is needed
    input: str | None = None  # password findings: the file (or "zip:member") it opens

    def to_dict(self) -> dict[str, str]:
        data = {k: v for k, v in asdict(self).items() if v is not None}
        data["severity"] = str(self.severity)
        if self.secret is not None:
            data["secret"] = str(self.secret)
        return data


@dataclass(frozen=True)
class CodeInfo:
    severity: Severity
    hint: str


E, W, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

CATALOG: dict[str, CodeInfo] = {
    # --- certificate validation -------------------------------------------------------
    "unrecognized_file": CodeInfo(
        E, "Upload the certificate as PEM, DER, PKCS#7 (.p7b), PKCS#12 (.pfx/.p12) or ZIP."
    ),
    "certificate_request": CodeInfo(
        E,
        "This is a certificate signing request (CSR). Send it to your CA and upload the "
        "certificate the CA returns.",
    ),
    "password_required": CodeInfo(E, "Give the password (--password-file or the prompt)."),
    "wrong_password": CodeInfo(E, "Check the password: it does not open this file."),
    "archive_too_large": CodeInfo(
        E, "Upload the certificate files themselves instead of this archive."
    ),
    "archive_unsafe_member": CodeInfo(
        W, "Rebuild the archive with relative paths; this member was read but never written."
    ),
    "no_certificate": CodeInfo(E, "Include the certificate issued for your domain."),
    "no_leaf_certificate": CodeInfo(
        E, "Only CA certificates were given: include the certificate issued for your domain."
    ),
    "multiple_leaf_certificates": CodeInfo(
        E, "Give --domain or the private key so the right certificate can be chosen."
    ),
    "no_private_key": CodeInfo(
        E, "Include the private key that was generated with the certificate request."
    ),
    "key_mismatch": CodeInfo(
        E,
        "Find the private key generated with this certificate's CSR, or have the "
        "certificate re-issued for this key.",
    ),
    "unsupported_key_type": CodeInfo(
        E, "Use an RSA (2048-4096 bits) or ECDSA P-256/P-384 key and re-issue the certificate."
    ),
    "key_too_large": CodeInfo(
        E, "The platform accepts RSA keys up to 4096 bits: re-issue with a 2048-4096 bit key."
    ),
    "key_too_small": CodeInfo(E, "Re-issue the certificate with an RSA key of 2048 bits or more."),
    "domain_mismatch": CodeInfo(
        E, "Use a Domain the certificate covers, or re-issue the certificate with that name."
    ),
    "invalid_domain": CodeInfo(
        E, "Give a host name such as app.example.com or a wildcard such as *.example.com."
    ),
    "no_subject_alt_name": CodeInfo(
        E, "Re-issue the certificate with a subjectAltName: browsers ignore the common name."
    ),
    "expired": CodeInfo(E, "Renew the certificate with your CA and upload the new one."),
    "not_yet_valid": CodeInfo(
        E, "Wait until the certificate's start date, or check the machine's clock."
    ),
    "expiring_soon": CodeInfo(W, "Renew the certificate soon and upload the new one."),
    "validity_too_long": CodeInfo(
        W, "Browsers reject public certificates valid this long: re-issue with a shorter term."
    ),
    "self_signed": CodeInfo(
        E, "Use a certificate issued by a certificate authority, not a self-signed one."
    ),
    "chain_incomplete": CodeInfo(
        E, "Add the missing intermediate certificate (your CA's bundle) to the upload."
    ),
    "chain_invalid": CodeInfo(E, "Ask your CA for a correct chain, or re-issue the certificate."),
    "chain_order": CodeInfo(W, "No action needed: the chain was put in order."),
    "chain_duplicate": CodeInfo(W, "No action needed: repeated certificates were dropped."),
    "chain_extra_certificates": CodeInfo(
        W, "No action needed: certificates unrelated to this chain were dropped."
    ),
    "private_root": CodeInfo(
        W,
        "Browsers outside your organisation will not trust this root; use a public CA "
        "for public sites.",
    ),
    "weak_signature": CodeInfo(
        E, "Re-issue the certificate (and chain) with a SHA-256 or stronger signature."
    ),
    "no_server_auth": CodeInfo(
        E, "Re-issue the certificate with the serverAuth extended key usage."
    ),
    "chain_completed": CodeInfo(
        INFO, "The missing issuer was fetched from its AIA URL; upload the completed chain."
    ),
    "critical_subject_alt_name": CodeInfo(
        W, "Browsers accept it, but some strict clients may not; no action needed for browsers."
    ),
    "names_covered": CodeInfo(
        INFO,
        "To check the host name you will use, give it as the Domain field "
        "(--domain on the terminal).",
    ),
    # --- DNS check ------------------------------------------------------------------------
    "cname_ok": CodeInfo(INFO, "Nothing to do: the CNAME points at the environment."),
    "cname_wrong_target": CodeInfo(
        E, "Change the CNAME so that it points at the environment's default host."
    ),
    "cname_to_load_balancer": CodeInfo(
        E,
        "Point the CNAME at the environment's default host, not the load balancer: its "
        "address changes.",
    ),
    "a_record_instead_of_cname": CodeInfo(
        E, "Remove the A/AAAA records and create a CNAME to the environment's default host."
    ),
    "apex_domain": CodeInfo(
        E, "A zone apex cannot hold a CNAME: use a subdomain such as www or app."
    ),
    "no_record": CodeInfo(E, "Create a CNAME record to the environment's default host."),
    "dangling_cname": CodeInfo(
        E, "The CNAME chain ends nowhere: point it at the environment's default host."
    ),
    "cname_loop": CodeInfo(E, "Break the CNAME loop: point the name at the default host."),
    "hostname_not_covered": CodeInfo(
        E, "Use a hostname the certificate covers, or a certificate that covers this hostname."
    ),
    "resolvers_disagree": CodeInfo(
        W, "A recent change may still be propagating; wait for the old TTL to pass."
    ),
    "dns_unreachable": CodeInfo(
        W, "No nameserver answered: check the network or name another --nameserver."
    ),
    # --- certificate validation: the leaf's own rules (issue 12) --------------------------
    # Where browsers and TLS clients refuse, an error; where certops accepts what
    # `cryptography`'s WebPKI policy refuses, a warning that says so (as
    # critical_subject_alt_name does): nothing that policy refuses passes unnamed.
    "leaf_is_ca": CodeInfo(
        E,
        "A CA certificate cannot serve a site: upload the certificate your CA issued for "
        "your domain (it says CA:FALSE).",
    ),
    "invalid_san_name": CodeInfo(
        W,
        "These entries never match any host name: ask your CA to re-issue the certificate "
        "with host names (internationalised names as xn-- A-labels).",
    ),
    "leaf_key_cert_sign": CodeInfo(
        E,
        "Re-issue the certificate without keyCertSign in its key usage: only CA "
        "certificates may sign certificates, and Chrome refuses a server certificate that "
        "claims it.",
    ),
    "critical_extension": CodeInfo(
        E,
        "Re-issue the certificate without marking that extension critical: OpenSSL and "
        "browsers refuse a certificate with a critical extension they do not process.",
    ),
    "leaf_name_constraints": CodeInfo(
        W,
        "Name constraints belong in CA certificates; OpenSSL accepts them in a server "
        "certificate. No action needed, but strict verifiers refuse it: re-issue without.",
    ),
    "non_critical_subject_alt_name": CodeInfo(
        W,
        "Browsers accept it; strict verifiers want the subjectAltName marked critical when "
        "the subject is empty (RFC 5280). No action needed for browsers.",
    ),
    "no_authority_key_id": CodeInfo(
        W,
        "Browsers and OpenSSL accept it; strict verifiers (RFC 5280, the WebPKI rules) "
        "require an authorityKeyIdentifier. Ask your CA for one at the next renewal.",
    ),
    # --- certificate validation: declared costs over certops' caps (readers/kdf_cost.py)
    "kdf_cost_too_high": CodeInfo(
        E,
        "Export the file again with your tool's usual settings, which certops accepts: "
        "`openssl pkcs8 -topk8 -v2 aes256 -in old.key -out new.key` for a key, or "
        "`openssl pkcs12 -in old.pfx -nodes -out all.pem` then "
        "`openssl pkcs12 -export -in all.pem -out new.pfx` for a PFX (2,048 iterations; "
        "Windows, Java keytool and macOS exports are accepted as they are).",
    ),
    "unsupported_encryption": CodeInfo(
        E,
        "Export the key or PFX again with standard encryption (AES-256 with PBKDF2, as "
        "`openssl pkcs8 -topk8 -v2 aes256` or `openssl pkcs12 -export` write it).",
    ),
    "too_many_certificates": CodeInfo(
        E,
        "Upload the certificate, its intermediates and its key only: a chain has two to "
        "four certificates, and a bundle of every root is not needed.",
    ),
    "malformed_extension": CodeInfo(
        E,
        "Ask your CA to re-issue the certificate: one of its extensions is malformed, and "
        "browsers and servers refuse such a certificate.",
    ),
    "pkcs12_mac_unverified": CodeInfo(
        W,
        "Nothing to do if the file was exported with separate passwords; otherwise export "
        "it again with one password (`openssl pkcs12 -export` without -twopass).",
    ),
}


def finding(
    code: str,
    message: str,
    *,
    severity: Severity | None = None,
    hint: str = "",
    secret: Secret | None = None,
    input: str | None = None,
) -> Finding:
    """Build a finding from the catalog, so defaults stay in one place."""
    info = CATALOG[code]
    return Finding(code, severity or info.severity, message, hint or info.hint, secret, input)


def missing_secrets(findings: Iterable[Finding | Mapping[str, Any]]) -> frozenset[Secret]:
    """The passwords the findings say were not given: what a prompt or a form asks for.

    Takes findings as objects or as their report dicts (services and handlers hold the
    dict), so the terminal, the console and Slack read the same field.
    """
    needed: set[Secret] = set()
    for item in findings:
        data = item.to_dict() if isinstance(item, Finding) else item
        secret = data.get("secret")
        if data.get("code") == "password_required" and secret in set(Secret):
            needed.add(Secret(secret))
    return frozenset(needed)


def locked_inputs(findings: Iterable[Finding]) -> list[str]:
    """The files a password finding says could not be opened (a key may be in there)."""
    return [f.input for f in findings if f.code in PASSWORD_CODES and f.input]


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity is Severity.ERROR for f in findings)
