"""A stand-in of Slack's Socket Mode service on loopback: a real WebSocket server (RFC 6455:
text frames, ping/pong, close) that speaks the protocol as Slack does.

- Each connection gets `hello` at once (and whatever `after_hello` holds for the next one:
  an envelope "right after a refresh's hello").
- Envelopes carry an `envelope_id`; the acks come back as `{"envelope_id": ..., "payload"?}`
  and are recorded with the connection they came on and when.
- `disconnect(connection, reason)` sends `{"type": "disconnect", "reason": ...}` with
  `refresh_requested`, `warning` or `link_disabled`; `close()` ends a connection with a
  close frame, `drop()` without one (a FIN: a load balancer, a blip), `reset()` with a TCP
  reset (SO_LINGER 0); `freeze()` makes it silent (no FIN, no reset, no pong).
- `refuse()` / `accept()` stop and resume taking connections on the same port (an outage).
- Several connections at once, as Slack keeps up to 10 per app: `send` without a
  connection spreads envelopes across the open ones in turn.

Pair it with the Web API stand-in (`FakeSlackApi.socket_mode_url = server.url`), which
answers `apps.connections.open` with this URL.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_TEXT, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x8, 0x9, 0xA


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


def _handshake(sock: socket.socket) -> None:
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


@dataclass
class Ack:
    envelope_id: str
    payload: dict[str, Any] | None
    connection: int
    at: float  # time.monotonic() when it arrived


@dataclass
class Connection:
    """One WebSocket from the bot, as the server sees it."""

    number: int
    sock: socket.socket
    hello_at: float = 0.0
    ended_at: float = 0.0
    close_frame_received: bool = False
    close_sent: bool = False
    pings: int = 0
    fate: str = ""  # "drop", "reset" or "freeze", done by the reader thread
    ended: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def open(self) -> bool:
        return self.hello_at > 0 and not self.ended.is_set()

    def send(self, message: dict[str, Any]) -> float:
        """Send one JSON text frame; returns when it was sent (time.monotonic())."""
        data = _frame(OP_TEXT, json.dumps(message).encode())
        with self._lock:
            self.sock.sendall(data)
            return time.monotonic()

    def close(self, code: int = 1000) -> None:
        """End the connection as Slack does when it is done with it: a close frame."""
        with self._lock, _quiet():
            self.close_sent = True
            self.sock.sendall(_frame(OP_CLOSE, struct.pack("!H", code)))

    def drop(self) -> None:
        """Close the TCP connection without a close frame (a FIN, nothing else)."""
        self._end("drop")

    def reset(self) -> None:
        """Close the TCP connection with a reset (SO_LINGER 0): the peer reads ECONNRESET."""
        self._end("reset")

    def freeze(self) -> None:
        """Go silent, the TCP connection still open: nothing is read or answered, pings
        included (a peer or a path gone without a FIN or a reset)."""
        self.fate = "freeze"

    def _end(self, how: str) -> None:
        # The reader thread closes the socket: a close() from here would not wake its
        # recv(), and the reset would wait until that recv() returned.
        self.fate = how
        self.ended.wait(5)

    def _meet_fate(self) -> bool:
        """Called by the reader between frames: end the connection as asked, if asked."""
        if self.fate == "reset":
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif self.fate == "drop":
            with _quiet():
                self.sock.shutdown(socket.SHUT_RDWR)
        return bool(self.fate) and self.fate != "freeze"


class _quiet:
    """Ignore the OSError of a socket the peer already closed."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> bool:
        return kind is not None and issubclass(kind, OSError)


