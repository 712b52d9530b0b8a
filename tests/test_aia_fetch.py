"""Completing a chain from AIA caIssuers URLs, against a real HTTP server on loopback."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from bot.pipeline.aia import FetchError, HttpIssuerFetcher, ca_issuers_urls, parse_issuer_body
from bot.pipeline.chain import ChainResult, build_chain
from bot.pipeline.trust import TrustStore
from tests.support.aia_site import Route, Site, _handler
from tests.support.pki import CA, NOW, ec_key, pem_bundle


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    routes: dict[str, Route] = {}
    holder = Site("", routes)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(holder))
    server.daemon_threads = True
    holder.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield holder
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def pki() -> dict[str, CA]:
    root = CA.root("AIA Root", key=ec_key("P-256", 401))
    inter = root.intermediate("AIA Intermediate", key=ec_key("P-256", 402))
    return {"root": root, "inter": inter}


FETCH = HttpIssuerFetcher(allow_local=True)


def codes(result: ChainResult) -> list[str]:
    return [f.code for f in result.findings]


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def p7b(tmp_path: Path, certs: list[x509.Certificate], outform: str) -> bytes:
    """A PKCS#7 bundle made by openssl, as CAs serve them."""
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(pem_bundle(*certs))
    out = subprocess.run(
        ["openssl", "crl2pkcs7", "-nocrl", "-certfile", str(bundle), "-outform", outform],
        capture_output=True, check=True,
    )  # fmt: skip
    return out.stdout


