"""The services tests' helpers themselves (tests/support/services.py)."""

from __future__ import annotations

from cryptography.hazmat.primitives.serialization import pkcs12

from tests.support.services import PFX_PASSWORD, Pki, pem_upload, pfx_upload


def test_support_uploads_are_what_they_claim(pki: Pki) -> None:
    """The helpers themselves: the PEM key is encrypted, the PFX opens with its password."""
    files = pem_upload(pki.app, pki.inter)
    assert b"ENCRYPTED PRIVATE KEY" in files[1].data
    key, cert, extra = pkcs12.load_key_and_certificates(
        pfx_upload(pki.app, pki.inter)[0].data, PFX_PASSWORD
    )
    assert cert == pki.app.cert and key is not None and len(extra) == 1
