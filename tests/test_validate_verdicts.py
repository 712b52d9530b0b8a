"""Verdicts on certificates nobody on this project wrote (issue 12, points 1, 2 and 5):
self-signed uploads made the usual way, SAN entries that are not DNS names, and the
leaf rules where certops is looser than `cryptography`'s WebPKI policy.

Fixtures from the `openssl` command line and from `cryptography`; judged through
`certops validate` (a subprocess) or `validate()`.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID

from bot.pipeline.findings import CATALOG, Severity
from bot.pipeline.material import InputFile, Passwords
from bot.pipeline.report import Report
from bot.pipeline.validate import ValidateOptions, validate
from tests.support.openssl_pki import OpenSSLCerts, OpenSSLPKI, run
from tests.support.pki import CA, NOW, ec_key, key_pem, name, pem_bundle, rsa_key

ROOT = Path(__file__).resolve().parent.parent
NEW_CODES = {
    "leaf_is_ca", "invalid_san_name", "leaf_key_cert_sign", "critical_extension",
    "leaf_name_constraints", "non_critical_subject_alt_name", "no_authority_key_id",
}  # fmt: skip


def certops(*args: str | Path, cwd: Path) -> tuple[int, dict]:  # type: ignore[type-arg]
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "validate", *map(str, args), "--json"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return proc.returncode, json.loads(proc.stdout)


def codes_of(data: dict) -> list[str]:  # type: ignore[type-arg]
    return [f["code"] for f in data["findings"]]


@pytest.fixture(scope="module")
def ossl(tmp_path_factory: pytest.TempPathFactory) -> OpenSSLPKI:
    return OpenSSLPKI(tmp_path_factory.mktemp("openssl-verdicts"))


# --- 1. a self-signed certificate made the usual way ------------------------------------------


def test_openssl_req_x509_with_its_key_is_self_signed_not_missing(tmp_path: Path) -> None:
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem",
        "-subj", "/CN=www.example.com", "-days", "90", "-out", "cert.pem", cwd=tmp_path)  # fmt: skip
    cert = x509.load_pem_x509_certificate((tmp_path / "cert.pem").read_bytes())
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca  # CA:TRUE
    code, data = certops("cert.pem", "key.pem", "--domain", "www.example.com", cwd=tmp_path)
    assert code == 1
    codes = codes_of(data)
    assert "self_signed" in codes and "no_leaf_certificate" not in codes
    assert "leaf_is_ca" not in codes  # self_signed says it all for a self-signed one
    assert data["certificate"]["subject"] == "CN=www.example.com"
    hint = next(f["hint"] for f in data["findings"] if f["code"] == "self_signed")
    assert "certificate authority" in hint
    # Without the key nothing points at it: only a CA certificate was given.
    code, data = certops("cert.pem", cwd=tmp_path)
    assert code == 1 and codes_of(data)[0] == "no_leaf_certificate"
    assert data["certificate"] is None


def test_cryptography_self_signed_ca_with_san_and_key() -> None:
    made = CA.root("www.example.com", key=rsa_key(2048, 640))
    report = validate(
        [InputFile("cert.pem", made.issued.pem), InputFile("key.pem", key_pem(made.key))],
        Passwords(),
        ValidateOptions(domain="www.example.com"),
    )
    assert report.leaf == made.cert
    assert "self_signed" in report.codes and "no_leaf_certificate" not in report.codes


def test_a_ca_certificate_with_its_key_is_leaf_is_ca(ossl: OpenSSLPKI, tmp_path: Path) -> None:
    """The intermediate and its own key: the CA certificate the person means, named as
    one that cannot serve a site (not self-signed, so not self_signed)."""
    code, data = certops(ossl.path("inter.pem"), ossl.path("inter.key"), cwd=tmp_path)
    assert code == 1
    codes = codes_of(data)
    assert "leaf_is_ca" in codes and "self_signed" not in codes
    assert "no_leaf_certificate" not in codes
    message = next(f["message"] for f in data["findings"] if f["code"] == "leaf_is_ca")
    assert "OpenSSL Inter" in message and "CA:TRUE" in message
    assert CATALOG["leaf_is_ca"].severity is Severity.ERROR


def test_a_ca_key_beside_a_leaf_leaves_the_leaf_chosen(ossl: OpenSSLPKI) -> None:
    report = validate(
        [
            InputFile("cert.pem", ossl.leaf_pem),
            InputFile("chain.pem", ossl.inter_pem),
            InputFile("ca.key", ossl.read("inter.key")),
        ]
    )
    assert report.leaf == x509.load_pem_x509_certificate(ossl.leaf_pem)
    assert "key_mismatch" in report.codes and "leaf_is_ca" not in report.codes


# --- 2. SAN entries that are not DNS names never match ----------------------------------------


@pytest.fixture(scope="module")
def tool(tmp_path_factory: pytest.TempPathFactory) -> OpenSSLCerts:
    t = OpenSSLCerts(tmp_path_factory.mktemp("openssl-leaf-rules"))
    t.issue("root", "/O=certops tests/CN=Rules Root", key="root",
            ext="basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
            "subjectKeyIdentifier=hash\n")  # fmt: skip
    return t


LEAF_BASE = "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n"
AKI = "authorityKeyIdentifier=keyid\n"


def openssl_leaf(tool: OpenSSLCerts, label: str, ext: str, subject: str = "/CN=rules") -> Report:
    tool.issue(label, subject, key="leaf", issuer="root", ext=ext)
    files = [InputFile(f"{label}.pem", tool.pem(label))]
    files.append(InputFile("leaf.key", (tool.dir / "leaf.key").read_bytes()))
    return validate(files, Passwords(), ValidateOptions(extra_roots=[tool.load("root")]))


def test_raw_utf8_san_never_matches_its_a_label(tool: OpenSSLCerts, tmp_path: Path) -> None:
    ext = LEAF_BASE + AKI + "subjectAltName=DNS:\U0001f61c.example.com,DNS:ok.example.com\n"
    (tool.dir / "utf8.ext").write_text(ext, encoding="utf-8")
    tool.key("leaf")
    tool.openssl("req", "-new", "-key", "leaf.key", "-subj", "/CN=utf8", "-out", "utf8.csr")
    tool.openssl("x509", "-req", "-in", "utf8.csr", "-CA", "root.pem", "-CAkey", "root.key",
                 "-set_serial", "9001", "-days", "90", "-extfile", "utf8.ext", "-out", "utf8.pem")  # fmt: skip
    (tmp_path / "root.pem").write_bytes(tool.pem("root"))
    args = (tool.dir / "utf8.pem", tool.dir / "leaf.key", "--trust-store", "root.pem")
    code, data = certops(*args, "--domain", "xn--628h.example.com", cwd=tmp_path)
    assert code == 1
    codes = codes_of(data)
    assert "domain_mismatch" in codes and "invalid_san_name" in codes
    named = next(f["message"] for f in data["findings"] if f["code"] == "invalid_san_name")
    assert "\U0001f61c.example.com" in named and "ok.example.com" not in named
    code, data = certops(*args, "--domain", "ok.example.com", cwd=tmp_path)
    assert code == 0, data["findings"]  # the other, valid name still serves
    assert "invalid_san_name" in codes_of(data)


@pytest.mark.parametrize(
    "bad", ["\U0001f61c.example.com", "under_score.example.com", "w*.example.com", "-x.example.com"]
)
def test_invalid_san_entries_are_named_and_never_match(bad: str) -> None:
    root = CA.root("SAN Syntax Root", key=ec_key("P-256", 650))
    inter = root.intermediate("SAN Syntax Inter", key=ec_key("P-256", 651))
    key = rsa_key(2048, 652)
    raw = x509.DNSName._init_without_validation(bad)  # as a CA's software might write it
    cert = (
        inter._builder(name("san"), key.public_key(), NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=60))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([raw]), critical=False)
        .sign(inter.key, hashes.SHA256())
    )  # fmt: skip
    files = [
        InputFile("c.pem", pem_bundle(cert, inter.cert)),
        InputFile("k.pem", key_pem(key)),
    ]
    domain = bad.encode("idna").decode() if not bad.isascii() else "x.example.com"
    report = validate(files, Passwords(), ValidateOptions(domain=domain, extra_roots=[root.cert]))
    assert "invalid_san_name" in report.codes and "domain_mismatch" in report.codes
    assert "no_subject_alt_name" in report.codes  # no name left that could match
    assert bad in next(f.message for f in report.findings if f.code == "invalid_san_name")


# --- 5. leaf rules: no silent leniency ----------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "ext", "subject", "code", "severity", "openssl_ok"),
    [
        ("kcs", LEAF_BASE + AKI + "subjectAltName=DNS:a.example.com\n"
         "keyUsage=critical,digitalSignature,keyCertSign\n", "/CN=a",
         "leaf_key_cert_sign", Severity.ERROR, True),
        ("nc-crit", LEAF_BASE + AKI + "subjectAltName=DNS:a.example.com\n"
         "nameConstraints=critical,permitted;DNS:example.com\n", "/CN=a",
         "leaf_name_constraints", Severity.WARNING, True),
        ("nc", LEAF_BASE + AKI + "subjectAltName=DNS:a.example.com\n"
         "nameConstraints=permitted;DNS:example.com\n", "/CN=a",
         "leaf_name_constraints", Severity.WARNING, True),
        ("aia-crit", LEAF_BASE + AKI + "subjectAltName=DNS:a.example.com\n"
         "authorityInfoAccess=critical,caIssuers;URI:http://ca.example/ca.der\n", "/CN=a",
         "critical_extension", Severity.ERROR, False),
        ("ski-crit", LEAF_BASE + AKI + "subjectAltName=DNS:a.example.com\n"
         "subjectKeyIdentifier=critical,hash\n", "/CN=a",
         "critical_extension", Severity.ERROR, False),
        ("empty-subject", LEAF_BASE + AKI + "subjectAltName=DNS:a.example.com\n", "/",
         "non_critical_subject_alt_name", Severity.WARNING, True),
        ("no-aki", LEAF_BASE + "authorityKeyIdentifier=none\nsubjectKeyIdentifier=none\n"
         "subjectAltName=DNS:a.example.com\n", "/CN=a",
         "no_authority_key_id", Severity.WARNING, True),
    ],
)  # fmt: skip
def test_leaf_rules_made_with_openssl(
    tool: OpenSSLCerts,
    label: str,
    ext: str,
    subject: str,
    code: str,
    severity: Severity,
    openssl_ok: bool,
) -> None:
    report = openssl_leaf(tool, label, ext, subject)
    found = [f for f in report.findings if f.code == code]
    assert found and found[0].severity is severity, report.findings
    assert report.valid is (severity is not Severity.ERROR), report.findings
    assert "chain_invalid" not in report.codes  # the leaf's, not the chain's
    verdict = tool.verify(label, roots=["root"], untrusted=[])
    assert verdict.endswith("OK") is openssl_ok, verdict


def test_a_plain_openssl_leaf_has_none_of_these(tool: OpenSSLCerts) -> None:
    report = openssl_leaf(tool, "plain", LEAF_BASE + AKI + "subjectAltName=DNS:a.example.com\n")
    assert report.valid and not set(report.codes) & NEW_CODES, report.findings


# Leaves that `cryptography`'s own WebPKI policy refuses (or not), made with cryptography.
Extra = list[tuple[x509.ExtensionType, bool]]
SAN = x509.SubjectAlternativeName([x509.DNSName("p.example.com")])
AIA = x509.AuthorityInformationAccess(
    [
        x509.AccessDescription(
            x509.AuthorityInformationAccessOID.CA_ISSUERS,
            x509.UniformResourceIdentifier("http://ca.example/ca.der"),
        )
    ]
)
NC = x509.NameConstraints([x509.DNSName("example.com")], None)
POLICIES = x509.CertificatePolicies([x509.PolicyInformation(x509.ObjectIdentifier("2.23.140.1.2.1"), None)])  # fmt: skip
UNKNOWN = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00")


def _usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(True, False, True, False, False, cert_sign, False, False, False)


VARIANTS: dict[str, tuple[Extra, bool, bool]] = {
    # name: (extensions besides basicConstraints, subject empty, authorityKeyIdentifier)
    "plain": ([(SAN, False)], False, True),
    "key-cert-sign": ([(SAN, False), (_usage(True), True)], False, True),
    "name-constraints-critical": ([(SAN, False), (NC, True)], False, True),
    "name-constraints": ([(SAN, False), (NC, False)], False, True),
    "aia-critical": ([(SAN, False), (AIA, True)], False, True),
    "empty-subject-non-critical-san": ([(SAN, False)], True, True),
    "empty-subject-critical-san": ([(SAN, True)], True, True),
    "no-aki": ([(SAN, False)], False, False),
    "critical-san-with-subject": ([(SAN, True)], False, True),
    "client-auth-only": (
        [(SAN, False), (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)],
        False,
        True,
    ),
    "no-san": ([], False, True),
    "critical-policies": ([(SAN, False), (POLICIES, True)], False, True),
    "unknown-critical": ([(SAN, False), (UNKNOWN, True)], False, True),
    "ca-true": ([(SAN, False)], False, True),
}


ACCEPTED_BY_THE_LIBRARY = {"plain", "empty-subject-critical-san"}


@pytest.fixture(scope="module")
def policy_pki() -> tuple[CA, CA]:
    root = CA.root("Policy Root", key=ec_key("P-256", 660))
    return root, root.intermediate("Policy Inter", key=ec_key("P-256", 661))


def _variant(ca: CA, label: str) -> x509.Certificate:
    extra, empty_subject, aki = VARIANTS[label]
    key = rsa_key(2048, 662)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]) if empty_subject else name("p.example.com"))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=60))
        .add_extension(x509.BasicConstraints(ca=label == "ca-true", path_length=None), True)
    )
    if aki:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    for extension, critical in extra:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(ca.key, hashes.SHA256())  # type: ignore[arg-type]


def _library_refuses(root: CA, inter: CA, leaf: x509.Certificate) -> bool:
    """`cryptography`'s default WebPKI policies, as they come."""
    builder = verification.PolicyBuilder().store(verification.Store([root.cert])).time(NOW)
    try:
        verifier = builder.build_server_verifier(x509.DNSName("p.example.com"))
        verifier.verify(leaf, [inter.cert])
    except verification.VerificationError:
        return True
    return False


