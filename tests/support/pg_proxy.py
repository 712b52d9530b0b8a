"""A loopback TCP proxy in front of the real PostgreSQL that can be frozen.

Frozen, it accepts connections and reads what either side sends, but forwards nothing:
to the bot this is a PostgreSQL server that stopped answering (a paused container, a
SIGSTOPped postmaster, a network that drops packets). The connection stays open, so no
driver error comes: only a client-side deadline ends the wait. Thawed, what was held is
delivered and the conversation goes on, as after the real thing.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType

from sqlalchemy.engine import make_url

BUFFER = 65536


class FreezableProxy:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    @classmethod
    def for_url(cls, url: str) -> FreezableProxy:
        parsed = make_url(url)
        return cls((parsed.host or "127.0.0.1", int(parsed.port or 5432)))

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def url_through(self, url: str) -> str:
        """`url` with its host and port replaced by this proxy's."""
        proxied = make_url(url).set(host="127.0.0.1", port=self.port)
        return proxied.render_as_string(hide_password=False)

    def freeze(self) -> None:
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    def start(self) -> FreezableProxy:
        threading.Thread(target=self._accept, name="pg-proxy", daemon=True).start()
        return self

    def close(self) -> None:
        self._closed.set()
        self._flowing.set()
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def __enter__(self) -> FreezableProxy:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._sockets += [client, server]
            for src, dst in ((client, server), (server, client)):
                threading.Thread(
                    target=self._pump, args=(src, dst), name="pg-proxy-pump", daemon=True
                ).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(BUFFER)
                if not data:
                    break
                self._flowing.wait()
                if self._closed.is_set():
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)
