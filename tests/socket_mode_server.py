"""A Socket Mode endpoint on loopback: a real WebSocket server (RFC 6455, text frames,
ping/pong, close) that says `hello` as Slack does, sends envelopes and collects the acks.

Just enough of Slack's side for `certops run` in Socket Mode to connect, receive an event
and acknowledge it; pair it with the Web API stand-in (`FakeSlackApi.socket_mode_url`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import struct
import threading
import time
from typing import Any

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _frame(opcode: int, payload: bytes) -> bytes:
    """A server frame (never masked)."""
    head = bytes([0x80 | opcode])
    size = len(payload)
    if size < 126:
        head += bytes([size])
    elif size < 65536:
        head += bytes([126]) + struct.pack("!H", size)
    else:
        head += bytes([127]) + struct.pack("!Q", size)
    return head + payload


def _read_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _read_frame(sock: socket.socket) -> tuple[int, bytes]:
    first, second = _read_exact(sock, 2)
    size = second & 0x7F
    if size == 126:
        size = struct.unpack("!H", _read_exact(sock, 2))[0]
    elif size == 127:
        size = struct.unpack("!Q", _read_exact(sock, 8))[0]
    mask = _read_exact(sock, 4) if second & 0x80 else b"\0\0\0\0"
    payload = bytes(b ^ mask[i % 4] for i, b in enumerate(_read_exact(sock, size)))
    return first & 0x0F, payload


class SocketModeServer:
    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._client: socket.socket | None = None
        self._send_lock = threading.Lock()
        self.acks: list[dict[str, Any]] = []
        self.connected = threading.Event()
        self.closed = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="socket-mode", daemon=True)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._listener.getsockname()[1]}/link/?ticket=t1"

    def __enter__(self) -> SocketModeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._listener.close()
        if self._client is not None:
            self._client.close()

    def _handshake(self, sock: socket.socket) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed during the handshake")
            request += chunk
        headers = {}
        for line in request.decode("latin-1").split("\r\n")[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        accept = base64.b64encode(
            hashlib.sha1((headers["sec-websocket-key"] + GUID).encode()).digest()
        ).decode()
        sock.sendall(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
            ).encode()
        )

    def _serve(self) -> None:
        try:
            sock, _ = self._listener.accept()
        except OSError:
            return
        self._client = sock
        try:
            self._handshake(sock)
            self.send({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"}})
            self.connected.set()
            while True:
                opcode, payload = _read_frame(sock)
                if opcode == 0x9:  # ping
                    with self._send_lock:
                        sock.sendall(_frame(0xA, payload))
                elif opcode == 0x8:  # close
                    with self._send_lock:
                        sock.sendall(_frame(0x8, payload[:2]))
                    break
                elif opcode == 0x1:
                    self.acks.append(json.loads(payload.decode()))
        except (OSError, ConnectionError):
            pass
        finally:
            self.closed.set()

    def send(self, message: dict[str, Any]) -> None:
        assert self._client is not None
        with self._send_lock:
            self._client.sendall(_frame(0x1, json.dumps(message).encode()))

    def send_event(self, event: dict[str, Any], envelope_id: str, event_id: str) -> None:
        self.send(
            {
                "envelope_id": envelope_id,
                "type": "events_api",
                "accepts_response_payload": False,
                "retry_attempt": 0,
                "payload": {
                    "token": "unused",
                    "team_id": "T0CONSOLE",
                    "api_app_id": "A1",
                    "type": "event_callback",
                    "event_id": event_id,
                    "event_time": int(time.time()),
                    "event": event,
                },
            }
        )

    def wait_ack(self, envelope_id: str, timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for ack in list(self.acks):
                if ack.get("envelope_id") == envelope_id:
                    return ack
            time.sleep(0.02)
        raise AssertionError(f"no ack for {envelope_id}: {self.acks}")