@pytest.mark.parametrize("label", sorted(VARIANTS))
def test_nothing_the_webpki_policy_refuses_passes_silently(
    policy_pki: tuple[CA, CA], label: str
) -> None:
    """Whatever `cryptography`'s default WebPKI policy refuses in a leaf, certops names:
    an error where clients refuse, a warning where certops accepts it on purpose; and
    as the leaf's problem, never as a broken chain."""
    root, inter = policy_pki
    leaf = _variant(inter, label)
    refused = _library_refuses(root, inter, leaf)
    assert refused is (label not in ACCEPTED_BY_THE_LIBRARY)
    report = validate(
        [
            InputFile("leaf.pem", leaf.public_bytes(Encoding.PEM)),
            InputFile("chain.pem", inter.issued.pem),
            InputFile("leaf.key", key_pem(rsa_key(2048, 662))),
        ],
        Passwords(),
        ValidateOptions(extra_roots=[root.cert], now=NOW),
    )
    assert report.leaf == leaf
    named = [f for f in report.findings if f.severity is not Severity.INFO]
    if refused:
        assert named, f"{label}: refused by the WebPKI policy, yet nothing said"
        assert "chain_invalid" not in report.codes, report.findings
    else:
        assert not named, report.findings


def test_every_new_code_is_in_the_catalog_and_the_cli_reference() -> None:
    reference = (ROOT / "docs" / "cli.md").read_text()
    for code in NEW_CODES:
        assert code in CATALOG
        assert f"| `{code}` |" in reference, code
