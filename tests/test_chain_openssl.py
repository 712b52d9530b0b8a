"""Chains made by the `openssl` command line: the shared OpenSSL PKI, and weak-signature
CAs that `cryptography` refuses to sign (SHA-1, MD5)."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from cryptography import x509

from bot.pipeline.chain import ChainResult, build_chain
from bot.pipeline.trust import TrustStore
from tests.support.openssl_pki import OpenSSLPKI
from tests.support.pki import NOW, ec_key, key_pem, rsa_key

# openssl starts validity at the moment it signs, after tests.support.pki's NOW.
LATER = NOW + dt.timedelta(hours=1)

CA_EXT = (
    "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
    "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
)
LEAF_EXT = (
    "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n"
    "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
    "subjectAltName=DNS:weak.example.com\n"
)


class WeakPKI:
    """A tiny openssl PKI: keys come from tests/support/pki.py's cache (no key generation)."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.serial = 10
        (directory / "ca.ext").write_text(CA_EXT)
        (directory / "leaf.ext").write_text(LEAF_EXT)
        for label, key in {
            "rsa-root": rsa_key(2048, 301),
            "ec-root": ec_key("P-256", 302),
            "ec-int": ec_key("P-256", 303),
            "leaf": rsa_key(2048, 0),
        }.items():
            (directory / f"{label}.key").write_bytes(key_pem(key))

    def openssl(self, *args: str) -> None:
        proc = subprocess.run(["openssl", *args], cwd=self.dir, capture_output=True, check=False)
        assert proc.returncode == 0, proc.stderr.decode()

    def root(self, label: str, cn: str, digest: str = "sha256") -> x509.Certificate:
        self.openssl(
            "req", "-new", "-x509", "-key", f"{label}.key", "-subj", f"/O=certops tests/CN={cn}",
            "-days", "3650", f"-{digest}", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", f"{cn}.pem",
        )  # fmt: skip
        return self.load(cn)

    def issue(
        self, cn: str, key: str, issuer_cn: str, issuer_key: str, digest: str, ext: str
    ) -> x509.Certificate:
        self.serial += 1
        self.openssl("req", "-new", "-key", f"{key}.key", "-subj", f"/CN={cn}", "-out", f"{cn}.csr")
        self.openssl(
            "x509", "-req", "-in", f"{cn}.csr", "-CA", f"{issuer_cn}.pem",
            "-CAkey", f"{issuer_key}.key", "-set_serial", str(self.serial), "-days", "365",
            f"-{digest}", "-extfile", ext, "-out", f"{cn}.pem",
        )  # fmt: skip
        return self.load(cn)

    def load(self, cn: str) -> x509.Certificate:
        return x509.load_pem_x509_certificate((self.dir / f"{cn}.pem").read_bytes())


@pytest.fixture(scope="module")
def weak(tmp_path_factory: pytest.TempPathFactory) -> WeakPKI:
    return WeakPKI(tmp_path_factory.mktemp("weak-pki"))


def codes(result: ChainResult) -> list[str]:
    return [f.code for f in result.findings]


def trust(*roots: x509.Certificate) -> TrustStore:
    return TrustStore(list(roots), include_certifi=False)


def test_openssl_chain_in_any_order(openssl_pki: OpenSSLPKI) -> None:
    root = x509.load_pem_x509_certificate(openssl_pki.root_pem)
    inter = x509.load_pem_x509_certificate(openssl_pki.inter_pem)
    leaf = x509.load_pem_x509_certificate(openssl_pki.leaf_pem)
    in_order = build_chain(leaf, [inter], trust=trust(root), now=LATER)
    assert in_order.trusted and in_order.findings == []
    shuffled = build_chain(leaf, [root, inter], trust=trust(root), now=LATER)
    assert [link.cert for link in shuffled.links] == [leaf, inter, root]
    assert codes(shuffled) == ["chain_order"]
    assert shuffled.trusted


