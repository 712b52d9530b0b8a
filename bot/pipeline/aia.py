"""Fetching a missing issuer from the URL its child names (AIA caIssuers).

Browsers quietly fetch a missing intermediate; many servers and API clients do not, so a
chain that works in Chrome can fail elsewhere. The bot fetches the issuer so that it can
say exactly what is missing and hand back the completed chain.

The URL comes from an uploaded certificate, i.e. from whoever uploaded it, so the fetch is
fenced in: http and https only (also after a redirect), a few redirects at most, a time
budget for the whole fetch, a size cap on the body, and by default no loopback,
link-local or otherwise special addresses (a bot must not become a probe of its own host
or of a cloud metadata service). The address check is made again on the very addresses
each connection goes to, so a name that answers differently the second time (DNS
rebinding) gains nothing. Private networks (10/8, 192.168/16, ...) are allowed: that is
where a company's own PKI publishes its certificates. Only the person running
`certops validate` may lift the local fence for their own machine
(`--allow-local-fetch`); the bot never does.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Protocol
from urllib.parse import urljoin, urlsplit

from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID

from bot.pipeline.trust import certificates_from_pem

if TYPE_CHECKING:  # urllib.request costs ~10 ms to import: only when a fetch happens
    import urllib.error
    import urllib.request

DEFAULT_TIMEOUT = 5.0
DEFAULT_MAX_BYTES = 1 << 20
ALLOWED_SCHEMES = ("http", "https")


def _pkcs7() -> Any:
    """cryptography's PKCS#7 module, loaded when an issuer is fetched (it pulls in the
    `email` package: ~15 ms of every `certops validate` that fetches nothing)."""
    from cryptography.hazmat.primitives.serialization import pkcs7

    return pkcs7


class FetchError(Exception):
    """A fetch that gave no certificate; the message is shown to the person as the
    reason (no traceback, no internals)."""


class IssuerFetcher(Protocol):
    """Fetch the certificates published at a caIssuers URL.

    Returns every certificate the body holds (a PKCS#7 bundle may hold several); the
    chain builder picks the one that signed the certificate. Raises `FetchError` with a
    human reason on any failure.
    """

    def __call__(self, url: str) -> Sequence[x509.Certificate]: ...


def ca_issuers_urls(cert: x509.Certificate) -> list[str]:
    """The caIssuers URLs of a certificate's AIA extension, in order (may be empty)."""
    try:
        aia = cert.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_INFORMATION_ACCESS).value
    except (
        x509.ExtensionNotFound,
        x509.DuplicateExtension,
        x509.UnsupportedGeneralNameType,
        ValueError,
        TypeError,
    ):
        return []
    if not isinstance(aia, x509.AuthorityInformationAccess):
        return []
    return [
        desc.access_location.value
        for desc in aia
        if desc.access_method == AuthorityInformationAccessOID.CA_ISSUERS
        and isinstance(desc.access_location, x509.UniformResourceIdentifier)
    ]


def parse_issuer_body(data: bytes) -> list[x509.Certificate]:
    """Certificates from a body as CAs serve them: DER, PEM, or PKCS#7 (DER or PEM)."""
    stripped = data.strip()
    with warnings.catch_warnings():
        # openssl crl2pkcs7 output loads with a BER-fallback UserWarning.
        warnings.simplefilter("ignore")
        if stripped.startswith(b"-----BEGIN"):
            if b"-----BEGIN PKCS7-----" in stripped:
                try:
                    return list(_pkcs7().load_pem_pkcs7_certificates(stripped))
                except ValueError:
                    return []
            return certificates_from_pem(stripped)
        # DER: cut at the length its header declares, so trailing bytes a server added
        # are ignored without stripping the DER's own last bytes (0x20, 0x0a happen).
        return _der_certificates(_der_element(data.lstrip()))


def _der_element(data: bytes) -> bytes:
    """The first DER element of `data` (all of `data` when its header is unreadable)."""
    if len(data) < 2 or data[0] != 0x30:
        return data
    first = data[1]
    if first < 0x80:
        return data[: 2 + first]
    count = first & 0x7F
    if count == 0 or count > 4 or len(data) < 2 + count:
        return data  # indefinite (BER) or absurd lengths: let the parser decide
    length = int.from_bytes(data[2 : 2 + count], "big")
    return data[: 2 + count + length]