def complete(leaf: x509.Certificate, roots: list[CA], **kwargs: object) -> ChainResult:
    return build_chain(
        leaf,
        [],
        trust=TrustStore([r.cert for r in roots], include_certifi=False),
        now=NOW,
        fetch_missing=True,
        fetcher=kwargs.pop("fetcher", FETCH),  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("form", ["der", "pem", "p7b-der", "p7b-pem"])
def test_missing_issuer_is_fetched_in_every_served_form(
    site: Site, pki: dict[str, CA], tmp_path: Path, form: str
) -> None:
    inter, root = pki["inter"], pki["root"]
    other = CA.root("AIA Bundle Neighbour", key=ec_key("P-256", 403))
    bodies = {
        "der": der(inter.cert),
        "pem": pem_bundle(inter.cert),
        # A bundle with another certificate first: the issuer is picked by signature.
        "p7b-der": p7b(tmp_path, [other.cert, inter.cert], "DER"),
        "p7b-pem": p7b(tmp_path, [other.cert, inter.cert], "PEM"),
    }
    site.routes[f"/{form}"] = Route(body=bodies[form])
    leaf = inter.leaf(sans=[f"{form}.example.com"], aia_url=site.url(f"/{form}"))
    result = complete(leaf.cert, [root])
    assert result.trusted
    assert [link.source for link in result.links] == ["uploaded", "fetched", "trust_store"]
    assert result.links[1].cert == inter.cert
    assert result.fetched == [inter.cert]
    assert codes(result) == ["chain_completed"]
    assert site.url(f"/{form}") in result.findings[0].message
    assert "AIA Intermediate" in result.findings[0].message
    assert result.served_chain() == [leaf.cert, inter.cert]


def test_two_levels_are_fetched(site: Site, pki: dict[str, CA]) -> None:
    root = pki["root"]
    upper = root.intermediate(
        "AIA Upper", key=ec_key("P-256", 404), aia_url=site.url("/root-is-trusted")
    )
    lower = upper.intermediate("AIA Lower", key=ec_key("P-256", 405), aia_url=site.url("/upper"))
    site.routes["/upper"] = Route(body=der(upper.cert))
    site.routes["/lower"] = Route(body=der(lower.cert))
    leaf = lower.leaf(sans=["twolevels.example.com"], aia_url=site.url("/lower"))
    result = complete(leaf.cert, [root])
    assert result.trusted
    assert result.fetched == [lower.cert, upper.cert]
    assert codes(result) == ["chain_completed", "chain_completed"]
    assert "/root-is-trusted" not in site.hits  # the root came from the trust store


def _failure(result: ChainResult) -> str:
    assert not result.trusted
    assert result.fetched == []
    assert codes(result) == ["chain_incomplete"]
    return result.findings[0].message


def test_404_keeps_chain_incomplete_with_the_reason(site: Site, pki: dict[str, CA]) -> None:
    leaf = pki["inter"].leaf(sans=["gone.example.com"], aia_url=site.url("/gone"))
    message = _failure(complete(leaf.cert, [pki["root"]]))
    assert "HTTP 404" in message and site.url("/gone") in message
    assert "CN=AIA Intermediate" in message


@pytest.mark.parametrize("send_length", [True, False], ids=["declared", "streamed"])
def test_oversize_body_is_refused(site: Site, pki: dict[str, CA], send_length: bool) -> None:
    path = f"/big-{send_length}"
    site.routes[path] = Route(body=b"\x30" * (2 << 20), send_length=send_length)
    leaf = pki["inter"].leaf(sans=["big.example.com"], aia_url=site.url(path))
    message = _failure(complete(leaf.cert, [pki["root"]]))
    assert "larger than 1 MiB" in message


def test_wrong_certificate_is_refused(site: Site, pki: dict[str, CA]) -> None:
    stranger = CA.root("AIA Stranger", key=ec_key("P-256", 406))
    site.routes["/wrong"] = Route(body=der(stranger.cert))
    leaf = pki["inter"].leaf(sans=["wrong.example.com"], aia_url=site.url("/wrong"))
    message = _failure(complete(leaf.cert, [pki["root"]]))
    assert "AIA Stranger" in message and "did not issue" in message


def test_a_page_that_is_not_a_certificate(site: Site, pki: dict[str, CA]) -> None:
    site.routes["/html"] = Route(body=b"<html>sign in</html>", content_type="text/html")
    leaf = pki["inter"].leaf(sans=["html.example.com"], aia_url=site.url("/html"))
    assert "not a certificate" in _failure(complete(leaf.cert, [pki["root"]]))


def test_redirect_to_another_scheme_is_refused(site: Site, pki: dict[str, CA]) -> None:
    site.routes["/to-file"] = Route(302, location="file:///etc/passwd")
    leaf = pki["inter"].leaf(sans=["file.example.com"], aia_url=site.url("/to-file"))
    assert "only http and https" in _failure(complete(leaf.cert, [pki["root"]]))


def test_http_redirect_is_followed(site: Site, pki: dict[str, CA]) -> None:
    site.routes["/moved"] = Route(301, location=site.url("/der-target"))
    site.routes["/der-target"] = Route(body=der(pki["inter"].cert))
    leaf = pki["inter"].leaf(sans=["moved.example.com"], aia_url=site.url("/moved"))
    assert complete(leaf.cert, [pki["root"]]).trusted


def test_slow_server_times_out(site: Site, pki: dict[str, CA]) -> None:
    site.routes["/slow"] = Route(body=der(pki["inter"].cert), delay=1.0)
    leaf = pki["inter"].leaf(sans=["slow.example.com"], aia_url=site.url("/slow"))
    started = time.monotonic()
    result = complete(leaf.cert, [pki["root"]], fetcher=HttpIssuerFetcher(0.2, allow_local=True))
    assert time.monotonic() - started < 0.9
    assert "0.2 s" in _failure(result) or "timed out" in _failure(result)


def test_non_http_aia_url_is_not_fetched(pki: dict[str, CA]) -> None:
    leaf = pki["inter"].leaf(sans=["ldap.example.com"], aia_url="ldap://ldap.example/cn=ca")
    assert "only http and https" in _failure(complete(leaf.cert, [pki["root"]]))


def test_no_aia_url_says_so(pki: dict[str, CA]) -> None:
    leaf = pki["inter"].leaf(sans=["noaia.example.com"])
    assert "names no CA issuers URL" in _failure(complete(leaf.cert, [pki["root"]]))


def test_fetched_root_that_is_not_trusted_is_incomplete(site: Site) -> None:
    lone_root = CA.root("AIA Untrusted Root", key=ec_key("P-256", 407))
    inter = lone_root.intermediate(
        "AIA Untrusted Int", key=ec_key("P-256", 408), aia_url=site.url("/untrusted-root")
    )
    site.routes["/untrusted-int"] = Route(body=der(inter.cert))
    site.routes["/untrusted-root"] = Route(body=der(lone_root.cert))
    leaf = inter.leaf(sans=["untrusted.example.com"], aia_url=site.url("/untrusted-int"))
    result = complete(leaf.cert, [])
    assert not result.trusted and result.anchor == "none"
    assert "chain_incomplete" in codes(result)
    incomplete = next(f for f in result.findings if f.code == "chain_incomplete")
    assert (
        "AIA Untrusted Root" in incomplete.message
        and "not in the trust store" in incomplete.message
    )


def test_nothing_is_fetched_without_fetch_missing(site: Site, pki: dict[str, CA]) -> None:
    site.routes["/not-asked"] = Route(body=der(pki["inter"].cert))
    leaf = pki["inter"].leaf(sans=["notasked.example.com"], aia_url=site.url("/not-asked"))
    result = build_chain(
        leaf.cert, [], trust=TrustStore([pki["root"].cert], include_certifi=False), now=NOW
    )
    assert codes(result) == ["chain_incomplete"]
    assert "/not-asked" not in site.hits


def test_default_fetcher_refuses_loopback(site: Site, pki: dict[str, CA]) -> None:
    site.routes["/local"] = Route(body=der(pki["inter"].cert))
    with pytest.raises(FetchError, match="local address"):
        HttpIssuerFetcher()(site.url("/local"))
    assert "/local" not in site.hits


def test_default_fetcher_refuses_localhost_by_name() -> None:
    fetcher = HttpIssuerFetcher()
    with pytest.raises(FetchError, match="local address"):
        fetcher.fetch_bytes("http://localhost:1/x")


def test_ca_issuers_urls_and_body_parsing(pki: dict[str, CA]) -> None:
    leaf = pki["inter"].leaf(sans=["urls.example.com"], aia_url="http://ca.example/i.crt")
    assert ca_issuers_urls(leaf.cert) == ["http://ca.example/i.crt"]
    assert ca_issuers_urls(pki["root"].cert) == []
    assert parse_issuer_body(b"  " + der(pki["inter"].cert)) == [pki["inter"].cert]
    assert parse_issuer_body(b"garbage") == []


def test_der_ending_in_whitespace_bytes_is_not_stripped(pki: dict[str, CA]) -> None:
    """DER may end in 0x20/0x0a: the body is tried as served before any stripping."""
    for index in range(2000):
        ca = pki["root"].intermediate(f"Trailing {index}", key=ec_key("P-256", 402))
        body = der(ca.cert)
        if body[-1:].isspace():
            assert parse_issuer_body(body) == [ca.cert]
            assert parse_issuer_body(body + b"\n") == [ca.cert]  # added by a server
            return
    pytest.fail("no DER ending in a whitespace byte was produced")  # p ≈ 1e-10


def test_fetched_sha1_root_is_untrusted_but_not_called_weak(site: Site, tmp_path: Path) -> None:
    """A root's self-signature is never checked: SHA-1 there is no weak_signature."""
    from tests.support.pki import Issued, key_pem, rsa_key

    key = rsa_key(2048, 409)
    (tmp_path / "root.key").write_bytes(key_pem(key))
    subprocess.run(
        ["openssl", "req", "-new", "-x509", "-key", "root.key", "-sha1", "-days", "30",
         "-subj", "/CN=AIA SHA1 Root", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", "root.pem"],
        cwd=tmp_path, check=True, capture_output=True,
    )  # fmt: skip
    root_cert = x509.load_pem_x509_certificate((tmp_path / "root.pem").read_bytes())
    root = CA(Issued(root_cert, key))
    inter = root.intermediate(
        "AIA Under SHA1 Root", key=ec_key("P-256", 410), aia_url=site.url("/sha1-root")
    )
    site.routes["/sha1-root"] = Route(body=der(root_cert))
    site.routes["/under-sha1"] = Route(body=der(inter.cert))
    leaf = inter.leaf(sans=["sha1root.example.com"], aia_url=site.url("/under-sha1"))
    result = complete(leaf.cert, [])
    assert result.fetched == [inter.cert, root_cert]
    assert "weak_signature" not in codes(result)
    assert "chain_incomplete" in codes(result)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x",
        "http://[::1]/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://169.254.169.254/latest/meta-data",
        "http://0.0.0.0/x",
    ],
)
def test_default_fetcher_refuses_local_and_metadata_addresses(url: str) -> None:
    with pytest.raises(FetchError, match="local address"):
        HttpIssuerFetcher().fetch_bytes(url)


