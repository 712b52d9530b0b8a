"""A stand-in for LifeTime's REST API v2 on loopback, over HTTPS with a test CA.

Built from shared/outsystems/lifetime-api-v2.swagger.json: it serves the `GET` of the
environments path under the swagger's base path, answers each `Environment` with every
property the swagger defines (the swagger's default or example for those a test does not
set), and errors as the swagger's `Exception` objects. Modes switch what it answers:

- `ok`: 200 and the environments; `empty`: 204;
- `unauthorized` (401), `forbidden` (403), `not_found` (404, also any other path);
- `malformed`: 200 and `body` as given (default: not JSON);
- `huge`: 200 and a JSON array of more than 5 MiB, streamed;
- `redirect`: 302 to another host (the client must not follow it with the token);
- `silent`: accepts the connection and never speaks (no TLS handshake either).

It records each request's method, path and Authorization header, so tests can check
what the client sent (and that the token went nowhere else); `gate` holds every answer
until it is set (a slow LifeTime: the Slack ack must not wait for it).
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.pki import CA, Issued
from tests.support.tls_server import TlsServer

SWAGGER = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "outsystems"
    / "lifetime-api-v2.swagger.json"
)
LT_HOST = "acme-lt.outsystemsenterprise.com"
TOKEN = "lt-test-token-7f3a9c1e5b"  # what the tests put in LIFETIME_API_TOKEN
HUGE_BYTES = 6 * 1024 * 1024
_MAX_REQUEST = 64 * 1024


def swagger() -> dict[str, Any]:
    return dict(json.loads(SWAGGER.read_text(encoding="utf-8")))


def environments_path() -> str:
    doc = swagger()
    assert "/environments/" in doc["paths"] and "get" in doc["paths"]["/environments/"]
    return f"{doc['basePath']}/environments/"


def environment(
    key: str, name: str, host: str, kind: str = "Development", order: int = 0
) -> dict[str, Any]:
    """An `Environment` with every property of the swagger's definition."""
    props = swagger()["definitions"]["Environment"]["properties"]
    given = {"Key": key, "Name": name, "HostName": host, "EnvironmentType": kind, "Order": order}
    record: dict[str, Any] = {}
    for prop, schema in props.items():
        if prop in given:
            record[prop] = given[prop]
        elif "example" in schema:
            record[prop] = schema["example"]
        else:
            record[prop] = schema.get("default", "")
    record["DetailsURL"] = (
        f"https://{LT_HOST}/lifetime/Environment_Details.aspx?EnvironmentKey={key}"
    )
    return record


def exception(status: int, message: str) -> dict[str, Any]:
    """An `Exception` as the swagger defines it."""
    props = swagger()["definitions"]["Exception"]["properties"]
    assert set(props) == {"Errors", "StatusCode"}
    return {"Errors": [message], "StatusCode": status}


DEFAULT_ENVIRONMENTS = [
    environment(
        "6b1f0b4e-2f4c-4b8e-9d1a-0a1b2c3d4e01",
        "Development",
        "acme-dev.outsystemsenterprise.com",
        "Development",
        1,
    ),
    environment(
        "6b1f0b4e-2f4c-4b8e-9d1a-0a1b2c3d4e02",
        "Quality",
        "acme-qa.outsystemsenterprise.com",
        "Test",
        2,
    ),
    environment(
        "6b1f0b4e-2f4c-4b8e-9d1a-0a1b2c3d4e03",
        "Production",
        "acme.outsystemsenterprise.com",
        "Production",
        3,
    ),
]


@dataclass
class Request:
    method: str
    path: str
    authorization: str | None
    raw: bytes = field(repr=False, default=b"")