def test_openssl_verify_agrees_on_the_openssl_chain(openssl_pki: OpenSSLPKI) -> None:
    proc = subprocess.run(
        ["openssl", "verify", "-CAfile", "root.pem", "-untrusted", "inter.pem", "leaf.pem"],
        cwd=openssl_pki.dir, capture_output=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0
    leaf = x509.load_pem_x509_certificate(openssl_pki.leaf_pem)
    inter = x509.load_pem_x509_certificate(openssl_pki.inter_pem)
    root = x509.load_pem_x509_certificate(openssl_pki.root_pem)
    assert build_chain(leaf, [inter], trust=trust(root), now=LATER).trusted


def test_sha1_signed_intermediate_is_a_weak_signature(weak: WeakPKI) -> None:
    root = weak.root("ec-root", "SHA1 Test Root")
    inter = weak.issue("SHA1 Intermediate", "ec-int", "SHA1 Test Root", "ec-root", "sha1", "ca.ext")
    leaf = weak.issue("sha1-leaf", "leaf", "SHA1 Intermediate", "ec-int", "sha256", "leaf.ext")
    result = build_chain(leaf, [inter], trust=trust(root), now=LATER)
    assert not result.trusted
    assert codes(result) == ["weak_signature"]  # no second, vaguer chain_invalid
    assert "“SHA1 Intermediate” is signed with SHA-1" in result.findings[0].message
    assert [link.cert for link in result.links] == [leaf, inter, root]


def test_md5_signed_intermediate_is_a_weak_signature(weak: WeakPKI) -> None:
    root = weak.root("rsa-root", "MD5 Test Root")
    inter = weak.issue("MD5 Intermediate", "ec-int", "MD5 Test Root", "rsa-root", "md5", "ca.ext")
    leaf = weak.issue("md5-leaf", "leaf", "MD5 Intermediate", "ec-int", "sha256", "leaf.ext")
    result = build_chain(leaf, [inter], trust=trust(root), now=LATER)
    assert codes(result) == ["weak_signature"]
    assert "MD5" in result.findings[0].message


def test_sha1_self_signature_of_a_root_does_not_matter(weak: WeakPKI) -> None:
    root = weak.root("rsa-root", "SHA1 Self Root", digest="sha1")
    inter = weak.issue(
        "Under SHA1 Root", "ec-int", "SHA1 Self Root", "rsa-root", "sha256", "ca.ext"
    )
    leaf = weak.issue("under-leaf", "leaf", "Under SHA1 Root", "ec-int", "sha256", "leaf.ext")
    trusted = build_chain(leaf, [inter], trust=trust(root), now=LATER)
    assert trusted.trusted and trusted.findings == []
    private = build_chain(leaf, [inter, root], trust=trust(), now=LATER)
    assert private.trusted and codes(private) == ["private_root"]


def test_sha1_leaf_is_left_to_the_leaf_checks(weak: WeakPKI) -> None:
    root = weak.root("ec-root", "Leaf SHA1 Root")
    inter = weak.issue("Leaf SHA1 Int", "ec-int", "Leaf SHA1 Root", "ec-root", "sha256", "ca.ext")
    leaf = weak.issue("sha1-signed-leaf", "leaf", "Leaf SHA1 Int", "ec-int", "sha1", "leaf.ext")
    result = build_chain(leaf, [inter], trust=trust(root), now=LATER)
    assert result.findings == []  # the leaf checks say weak_signature for the leaf
    assert result.trusted  # the CA part above it was verified


def test_sha1_leaf_under_a_broken_ca_part_is_still_caught(weak: WeakPKI) -> None:
    (weak.dir / "notca.ext").write_text("basicConstraints=critical,CA:FALSE\n")
    root = weak.root("ec-root", "Broken Part Root")
    inter = weak.issue("Not CA Int", "ec-int", "Broken Part Root", "ec-root", "sha256", "notca.ext")
    leaf = weak.issue("sha1-under-notca", "leaf", "Not CA Int", "ec-int", "sha1", "leaf.ext")
    result = build_chain(leaf, [inter], trust=trust(root), now=LATER)
    assert codes(result) == ["chain_invalid"]
    assert not result.trusted


def test_md5_signed_leaf_is_a_weak_signature_in_the_whole_pipeline(weak: WeakPKI) -> None:
    """The leaf's own signature in MD5 (an RSA issuer signs it): `weak_signature`, invalid."""
    from bot.pipeline.material import InputFile
    from bot.pipeline.validate import ValidateOptions, validate

    root = weak.root("rsa-root", "MD5 Leaf Root")
    leaf = weak.issue("md5.example.com", "leaf", "MD5 Leaf Root", "rsa-root", "md5", "leaf.ext")
    assert leaf.signature_hash_algorithm is not None
    assert leaf.signature_hash_algorithm.name == "md5"
    report = validate(
        [
            InputFile("cert.pem", (weak.dir / "md5.example.com.pem").read_bytes()),
            InputFile("key.pem", (weak.dir / "leaf.key").read_bytes()),
        ],
        options=ValidateOptions(domain="weak.example.com", extra_roots=[root], now=LATER),
    )
    weak_findings = [f for f in report.findings if f.code == "weak_signature"]
    assert not report.valid
    assert len(weak_findings) == 1, report.findings
    assert weak_findings[0].severity.value == "error"
    assert "MD5" in weak_findings[0].message
    assert "md5.example.com" in weak_findings[0].message  # names the leaf itself
    assert weak_findings[0].hint
