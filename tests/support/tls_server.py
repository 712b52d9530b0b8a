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
from typing import Any, Self

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


class _Acceptor:
    """A listening socket on `address:port` and a thread handing each connection to
    `handle` until the server stops."""

    def __init__(self, address: str, port: int) -> None:
        self._sock = socket.create_server((address, port))
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.handle(conn)

    def close_listener(self) -> None:
        self._sock.close()

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(2)


class TlsServer(_Acceptor):
    """Serves one certificate (switchable) on a loopback port; records the SNI names."""

    def __init__(self, tmp: Path, address: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(address, port)
        self.tmp = tmp
        self.sni: list[str | None] = []
        self._context: ssl.SSLContext | None = None

    def serve(self, issued: Issued) -> None:
        cert, key = self.tmp / "server.pem", self.tmp / "server.key"
        cert.write_bytes(issued.pem)
        key.write_bytes(issued.key_pem())
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        context.sni_callback = lambda _sock, name, _ctx: self.sni.append(name)  # type: ignore[assignment,misc]
        self._context = context

    def handle(self, conn: socket.socket) -> None:
        conn.settimeout(2)
        try:
            assert self._context is not None
            with self._context.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)  # until the client closes
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()


class RawServer(_Acceptor):
    """Accepts on `address:port` and then never speaks (`reply` None: a silent server, the
    probe must end at its deadline), or answers every connection with `reply` bytes and
    closes (garbage instead of a TLS handshake)."""

    def __init__(self, address: str, port: int = 0, reply: bytes | None = None) -> None:
        super().__init__(address, port)
        self.reply = reply
        self._held: list[socket.socket] = []

    def handle(self, conn: socket.socket) -> None:
        if self.reply is None:
            self._held.append(conn)  # open and silent until the server stops
            return
        try:
            conn.sendall(self.reply)
        except OSError:
            pass
        finally:
            conn.close()

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
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
