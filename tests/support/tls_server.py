"""A real TLS server on loopback (ssl in a thread) serving one certificate, switchable, and
an `updating` assignment of a certificate to check it against.

Shared by tests/test_tls_probe.py and tests/test_tls_thread.py.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
from pathlib import Path

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
        self._sock = socket.create_server((address, port))
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def serve(self, issued: Issued) -> None:
        cert, key = self.tmp / "server.pem", self.tmp / "server.key"
        cert.write_bytes(issued.pem)
        key.write_bytes(issued.key_pem())
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
            conn.settimeout(2)
            try:
                assert self._context is not None
                with self._context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)  # until the client closes
            except (OSError, ssl.SSLError):
                pass
            finally:
                conn.close()

    def __enter__(self) -> TlsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(2)


class RawServer:
    """Accepts on `address:port` and then never speaks (`reply` None: a silent server, the
    probe must end at its deadline), or answers every connection with `reply` bytes and
    closes (garbage instead of a TLS handshake)."""

    def __init__(self, address: str, port: int = 0, reply: bytes | None = None) -> None:
        self.reply = reply
        self._sock = socket.create_server((address, port))
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.reply is None:
                self._held.append(conn)  # open and silent until the server stops
                continue
            try:
                conn.sendall(self.reply)
            except OSError:
                pass
            finally:
                conn.close()

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(2)
        for conn in self._held:
            conn.close()


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
        cert = queries.add_certificate(
            session,
            Certificate(
                name=f"shop-{env_name}",
                domain=HOST,
                submitted_format=SubmittedFormat.PEM,
                status=CertificateStatus.VALIDATED,
                sans=[HOST],
                not_after=START + dt.timedelta(days=90),
                fingerprint_sha256=fingerprint_sha256(issued.cert),
                submitted_by="U1",
            ),
        )
        row = queries.add_assignment(
            session,
            Assignment(
                certificate_id=cert.id or 0,
                environment_id=env.id or 0,
                hostname=HOST,
                state=AssignmentState.UPDATING,
                assigned_by="UADMIN",
                assigned_at=now,
                active_at=now + dt.timedelta(minutes=5),
            ),
        )
        return row.id or 0