def test_a_server_dripping_bytes_is_cut_off_at_the_deadline(site: Site, pki: dict[str, CA]) -> None:
    site.routes["/drip"] = Route(body=der(pki["inter"].cert), drip=0.1)
    leaf = pki["inter"].leaf(sans=["drip.example.com"], aia_url=site.url("/drip"))
    started = time.monotonic()
    result = complete(leaf.cert, [pki["root"]], fetcher=HttpIssuerFetcher(0.4, allow_local=True))
    assert time.monotonic() - started < 1.0  # the whole body would take ~3 s
    assert "no complete answer within 0.4 s" in _failure(result)


def test_a_host_that_does_not_resolve_is_a_reason_not_a_crash() -> None:
    with pytest.raises(FetchError, match=r"could not be resolved"):
        HttpIssuerFetcher(timeout=2.0).fetch_bytes("http://no-such-host.invalid/ca.der")


def test_the_connection_itself_is_fenced_not_only_the_url_check(site: Site) -> None:
    """Against DNS rebinding: even past the URL check (a name that answered a public
    address then), the connection is made only to an address checked at connect time."""
    from bot.pipeline.aia import _guarded_connect

    fetcher = HttpIssuerFetcher(timeout=1.0)
    before = sum(site.hits.values())
    with pytest.raises(FetchError, match=r"the host 127\.0\.0\.1 is a local address"):
        fetcher._opener("example.invalid").open(site.url("/inter.der"), timeout=1.0)
    with pytest.raises(FetchError, match="the host localhost is a local address"):
        _guarded_connect(False, 1.0)(("localhost", 80))
    assert sum(site.hits.values()) == before  # no request reached the server
    # allow_local=True connects (the same guard, the fence lifted)
    site.routes["/guard-ok"] = Route(body=b"ok", content_type="text/plain")
    local = HttpIssuerFetcher(timeout=1.0, allow_local=True)
    with local._opener("127.0.0.1").open(site.url("/guard-ok"), timeout=1.0) as response:
        assert response.read() == b"ok"