class LifetimeServer(TlsServer):
    """LifeTime's API on a loopback port; `mode`, `environments` and `body` switch answers.

    The loopback TLS server of tests/support/tls_server.py, answering HTTP."""

    def __init__(self, tmp: Path, host: str = LT_HOST) -> None:
        super().__init__(tmp)
        self.ca = CA.root("LifeTime Stand-in Root")
        self.leaf: Issued = self.ca.leaf([host])
        self.serve(self.leaf)
        self.root_file = tmp / "lifetime-root.pem"
        self.root_file.write_bytes(self.ca.issued.pem)
        self.path = environments_path()
        self.mode = "ok"
        self.environments: list[dict[str, Any]] = list(DEFAULT_ENVIRONMENTS)
        self.body: bytes = b"<html><body>LifeTime is under maintenance</body></html>"
        self.requests: list[Request] = []
        # When set: each request is held until the event is set (a slow LifeTime).
        self.gate: threading.Event | None = None
        self.url = f"https://{host}:{self.port}"
        self._held: list[socket.socket] = []

    # -- serving ---------------------------------------------------------------------

    def _handle(self, conn: socket.socket) -> None:
        if self.mode == "silent":
            self._held.append(conn)  # accepted, never answered
            return
        threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        assert self._context is not None
        try:
            with self._context.wrap_socket(conn, server_side=True) as tls:
                raw = b""
                while b"\r\n\r\n" not in raw and len(raw) < _MAX_REQUEST:
                    chunk = tls.recv(4096)
                    if not chunk:
                        return
                    raw += chunk
                self._answer(tls, raw)
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    def _answer(self, tls: ssl.SSLSocket, raw: bytes) -> None:
        head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        method, path, _ = head[0].split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:])}
        self.requests.append(Request(method, path, headers.get("authorization"), raw))
        if self.gate is not None:
            self.gate.wait(timeout=20)
        if method != "GET" or path != self.path or self.mode == "not_found":
            self._send(tls, 404, json.dumps(exception(404, "Not Found")).encode())
        elif self.mode == "ok":
            self._send(tls, 200, json.dumps(self.environments).encode())
        elif self.mode == "empty":
            self._send(tls, 204, None)
        elif self.mode == "unauthorized":
            self._send(tls, 401, json.dumps(exception(401, "Invalid token")).encode())
        elif self.mode == "forbidden":
            self._send(tls, 403, json.dumps(exception(403, "Permission denied")).encode())
        elif self.mode == "malformed":
            self._send(tls, 200, self.body)
        elif self.mode == "huge":
            self._send_huge(tls)
        elif self.mode == "redirect":
            self._send(tls, 302, b"", ("Location: https://elsewhere.example.com" + self.path,))
        else:
            raise AssertionError(f"unknown mode {self.mode}")

    @staticmethod
    def _send(
        tls: ssl.SSLSocket, status: int, body: bytes | None, extra: tuple[str, ...] = ()
    ) -> None:
        reasons = {
            302: "Found",
            200: "OK",
            204: "No Content",
            401: "Unauthorized",
            403: "Forbidden",
            404: "Not Found",
        }
        lines = [f"HTTP/1.1 {status} {reasons[status]}", "Connection: close", *extra]
        if body is not None:
            lines += [
                "Content-Type: application/json; charset=utf-8",
                f"Content-Length: {len(body)}",
            ]
        tls.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b""))

    @staticmethod
    def _send_huge(tls: ssl.SSLSocket) -> None:
        """A JSON array bigger than the client's cap, without a Content-Length (chunked)."""
        tls.sendall(
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        piece = json.dumps(DEFAULT_ENVIRONMENTS[0]).encode() + b","
        sent = 0
        first = True
        while sent < HUGE_BYTES:
            data = (b"[" if first else b"") + piece * 64
            first = False
            tls.sendall(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            sent += len(data)
        tls.sendall(b"0\r\n\r\n")

    # -- life ------------------------------------------------------------------------

    def __enter__(self) -> LifetimeServer:
        super().__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        for conn in self._held:
            conn.close()
        super().__exit__(*exc)