class SocketModeServer:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self._host = host
        self._listener: socket.socket | None = socket.create_server((host, 0))
        self._port = int(self._listener.getsockname()[1])
        self._lock = threading.Condition()
        self._numbers = itertools.count(1)
        self._turn = itertools.count()
        self.connections: list[Connection] = []
        self.ack_log: list[Ack] = []
        # Messages the next connection gets right after its hello (then emptied).
        self.after_hello: list[dict[str, Any]] = []
        # Called with each connection right after its hello (tests may send from it).
        self.on_hello: Callable[[Connection], None] | None = None
        self.connected = threading.Event()  # a first connection said hello
        self.closed = threading.Event()  # a connection ended
        self._stopped = False
        self._accepting = threading.Thread(target=self._accept, args=(self._listener,))

    # --- life cycle ----------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"ws://{self._host}:{self._port}/link/?ticket=t1"

    def __enter__(self) -> SocketModeServer:
        self._accepting.daemon = True
        self._accepting.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped = True
        self.refuse()
        for connection in list(self.connections):
            with _quiet():
                connection.sock.close()

    def refuse(self) -> None:
        """Stop taking connections: a connection attempt is refused (ECONNREFUSED)."""
        with self._lock:
            listener, self._listener = self._listener, None
        if listener is not None:
            with _quiet():
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()

    def accept(self) -> None:
        """Take connections again, on the same port."""
        with self._lock:
            if self._listener is not None:
                return
            self._listener = socket.create_server((self._host, self._port))
            listener = self._listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    # --- serving -------------------------------------------------------------------------
    def _accept(self, listener: socket.socket) -> None:
        while not self._stopped:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            connection = Connection(next(self._numbers), sock)
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: Connection) -> None:
        sock = connection.sock
        try:
            _handshake(sock)
            with self._lock:
                extra, self.after_hello = self.after_hello, []
                self.connections.append(connection)
            connection.send(
                {
                    "type": "hello",
                    "num_connections": len(self.open_connections()) + 1,
                    "debug_info": {"host": f"applink-{connection.number}"},
                    "connection_info": {"app_id": "A0CERTOPS"},
                }
            )
            connection.hello_at = time.monotonic()
            for message in extra:
                connection.send(message)
            if self.on_hello is not None:
                self.on_hello(connection)
            with self._lock:
                self._lock.notify_all()
            self.connected.set()
            self._read(connection)
        except (OSError, ConnectionError):
            pass
        finally:
            connection.ended_at = time.monotonic()
            connection.ended.set()
            with _quiet():
                sock.close()
            self.closed.set()
            with self._lock:
                self._lock.notify_all()

    def _read(self, connection: Connection) -> None:
        sock = connection.sock
        while True:
            if connection._meet_fate():
                return
            if connection.fate == "freeze" or not select.select([sock], [], [], 0.05)[0]:
                time.sleep(0.05 if connection.fate else 0)
                continue
            opcode, payload = _read_frame(sock)
            if opcode == OP_PING:
                connection.pings += 1
                with connection._lock:
                    sock.sendall(_frame(OP_PONG, payload))
            elif opcode == OP_CLOSE:
                connection.close_frame_received = True
                with connection._lock, _quiet():
                    if not connection.close_sent:
                        sock.sendall(_frame(OP_CLOSE, payload[:2]))
                return
            elif opcode == OP_TEXT:
                ack = json.loads(payload.decode())
                with self._lock:
                    self.ack_log.append(
                        Ack(
                            str(ack.get("envelope_id")),
                            ack.get("payload"),
                            connection.number,
                            time.monotonic(),
                        )
                    )
                    self._lock.notify_all()

    # --- what tests look at --------------------------------------------------------------
    @property
    def acks(self) -> list[dict[str, Any]]:
        """The acks as the bot sent them (envelope_id, and payload when it had one)."""
        with self._lock:
            found = list(self.ack_log)
        return [
            {"envelope_id": a.envelope_id} | ({"payload": a.payload} if a.payload else {})
            for a in found
        ]

    def open_connections(self) -> list[Connection]:
        return [c for c in self.connections if c.open]

    def wait_connections(self, count: int, timeout: float = 15) -> list[Connection]:
        """Wait until `count` connections are open (hello sent); returns them."""
        return self._wait(lambda: len(self.open_connections()) >= count, timeout, "connections")

    def wait_new_connection(self, after: int, timeout: float = 15) -> Connection:
        """Wait for a connection numbered above `after` to say hello; returns it."""

        def found() -> list[Connection]:
            return [c for c in self.connections if c.number > after and c.hello_at]

        self._wait(lambda: bool(found()), timeout, "a new connection")
        return found()[-1]

    def wait_ack(self, envelope_id: str, timeout: float = 10) -> dict[str, Any]:
        ack = self.wait_ack_record(envelope_id, timeout)
        return {"envelope_id": ack.envelope_id} | ({"payload": ack.payload} if ack.payload else {})

    def wait_ack_record(self, envelope_id: str, timeout: float = 10) -> Ack:
        self._wait(
            lambda: any(a.envelope_id == envelope_id for a in self.ack_log),
            timeout,
            f"an ack of {envelope_id}",
        )
        return next(a for a in self.ack_log if a.envelope_id == envelope_id)

    def _wait(self, done: Callable[[], bool], timeout: float, what: str) -> list[Connection]:
        deadline = time.monotonic() + timeout
        with self._lock:
            while not done():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {what} within {timeout} s: {self.ack_log}")
                self._lock.wait(min(left, 0.1))
            return self.open_connections()

    # --- what Slack sends ----------------------------------------------------------------
    def pick(self) -> Connection:
        """The next open connection in turn (Slack spreads envelopes across them)."""
        found = self.open_connections()
        if not found:
            raise AssertionError("no open Socket Mode connection")
        return found[next(self._turn) % len(found)]

    def send(self, message: dict[str, Any], connection: Connection | None = None) -> float:
        return (connection or self.pick()).send(message)

    def disconnect(self, connection: Connection, reason: str) -> None:
        connection.send(
            {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-x"}}
        )

    def send_event(
        self,
        event: dict[str, Any],
        envelope_id: str,
        event_id: str,
        connection: Connection | None = None,
    ) -> float:
        return self.send(event_envelope(event, envelope_id, event_id), connection)

    def send_command(
        self,
        text: str,
        envelope_id: str,
        user_id: str,
        response_url: str,
        connection: Connection | None = None,
    ) -> float:
        return self.send(command_envelope(text, envelope_id, user_id, response_url), connection)


def event_envelope(event: dict[str, Any], envelope_id: str, event_id: str) -> dict[str, Any]:
    return {
        "envelope_id": envelope_id,
        "type": "events_api",
        "accepts_response_payload": False,
        "retry_attempt": 0,
        "retry_reason": "",
        "payload": {
            "token": "unused",
            "team_id": "T0CONSOLE",
            "api_app_id": "A0CERTOPS",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": event,
        },
    }


def command_envelope(
    text: str, envelope_id: str, user_id: str, response_url: str
) -> dict[str, Any]:
    return {
        "envelope_id": envelope_id,
        "type": "slash_commands",
        "accepts_response_payload": True,
        "payload": {
            "token": "unused",
            "team_id": "T0CONSOLE",
            "team_domain": "console",
            "channel_id": "C0CONSOLE",
            "channel_name": "console",
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": "/cert",
            "text": text,
            "api_app_id": "A0CERTOPS",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": f"{envelope_id}.trigger",
        },
    }