def _der_certificates(body: bytes) -> list[x509.Certificate]:
    try:
        return [x509.load_der_x509_certificate(body)]
    except ValueError:
        pass
    try:
        return list(_pkcs7().load_der_pkcs7_certificates(body))
    except ValueError:
        return []


def _resolve(host: str, port: int, timeout: float) -> list[str]:
    """The host's addresses, within `timeout`: the system resolver has no time limit of
    its own, and a chat bot cannot wait on it. (A resolver still busy after the
    timeout finishes in its daemon thread; its answer is dropped.)"""
    answer: dict[str, object] = {}

    def work() -> None:
        try:
            answer["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            answer["error"] = exc

    worker = threading.Thread(target=work, name="certops-aia-resolve", daemon=True)
    worker.start()
    worker.join(timeout)
    infos = answer.get("infos")
    if worker.is_alive():
        raise FetchError(f"the host {host} could not be resolved within {timeout:g} s")
    if not isinstance(infos, list):
        raise FetchError(f"the host {host} could not be resolved")
    return [str(info[4][0]) for info in infos]


def _allowed_addresses(host: str, port: int, allow_local: bool, timeout: float) -> list[str]:
    """The host's addresses, every one checked: FetchError when any is forbidden."""
    texts = _resolve(host, port, timeout)
    if allow_local:
        return texts
    for text in texts:
        address = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 scope id
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # ::ffff:127.0.0.1 is loopback too
        if (
            address.is_loopback
            or address.is_link_local
            or address.is_multicast
            or address.is_unspecified
            or address.is_reserved
        ):
            raise FetchError(f"the host {host} is a local address ({address})")
    return texts


def _check_url(url: str, allow_local: bool, timeout: float = DEFAULT_TIMEOUT) -> None:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise FetchError(f"only http and https URLs are fetched, not {parts.scheme or url!r}")
    if not parts.hostname:
        raise FetchError(f"the URL {url} names no host")
    if allow_local:
        return
    _allowed_addresses(parts.hostname, parts.port or 80, allow_local, timeout)


def _guarded_connect(allow_local: bool, timeout: float) -> Callable[..., socket.socket]:
    """A `create_connection` that connects only to an address it has just checked.

    Checking the URL's host and then letting urllib resolve it again would leave a gap:
    a name that answers a public address to the check and 127.0.0.1 to the connection
    (DNS rebinding) would get through. Here the addresses checked are the addresses
    connected to. (TLS still checks the certificate against the host name.)
    """

    def connect(
        address: tuple[str, int],
        conn_timeout: float | None = None,
        source_address: tuple[str, int] | None = None,
        **_: object,
    ) -> socket.socket:
        host, port = address
        failure: OSError | None = None
        for text in _allowed_addresses(host, port, allow_local, timeout):
            try:
                return socket.create_connection((text, port), conn_timeout, source_address)
            except OSError as exc:
                failure = exc
        raise failure or OSError(f"no address for {host}")

    return connect


def _guarded(
    handler: type[urllib.request.AbstractHTTPHandler], allow_local: bool, timeout: float
) -> urllib.request.BaseHandler:
    """`handler` whose direct connections go through `_guarded_connect` (a proxy, set by
    whoever runs the process, resolves the host itself: only the URL check applies)."""
    from http.client import HTTPConnection

    class Guarded(handler):  # type: ignore[valid-type,misc]
        def do_open(
            self,
            http_class: Callable[..., HTTPConnection],
            req: urllib.request.Request,
            **kwargs: object,
        ) -> object:
            if req.has_proxy():
                return super().do_open(http_class, req, **kwargs)

            def make(host: str, **conn_args: object) -> HTTPConnection:
                connection = http_class(host, **conn_args)
                setattr(connection, "_create_connection", _guarded_connect(allow_local, timeout))  # noqa: B010
                return connection

            return super().do_open(make, req, **kwargs)

    return Guarded()


def _fenced_redirects(allow_local: bool, timeout: float) -> urllib.request.BaseHandler:
    """A handler that follows a few redirects, never to another scheme or a forbidden
    address."""
    import urllib.request
    from http.client import HTTPMessage

    class FencedRedirects(urllib.request.HTTPRedirectHandler):
        max_redirections = 3

        def redirect_request(
            self,
            req: urllib.request.Request,
            fp: IO[bytes],
            code: int,
            msg: str,
            headers: HTTPMessage,
            newurl: str,
        ) -> urllib.request.Request | None:
            _check_url(newurl, allow_local, timeout)
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    return FencedRedirects()


@dataclass(frozen=True)
class HttpIssuerFetcher:
    """The real fetcher: urllib, fenced (see the module docstring).

    `allow_local=True` permits loopback and link-local hosts (tests with a server on
    127.0.0.1; a workstation-local PKI).
    """

    timeout: float = DEFAULT_TIMEOUT
    max_bytes: int = DEFAULT_MAX_BYTES
    allow_local: bool = False

    def _opener(self, host: str) -> urllib.request.OpenerDirector:
        import urllib.request

        local = host in {"localhost"} or _is_loopback_literal(host)
        handlers: list[urllib.request.BaseHandler] = [
            # No proxy for loopback; the environment's proxy settings otherwise.
            urllib.request.ProxyHandler({} if local else None),
            _guarded(urllib.request.HTTPHandler, self.allow_local, self.timeout),
            _guarded(urllib.request.HTTPSHandler, self.allow_local, self.timeout),
            _fenced_redirects(self.allow_local, self.timeout),
            urllib.request.HTTPDefaultErrorHandler(),
            urllib.request.HTTPErrorProcessor(),
        ]
        opener = urllib.request.OpenerDirector()
        for handler in handlers:
            opener.add_handler(handler)
        return opener

    def fetch_bytes(self, url: str) -> bytes:
        """The body at `url`, within the time and size limits."""
        import urllib.error
        import urllib.request

        _check_url(url, self.allow_local, self.timeout)
        deadline = time.monotonic() + self.timeout
        request = urllib.request.Request(
            url,
            headers={
                "User-Agent": "certops-aia-fetch",
                "Accept": "application/pkix-cert, application/pkcs7-mime, */*",
            },
        )
        host = urlsplit(url).hostname or ""
        try:
            with self._opener(host).open(request, timeout=self.timeout) as response:
                declared = response.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > self.max_bytes:
                    raise FetchError(f"the answer is larger than {_size(self.max_bytes)}")
                return self._read_capped(response, deadline)
        except FetchError:
            raise
        except urllib.error.HTTPError as exc:
            if 300 <= exc.code < 400:
                raise FetchError(_redirect_refusal(exc, self.allow_local)) from None
            raise FetchError(f"the server answered HTTP {exc.code} {exc.reason}") from None
        except urllib.error.URLError as exc:
            raise FetchError(f"the server could not be reached ({_reason(exc.reason)})") from None
        except TimeoutError:
            raise FetchError(f"no answer within {self.timeout:g} s") from None
        except OSError as exc:
            raise FetchError(f"the fetch failed ({_reason(exc)})") from None

    def _read_capped(self, response: IO[bytes], deadline: float) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            if time.monotonic() > deadline:
                raise FetchError(f"no complete answer within {self.timeout:g} s")
            # read1: what has arrived (one socket read), so a server that drips bytes
            # cannot hold the fetch past its deadline the way read(n) would.
            read1 = getattr(response, "read1", None)
            chunk = read1(65536) if read1 is not None else response.read(65536)
            if not chunk:
                return b"".join(chunks)
            total += len(chunk)
            if total > self.max_bytes:
                raise FetchError(f"the answer is larger than {_size(self.max_bytes)}")
            chunks.append(chunk)

    def __call__(self, url: str) -> list[x509.Certificate]:
        certs = parse_issuer_body(self.fetch_bytes(url))
        if not certs:
            raise FetchError("the answer is not a certificate (DER, PEM or PKCS#7)")
        return certs


def _is_loopback_literal(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _reason(reason: object) -> str:
    if isinstance(reason, TimeoutError | socket.timeout):
        return "timed out"
    text = str(reason) or type(reason).__name__
    return text[:200]


def _size(n: int) -> str:
    return f"{n // (1 << 20)} MiB" if n >= 1 << 20 and n % (1 << 20) == 0 else f"{n} bytes"


def _redirect_refusal(error: urllib.error.HTTPError, allow_local: bool) -> str:
    """Why a redirect was not followed (urllib refuses other schemes before asking us)."""
    location = error.headers.get("Location") if error.headers else None
    if not location:
        return f"the server answered HTTP {error.code} without a usable Location"
    location = urljoin(error.geturl() or "", location)
    try:
        _check_url(location, allow_local)
    except FetchError as refusal:
        return f"the redirect to {location[:200]} was refused: {refusal}"
    return "too many redirects"
