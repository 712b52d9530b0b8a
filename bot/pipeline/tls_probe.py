"""What a hostname serves: connect with TLS and SNI, read the certificate, hash it.

Only the standard library. The probe does not verify the chain (a wrong or expired
certificate is exactly what it must be able to see); it reports the served leaf's
SHA-256 fingerprint, in the form the record stores (upper-case hex with colons). Where
to connect is injectable: `resolve` maps the hostname to the address to dial (tests map
it to loopback) and `port` defaults to 443; the SNI name stays the hostname.

`timeout` bounds the connection and the handshake together (a hard deadline: a server
that accepts and never speaks, or trickles a byte at a time, ends there).
"""

from __future__ import annotations

import hashlib
import selectors
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

HTTPS_PORT = 443
DEFAULT_TIMEOUT = 10.0

Resolve = Callable[[str], str]


@dataclass(frozen=True)
class ProbeResult:
    hostname: str
    address: str
    port: int
    fingerprint_sha256: str | None = None  # of the served leaf
    error: str | None = None  # why nothing could be read (connection, handshake)
    # The served leaf as sent (DER), unparsed and untrusted: read it with the pipeline's
    # readers before use. Kept so a probe can compare expiry and adopt what is served.
    leaf_der: bytes | None = None

    @property
    def ok(self) -> bool:
        return self.fingerprint_sha256 is not None


def fingerprint(der: bytes) -> str:
    """Upper-case hex with colons, as the record (and `openssl x509 -fingerprint`) has it."""
    return ":".join(f"{byte:02X}" for byte in hashlib.sha256(der).digest())


def normalize_fingerprint(value: str) -> str:
    """`AB:CD:...` or `abcd...` -> `abcd...`, to compare fingerprints from anywhere."""
    return value.replace(":", "").replace(" ", "").strip().lower()


def _context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False  # we compare fingerprints; a mismatch must be seen
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def probe(
    hostname: str,
    *,
    port: int = HTTPS_PORT,
    resolve: Resolve | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    address: str | None = None,
) -> ProbeResult:
    """Connect to `hostname` (SNI) and return the served certificate's fingerprint.

    `address`: dial this address (already resolved and vetted by the caller) instead of
    `resolve(hostname)` or the hostname itself. A `resolve` that finds no address it may
    dial raises OSError (or ValueError) with the reason: that is the result's error, as a
    failed connection is."""
    deadline = time.monotonic() + timeout
    try:
        address = address or (resolve(hostname) if resolve else hostname)
        with (
            socket.create_connection((address, port), timeout=timeout) as raw,
            _context().wrap_socket(
                raw, server_hostname=hostname, do_handshake_on_connect=False
            ) as tls,
        ):
            _handshake(tls, deadline, timeout)
            der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError, ValueError) as error:
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        return ProbeResult(
            hostname, address or hostname, port, error=f"{type(error).__name__}: {reason}"
        )
    if not der:
        return ProbeResult(hostname, address, port, error="the server sent no certificate")
    return ProbeResult(hostname, address, port, fingerprint(der), leaf_der=der)


def _handshake(tls: ssl.SSLSocket, deadline: float, timeout: float) -> None:
    """The handshake, non-blocking, under one deadline (a per-read timeout would let a
    server that trickles bytes hold the probe for ever). Waited on with `selectors`
    (epoll/poll), not select(): a process with more than 1,024 files open (a busy bot)
    has socket numbers select() refuses."""
    tls.setblocking(False)
    with selectors.DefaultSelector() as waiting:
        waiting.register(tls, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no TLS handshake within {timeout:g} s")
            try:
                tls.do_handshake()
                return
            except ssl.SSLWantReadError:
                waiting.modify(tls, selectors.EVENT_READ)
            except ssl.SSLWantWriteError:
                waiting.modify(tls, selectors.EVENT_WRITE)
            waiting.select(left)
