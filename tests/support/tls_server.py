"""A real TLS server on loopback (ssl in a thread) serving one certificate, switchable, and
an `updating` assignment of a certificate to check it against.

Shared by tests/test_tls_probe.py, tests/test_tls_thread.py, the served-certificate
probe's lab (tests/support/served_lab.py) and the LifeTime stand-in.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
from pathlib import Path
from typing import Any

from bot.pipeline.report import fingerprint_sha256
from bot.services.context import ServiceContext
from storage import queries
from storage.models import (
    Assignment,
    AssignmentState,
    Certificate,
    CertificateStatus,
    Environment,
    SubmittedFormat,
)
from tests.support.pki import Issued

START = dt.datetime(2026, 5, 1, 9, 0, tzinfo=dt.UTC)
HOST = "shop.example.com"


class TlsServer:
    """Serves one certificate (switchable) on a loopback port; records the SNI names."""

    def __init__(self, tmp: Path, address: str = "127.0.0.1", port: int = 0) -> None:
        self.tmp = tmp
        self.sni: list[str | None] = []
        self._context: ssl.SSLContext | None = None
        # What a connection gets instead of TLS: None (TLS), "silent" (accepts, never
        # speaks) or bytes (sent as is: not a TLS server at all).
        self.raw: str | bytes | None = None
        self._held: list[socket.socket] = []  # silent connections, open until the stop
        self._sock = socket.create_server((address, port))
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def serve(self, issued: Issued) -> None:
        cert, key = self.tmp / "server.pem", self.tmp / "server.key"
        cert.write_bytes(issued.pem)
        key.write_bytes(issued.key_pem())
        self.serve_files(cert, key)

    def serve_files(self, cert: Path, key: Path) -> None:
        """Serve the PEM certificate (chain) and key in these files (e.g. from openssl)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        context.sni_callback = lambda _sock, name, _ctx: self.sni.append(name)  # type: ignore[assignment,misc]
        self._context = context

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._handle(conn)

    def _handle(self, conn: socket.socket) -> None:
        """One accepted connection: the handshake, then wait until the client closes (the
        LifeTime stand-in, tests/support/lifetime_server.py, answers HTTP here instead)."""
        conn.settimeout(2)
        if self.raw is not None:
            self._raw(conn)
            return
        try:
            assert self._context is not None
            with self._context.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)  # until the client closes
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    def _raw(self, conn: socket.socket) -> None:
        """Not TLS: hold the connection without a word (open until the server stops, so a
        client's own deadline is what ends it), or send bytes that are no TLS."""
        if self.raw == "silent":
            self._held.append(conn)
            return
        try:
            if isinstance(self.raw, bytes):
                conn.sendall(self.raw)
            while conn.recv(4096):  # read the ClientHello and all, say nothing, until the
                pass  # client gives up and closes (or the 2 s timeout ends it here)
        except OSError:
            pass
        finally:
            conn.close()

    def __enter__(self) -> TlsServer:
        self._thread.start()
        return self

    def close_listener(self) -> None:
        self._sock.close()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(2)
        for conn in self._held:
            conn.close()


def place_certificate(
    session: Any,
    env: Environment,
    host: str,
    fingerprint: str,
    not_after: dt.datetime,
    *,
    cert_name: str,
    state: AssignmentState = AssignmentState.ACTIVE,
    assigned_at: dt.datetime,
    active_at: dt.datetime,
    dns_report: dict[str, Any] | None = None,
) -> Assignment:
    """A validated certificate of `host` with this fingerprint, assigned on `env`."""
    cert = queries.add_certificate(
        session,
        Certificate(
            name=cert_name,
            domain=host,
            submitted_format=SubmittedFormat.PEM,
            status=CertificateStatus.VALIDATED,
            sans=[host],
            not_after=not_after,
            fingerprint_sha256=fingerprint,
            submitted_by="U1",
        ),
    )
    return queries.add_assignment(
        session,
        Assignment(
            certificate_id=cert.id or 0,
            environment_id=env.id or 0,
            hostname=host,
            state=state,
            dns_report=dns_report,
            assigned_by="UADMIN",
            assigned_at=assigned_at,
            active_at=active_at,
        ),
    )


def _record(ctx: ServiceContext, issued: Issued, env_name: str) -> int:
    """An `updating` assignment of a certificate with `issued`'s fingerprint, made now."""
    now = ctx.now()
    with ctx.session() as session:
        env = queries.add_environment(
            session,
            Environment(
                name=env_name,
                default_host=f"acme-{env_name}.outsystemsenterprise.com",
                channel="C0PROD",
            ),
        )
        row = place_certificate(
            session,
            env,
            HOST,
            fingerprint_sha256(issued.cert),
            START + dt.timedelta(days=90),
            cert_name=f"shop-{env_name}",
            state=AssignmentState.UPDATING,
            assigned_at=now,
            active_at=now + dt.timedelta(minutes=5),
        )
        return row.id or 0
