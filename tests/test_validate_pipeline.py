"""`validate()` end to end: files in, report out, one case per finding code at least.

Fixtures come from both the `openssl` command line (tests/support/openssl_pki.py) and
`cryptography` (tests/support/pki.py). The reading codes belong to the readers and the chain codes
to the chain builder; here each is asserted through `validate()`, as callers see them.
"""

from __future__ import annotations

import datetime as dt
import http.server
import io
import re
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID

from bot.pipeline.aia import HttpIssuerFetcher
from bot.pipeline.findings import CATALOG, Severity
from bot.pipeline.material import InputFile, Passwords
from bot.pipeline.readers import ArchiveLimits
from bot.pipeline.report import Report
from bot.pipeline.validate import ValidateOptions, validate, validate_material
from tests.support.openssl_pki import OpenSSLPKI
from tests.support.pki import CA, NOW, ec_key, key_pem, pem_bundle, rsa_key, self_signed_leaf

PRODUCED: set[str] = set()  # codes seen by this module's tests (checked at the end)


@pytest.fixture(scope="module")
def ossl(tmp_path_factory: pytest.TempPathFactory) -> OpenSSLPKI:
    return OpenSSLPKI(tmp_path_factory.mktemp("openssl-pipeline"))


@pytest.fixture(scope="module")
def ossl_root(ossl: OpenSSLPKI) -> x509.Certificate:
    return x509.load_pem_x509_certificate(ossl.root_pem)


@pytest.fixture(scope="module")
def root() -> CA:
    return CA.root("Pipeline Root")


@pytest.fixture(scope="module")
def inter(root: CA) -> CA:
    return root.intermediate("Pipeline Inter")


def run(
    files: list[tuple[str, bytes]],
    *,
    roots: list[x509.Certificate] | tuple[x509.Certificate, ...] = (),
    domain: str | None = None,
    passwords: Passwords = Passwords(),  # noqa: B008
    **options: object,
) -> Report:
    report = validate(
        [InputFile(name, data) for name, data in files],
        passwords,
        ValidateOptions(domain=domain, extra_roots=list(roots), **options),  # type: ignore[arg-type]
    )
    PRODUCED.update(report.codes)
    return report


def severity(report: Report, code: str) -> Severity:
    matches = [f.severity for f in report.findings if f.code == code]
    assert matches, f"{code} not in {report.codes}"
    return matches[0]


def message(report: Report, code: str) -> str:
    return next(f.message for f in report.findings if f.code == code)


def good(ca: CA, **kwargs: object) -> tuple[str, bytes]:
    leaf = ca.leaf(**kwargs)  # type: ignore[arg-type]
    return ("cert.pem", leaf.pem)


# --- valid uploads ------------------------------------------------------------------------


def test_openssl_bundle_is_valid(ossl: OpenSSLPKI, ossl_root: x509.Certificate) -> None:
    report = run(
        [("leaf.pem", ossl.leaf_pem), ("leaf.key", ossl.key_pem), ("chain.pem", ossl.inter_pem)],
        roots=[ossl_root],
    )
    assert report.verdict == "valid", report.findings
    assert report.codes == ["names_covered"]
    assert "app.example.com, www.example.com" in message(report, "names_covered")
    assert [(e.cert.subject, e.source) for e in report.chain] == [
        (x509.load_pem_x509_certificate(ossl.inter_pem).subject, "uploaded"),
        (ossl_root.subject, "trust_store"),
    ]
    assert [i.kind for i in report.inputs] == ["certificate", "private_key", "certificate"]


def test_domain_given_and_covered(ossl: OpenSSLPKI, ossl_root: x509.Certificate) -> None:
    report = run(
        [("fullchain.pem", ossl.read("fullchain.pem")), ("privkey.pem", ossl.key_pem)],
        roots=[ossl_root],
        domain="WWW.Example.COM.",
    )
    assert report.valid and report.codes == []
    assert report.domain == "www.example.com"


