"""The trust store: certifi's roots parsed once and tolerantly, plus `--trust-store` roots."""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from bot.pipeline import trust as trust_module
from bot.pipeline.trust import (
    TrustStore,
    TrustStoreError,
    certifi_roots,
    certificates_from_pem,
    name_key,
)
from tests.support.pki import CA, key_pem, pem_bundle, rsa_key

ISRG_ROOT_X1 = x509.Name(
    [
        x509.NameAttribute(x509.NameOID.COUNTRY_NAME, "US"),
        x509.NameAttribute(x509.NameOID.ORGANIZATION_NAME, "Internet Security Research Group"),
        x509.NameAttribute(x509.NameOID.COMMON_NAME, "ISRG Root X1"),
    ]
)


def test_certifi_store_holds_a_real_public_root() -> None:
    store = TrustStore()
    found = store.named(ISRG_ROOT_X1)
    assert len(found) == 1
    root = found[0]
    assert root.subject == root.issuer  # self-signed
    assert root in store
    assert len(store) >= 100


def test_certifi_bundle_is_parsed_once_per_process() -> None:
    assert certifi_roots() is certifi_roots()
    # Two stores share the same parsed index (no re-parsing per validation).
    assert trust_module._certifi_index() is trust_module._certifi_index()


def test_trust_store_without_certifi_holds_only_the_extras() -> None:
    root = CA.root("Only Root")
    store = TrustStore([root.cert], include_certifi=False)
    assert len(store) == 1
    assert store.named(ISRG_ROOT_X1) == []
    assert list(store) == [root.cert]


def test_extra_roots_are_found_by_subject_and_by_equivalence() -> None:
    root = CA.root("Extra Root")
    leaf = root.leaf(sans=["a.example.com"])
    store = TrustStore(extra_roots=[root.cert])
    assert store.issuers_named_by(leaf.cert) == [root.cert]
    assert store.equivalent(root.cert) is root.cert
    assert store.equivalent(leaf.cert) is None


def test_from_pem_reads_a_bundle_and_skips_garbage_blocks() -> None:
    one, two = CA.root("Bundle One"), CA.root("Bundle Two")
    garbage = b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
    store = TrustStore.from_pem(pem_bundle(one.cert) + garbage + pem_bundle(two.cert))
    assert {c.subject for c in store.extra_roots} == {one.cert.subject, two.cert.subject}
    assert one.cert in store and two.cert in store


def test_from_pem_accepts_one_der_certificate() -> None:
    root = CA.root("DER Root")
    store = TrustStore.from_pem(root.cert.public_bytes(serialization.Encoding.DER))
    assert store.extra_roots == (root.cert,)


def test_from_pem_without_a_certificate_is_a_clear_error() -> None:
    with pytest.raises(TrustStoreError, match=r"roots\.pem holds no readable certificate"):
        TrustStore.from_pem(key_pem(rsa_key(2048)), source="roots.pem")


def test_name_key_ignores_case_and_string_type() -> None:
    printable = x509.Name(
        [
            x509.NameAttribute(
                x509.NameOID.COMMON_NAME, "Example CA", x509.name._ASN1Type.PrintableString
            )
        ]
    )
    utf8 = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "example ca")])
    assert printable.public_bytes() != utf8.public_bytes()
    assert name_key(printable) == name_key(utf8)


def test_a_serial_zero_root_loads_without_a_warning_escaping(tmp_path: Path) -> None:
    """certifi holds roots with serial number 0 (a deprecation warning today)."""
    key = tmp_path / "root.key"
    key.write_bytes(key_pem(rsa_key(2048, 3)))
    subprocess.run(
        ["openssl", "req", "-new", "-x509", "-key", str(key), "-subj", "/CN=Serial Zero Root",
         "-set_serial", "0", "-days", "30", "-out", str(tmp_path / "zero.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    good = CA.root("After Zero")
    bundle = (tmp_path / "zero.pem").read_bytes() + pem_bundle(good.cert)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        certs = certificates_from_pem(bundle)
    assert good.cert in certs  # the good root after it is never lost
    assert len(certs) in (1, 2)  # the zero-serial root itself: loaded or skipped, no crash


def test_full_store_is_a_cryptography_store_built_once() -> None:
    store = TrustStore()
    assert store.store() is store.store()
    assert TrustStore().store() is store.store()  # certifi-only stores share one