def test_lets_encrypt_folder(ossl: OpenSSLPKI, ossl_root: x509.Certificate) -> None:
    """cert.pem, chain.pem, fullchain.pem, privkey.pem all uploaded: valid, repeats dropped."""
    files = [
        ("cert.pem", ossl.leaf_pem),
        ("chain.pem", ossl.read("chain.pem")),
        ("fullchain.pem", ossl.read("fullchain.pem")),
        ("privkey.pem", ossl.key_pem),
    ]
    report = run(files, roots=[ossl_root], domain="app.example.com")
    assert report.valid, report.findings
    assert set(report.codes) <= {"chain_duplicate"}
    assert x509.load_pem_x509_certificates(report.chain_pem()) == [
        x509.load_pem_x509_certificate(ossl.leaf_pem),
        x509.load_pem_x509_certificate(ossl.inter_pem),
    ]


def test_ca_zip_with_ca_bundle_and_separate_key(
    ossl: OpenSSLPKI, ossl_root: x509.Certificate
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app_example_com/app_example_com.crt", ossl.leaf_pem)
        archive.writestr("app_example_com/app_example_com.ca-bundle", ossl.inter_pem)
    report = run(
        [("app_example_com.zip", buffer.getvalue()), ("app.key", ossl.key_pem)],
        roots=[ossl_root],
        domain="app.example.com",
    )
    assert report.valid, report.findings
    assert report.leaf == x509.load_pem_x509_certificate(ossl.leaf_pem)
    kinds = {i.name: i.kind for i in report.inputs}
    assert kinds["app_example_com.zip"] == "zip" and kinds["app.key"] == "private_key"


@pytest.mark.parametrize(
    ("files", "password"),
    [
        (["modern.pfx"], True),
        (["legacy.pfx"], True),
        (["ec.pfx"], True),
        (["chain.p7b", "leaf.key"], False),
        (["leaf.der", "leaf.pkcs1.der", "chain.pem"], False),
        (["bag.pem"], False),
        (["fullchain.utf16le.pem", "leaf.enc-trad.pem"], True),
        (["leaf.trusted.pem", "leaf.enc-pkcs8.pem", "chain.pem"], True),
    ],
)
def test_formats_end_to_end(
    ossl: OpenSSLPKI, ossl_root: x509.Certificate, files: list[str], password: bool
) -> None:
    report = run(
        [(name, ossl.read(name)) for name in files],
        roots=[ossl_root],
        passwords=Passwords(key=ossl.password if password else None),
    )
    assert report.valid, report.findings
    assert report.leaf is not None and report.chain


def test_validate_material_reruns_checks(ossl: OpenSSLPKI, ossl_root: x509.Certificate) -> None:
    from bot.pipeline.readers import read_inputs

    material = read_inputs([InputFile("fullchain.pem", ossl.read("fullchain.pem"))])
    first = validate_material(material, ValidateOptions(extra_roots=[ossl_root]))
    later = validate_material(
        material,
        ValidateOptions(extra_roots=[ossl_root], now=dt.datetime.now(dt.UTC).replace(year=2100)),
    )
    assert "no_private_key" in first.codes and "expired" not in first.codes
    assert "expired" in later.codes


# --- leaf choice and keys -----------------------------------------------------------------


def test_no_certificate(ossl: OpenSSLPKI) -> None:
    report = run([("leaf.key", ossl.key_pem)])
    assert report.codes == ["no_certificate"] and report.leaf is None
    assert report.to_dict()["certificate"] is None


def test_no_leaf_certificate(ossl: OpenSSLPKI) -> None:
    report = run([("chain.pem", ossl.inter_pem + ossl.root_pem)])
    assert "no_leaf_certificate" in report.codes and not report.valid


def test_multiple_leaves_error_and_warning(inter: CA, root: CA) -> None:
    a = inter.leaf(sans=["a.example.com"], key=rsa_key(2048))
    b = inter.leaf(sans=["b.example.com"], key=ec_key("P-256", index=40))
    both = [("a.pem", a.pem), ("b.pem", b.pem), ("inter.pem", inter.issued.pem)]
    undecided = run(both, roots=[root.cert])
    assert severity(undecided, "multiple_leaf_certificates") is Severity.ERROR
    assert undecided.leaf is None
    by_key = run([*both, ("b.key", key_pem(b.key))], roots=[root.cert])
    assert severity(by_key, "multiple_leaf_certificates") is Severity.WARNING
    assert by_key.leaf == b.cert and by_key.valid
    by_domain = run(both, roots=[root.cert], domain="a.example.com")
    assert by_domain.leaf == a.cert
    assert severity(by_domain, "multiple_leaf_certificates") is Severity.WARNING


def test_no_private_key_and_certificate_in_the_key_place(
    ossl: OpenSSLPKI, ossl_root: x509.Certificate
) -> None:
    plain = run([("fullchain.pem", ossl.read("fullchain.pem"))], roots=[ossl_root])
    assert plain.codes[0] == "no_private_key"
    misplaced = run(
        [("cert.pem", ossl.leaf_pem), ("key.pem", ossl.leaf_pem), ("chain.pem", ossl.inter_pem)],
        roots=[ossl_root],
    )
    assert "key.pem holds a certificate" in message(misplaced, "no_private_key")


def test_key_mismatch(ossl: OpenSSLPKI, ossl_root: x509.Certificate) -> None:
    report = run(
        [("fullchain.pem", ossl.read("fullchain.pem")), ("other.key", ossl.ec_key_pem)],
        roots=[ossl_root],
    )
    assert report.codes[0] == "key_mismatch"
    assert "other.key" in message(report, "key_mismatch")


def test_key_too_large_openssl(ossl: OpenSSLPKI, ossl_root: x509.Certificate) -> None:
    key = ossl.make_rsa_key(4160, "big.key")
    leaf = ossl.make_leaf(["big.example.com"], key=key, name="big")
    report = run(
        [("big.pem", leaf.read_bytes()), ("big.key", key.read_bytes()), ("c", ossl.inter_pem)],
        roots=[ossl_root],
    )
    assert report.codes[0] == "key_too_large" and "4160" in message(report, "key_too_large")
    assert report.to_dict()["certificate"]["key"] == {"type": "RSA", "bits": 4160}
    alone = run([("big.key", key.read_bytes())])
    assert set(alone.codes) == {"no_certificate", "key_too_large"}


def test_key_too_small_and_unsupported(inter: CA, root: CA) -> None:
    small = inter.leaf(key=rsa_key(1024))
    report = run([("c.pem", small.pem), ("k.pem", key_pem(small.key))], roots=[root.cert])
    assert "key_too_small" in report.codes
    ed = ed25519.Ed25519PrivateKey.generate()
    edleaf = inter.leaf(key=ed)
    report = run([("c.pem", edleaf.pem), ("k.pem", key_pem(ed))], roots=[root.cert])
    assert "unsupported_key_type" in report.codes
    p521 = inter.leaf(key=ec_key("P-521"))
    report = run([("c.pem", p521.pem), ("k.pem", key_pem(p521.key))], roots=[root.cert])
    assert "unsupported_key_type" in report.codes and "P-521" in message(
        report, "unsupported_key_type"
    )


# --- leaf checks and domain ---------------------------------------------------------------


def _with_key(inter: CA, root: CA, domain: str | None = None, **kwargs: object) -> Report:
    key = rsa_key(2048)
    leaf = inter.leaf(key=key, **kwargs)  # type: ignore[arg-type]
    return run(
        [("cert.pem", leaf.pem), ("chain.pem", inter.issued.pem), ("key.pem", key_pem(key))],
        roots=[root.cert],
        domain=domain,
    )


@pytest.mark.parametrize(
    ("kwargs", "code", "sev"),
    [
        ({"include_san": False}, "no_subject_alt_name", Severity.ERROR),
        ({"critical_san": True}, "critical_subject_alt_name", Severity.WARNING),
        ({"eku": [ExtendedKeyUsageOID.CLIENT_AUTH]}, "no_server_auth", Severity.ERROR),
        ({"not_before": NOW - dt.timedelta(days=100), "days": 10}, "expired", Severity.ERROR),
        ({"not_before": NOW + dt.timedelta(days=3)}, "not_yet_valid", Severity.ERROR),
        ({"days": 10}, "expiring_soon", Severity.WARNING),
    ],
)
def test_leaf_findings_end_to_end(
    inter: CA, root: CA, kwargs: dict[str, object], code: str, sev: Severity
) -> None:
    report = _with_key(inter, root, **kwargs)
    assert severity(report, code) is sev
    assert report.valid == (sev is not Severity.ERROR)


def test_validity_too_long_public_warning_private_info(inter: CA, root: CA) -> None:
    # Anchored at a --trust-store root: a root the team named, so private: info.
    private = _with_key(inter, root, days=800)
    assert severity(private, "validity_too_long") is Severity.INFO and private.valid


def test_domain_mismatch_and_invalid_domain(ossl: OpenSSLPKI, ossl_root: x509.Certificate) -> None:
    files = [("fullchain.pem", ossl.read("fullchain.pem")), ("leaf.key", ossl.key_pem)]
    wrong = run(files, roots=[ossl_root], domain="shop.example.com")
    assert wrong.codes == ["domain_mismatch"]
    assert "app.example.com, www.example.com" in message(wrong, "domain_mismatch")
    bad = run(files, roots=[ossl_root], domain="not a host")
    assert bad.codes == ["invalid_domain"]


def test_self_signed(ossl: OpenSSLPKI) -> None:
    issued = self_signed_leaf(["self.example.com"], key=ec_key("P-256", index=50))
    report = run([("self.pem", issued.pem), ("self.key", key_pem(issued.key))])
    assert "self_signed" in report.codes and not report.valid
    assert report.chain == []


def test_weak_signature_leaf_openssl(ossl: OpenSSLPKI, ossl_root: x509.Certificate) -> None:
    ossl.openssl(
        "x509", "-req", "-in", "leaf.csr", "-CA", "inter.pem", "-CAkey", "inter.key",
        "-set_serial", "88", "-days", "60", "-sha1", "-extfile", "leaf.ext",
        "-out", "sha1.pem",
    )  # fmt: skip
    report = run(
        [("sha1.pem", ossl.read("sha1.pem")), ("k", ossl.key_pem), ("c", ossl.inter_pem)],
        roots=[ossl_root],
    )
    assert "weak_signature" in report.codes and not report.valid


# --- chain findings through validate() ----------------------------------------------------


def test_chain_incomplete(ossl: OpenSSLPKI, ossl_root: x509.Certificate) -> None:
    report = run([("leaf.pem", ossl.leaf_pem), ("leaf.key", ossl.key_pem)], roots=[ossl_root])
    assert report.codes[0] == "chain_incomplete"
    assert "OpenSSL Inter" in message(report, "chain_incomplete")


def test_private_root_and_chain_order(ossl: OpenSSLPKI) -> None:
    report = run(
        [("bundle.pem", ossl.root_pem + ossl.inter_pem + ossl.leaf_pem), ("k", ossl.key_pem)]
    )
    assert report.valid, report.findings
    assert {"private_root", "chain_order"} <= set(report.codes)
    # The written chain is in order and leaves the self-signed root out.
    assert x509.load_pem_x509_certificates(report.chain_pem()) == [
        x509.load_pem_x509_certificate(ossl.leaf_pem),
        x509.load_pem_x509_certificate(ossl.inter_pem),
    ]


def test_chain_duplicate_and_extra(ossl: OpenSSLPKI, ossl_root: x509.Certificate) -> None:
    stranger = CA.root("Unrelated Root").cert
    extra = pem_bundle(stranger)
    report = run(
        [
            ("fullchain.pem", ossl.read("fullchain.pem")),
            ("chain.pem", ossl.inter_pem),
            ("other.pem", extra),
            ("k", ossl.key_pem),
        ],
        roots=[ossl_root],
    )
    assert report.valid, report.findings
    assert {"chain_duplicate", "chain_extra_certificates"} <= set(report.codes)


def test_chain_invalid(root: CA) -> None:
    not_a_ca = root.intermediate("Not A CA", ca=False)
    key = rsa_key(2048)
    leaf = not_a_ca.leaf(key=key)
    report = run(
        [("c.pem", leaf.pem), ("i.pem", not_a_ca.issued.pem), ("k.pem", key_pem(key))],
        roots=[root.cert],
    )
    assert "chain_invalid" in report.codes and not report.valid


def test_weak_signature_on_intermediate(ossl: OpenSSLPKI, ossl_root: x509.Certificate) -> None:
    ossl.openssl(
        "x509", "-req", "-in", "inter.csr", "-CA", "root.pem", "-CAkey", "root.key",
        "-set_serial", "3", "-days", "300", "-sha1", "-extfile", "ca.ext",
        "-out", "inter-sha1.pem",
    )  # fmt: skip
    report = run(
        [("l", ossl.leaf_pem), ("k", ossl.key_pem), ("i", ossl.read("inter-sha1.pem"))],
        roots=[ossl_root],
    )
    assert "weak_signature" in report.codes and not report.valid


class _Issuers(http.server.BaseHTTPRequestHandler):
    bodies: ClassVar[dict[str, bytes]] = {}

    def do_GET(self) -> None:
        body = self.bodies.get(self.path)
        self.send_response(200 if body else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def http_base() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Issuers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_chain_completed_by_fetch(root: CA, http_base: str) -> None:
    inter = root.intermediate("Fetched Inter")
    _Issuers.bodies["/inter.der"] = inter.issued.der
    key = rsa_key(2048)
    leaf = inter.leaf(key=key, aia_url=f"{http_base}/inter.der")
    files = [("c.pem", leaf.pem), ("k.pem", key_pem(key))]
    without = run(files, roots=[root.cert])
    assert "chain_incomplete" in without.codes
    assert f"{http_base}/inter.der" in message(without, "chain_incomplete")
    fetched = run(
        files,
        roots=[root.cert],
        fetch_missing=True,
        fetcher=HttpIssuerFetcher(allow_local=True),
    )
    assert fetched.valid, fetched.findings
    assert "chain_completed" in fetched.codes
    assert [e.source for e in fetched.chain] == ["fetched", "trust_store"]
    assert x509.load_pem_x509_certificates(fetched.chain_pem())[1] == inter.cert


# --- reading findings, as validate() reports them -----------------------------------------


def test_a_csr_instead_of_the_certificate_is_an_error_beside_it_a_warning(
    ossl: OpenSSLPKI, ossl_root: x509.Certificate
) -> None:
    csr = ("req.csr", ossl.read("leaf.csr.pem"))
    alone = run([csr, ("key.pem", ossl.key_pem)], roots=[ossl_root])
    assert alone.verdict == "invalid"
    assert [f.severity for f in alone.findings if f.code == "certificate_request"] == [
        Severity.ERROR
    ]
    folder = [("fullchain.pem", ossl.read("fullchain.pem")), ("privkey.pem", ossl.key_pem), csr]
    beside = run(folder, roots=[ossl_root])
    assert beside.verdict == "valid", beside.findings
    (found,) = [f for f in beside.findings if f.code == "certificate_request"]
    assert found.severity is Severity.WARNING and "req.csr" in found.message
    assert "ignored" in found.message


def test_reading_findings(ossl: OpenSSLPKI, ossl_root: x509.Certificate) -> None:
    chain = [("fullchain.pem", ossl.read("fullchain.pem"))]
    assert "unrecognized_file" in run([*chain, ("notes.txt", b"hello")]).codes
    assert "certificate_request" in run([("req.pem", ossl.read("leaf.csr.pem"))]).codes
    missing = run([*chain, ("k.pem", ossl.read("leaf.enc-pkcs8.pem"))], roots=[ossl_root])
    assert "password_required" in missing.codes
    assert "k.pem could not be opened" in message(missing, "no_private_key")
    wrong = run([("site.pfx", ossl.read("modern.pfx"))], passwords=Passwords(key=b"not it"))
    assert "wrong_password" in wrong.codes


def test_archive_findings(ossl: OpenSSLPKI, ossl_root: x509.Certificate) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../evil/leaf.pem", ossl.read("fullchain.pem"))
        archive.writestr("leaf.key", ossl.key_pem)
    report = run([("up.zip", buffer.getvalue())], roots=[ossl_root])
    assert severity(report, "archive_unsafe_member") is Severity.WARNING and report.valid
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.pem", b"\0" * (2 * 1024 * 1024))
    limited = run(
        [("bomb.zip", bomb.getvalue())], limits=ArchiveLimits(max_member_bytes=1024 * 1024)
    )
    assert "archive_too_large" in limited.codes


VALIDATE_CODES = {
    "unrecognized_file", "certificate_request", "password_required", "wrong_password",
    "archive_too_large", "archive_unsafe_member", "no_certificate", "no_leaf_certificate",
    "multiple_leaf_certificates", "no_private_key", "key_mismatch", "unsupported_key_type",
    "key_too_large", "key_too_small", "domain_mismatch", "invalid_domain",
    "no_subject_alt_name", "expired", "not_yet_valid", "expiring_soon", "validity_too_long",
    "self_signed", "chain_incomplete", "chain_invalid", "chain_order", "chain_duplicate",
    "chain_extra_certificates", "private_root", "weak_signature", "no_server_auth",
    "chain_completed", "critical_subject_alt_name", "names_covered",
}  # fmt: skip


def test_every_validate_code_is_produced_here() -> None:
    """Runs last in this module: every code validate can produce was seen above."""
    assert set(CATALOG) >= VALIDATE_CODES
    missing = VALIDATE_CODES - PRODUCED
    assert not missing, f"no test produced: {sorted(missing)}"


def test_cli_reference_table_lists_every_validate_code() -> None:
    reference = (Path(__file__).resolve().parent.parent / "docs" / "cli.md").read_text()
    section = reference.split("## `certops validate`", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    listed = {code for row in rows for code in re.findall(r"`([a-z_]+)`", row.split("|")[1])}
    assert listed >= VALIDATE_CODES, sorted(VALIDATE_CODES - listed)


@pytest.mark.parametrize(
    ("name", "named"),
    [("key.pem", True), ("privkey.pem", True), ("server.key", True), ("private key", True),
     ("app_private-key.pem", True), ("monkey.example.com.crt", False), ("keystore.crt", False)],
)  # fmt: skip
def test_certificate_in_the_key_place_by_name(ossl: OpenSSLPKI, name: str, named: bool) -> None:
    report = run([("cert.pem", ossl.leaf_pem), (name, ossl.inter_pem)])
    text = message(report, "no_private_key")
    assert (f"{name} holds a certificate" in text) is named


def test_a_leaf_after_its_chain_in_one_file_is_chain_order_across_files_is_not(
    ossl: OpenSSLPKI, ossl_root: x509.Certificate
) -> None:
    """Order matters inside a bundle (servers send it as it is), not between files named
    in any order on a command line or dropped into a DM."""
    reversed_bundle = run(
        [("bundle.pem", ossl.inter_pem + ossl.leaf_pem), ("k", ossl.key_pem)], roots=[ossl_root]
    )
    assert reversed_bundle.valid, reversed_bundle.findings
    assert reversed_bundle.codes.count("chain_order") == 1
    assert "leaf" in message(reversed_bundle, "chain_order")
    separate = run(
        [("chain.pem", ossl.inter_pem), ("cert.pem", ossl.leaf_pem), ("k", ossl.key_pem)],
        roots=[ossl_root],
    )
    assert separate.valid and "chain_order" not in separate.codes, separate.findings
