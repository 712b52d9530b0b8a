"""Serving the Bolt app over HTTP on a loopback port, with waitress, in a thread.

The same WSGI app (Bolt's adapter behind `bot.slack_wsgi`'s guard) and server as
`certops run --http`, so the console and the tests go through request parsing and
signature checks as Slack's requests do. The accept loop runs in short rounds so that `close()` stops it from its own thread (closing waitress's
sockets under a running select() fails with EBADF).
"""

from __future__ import annotations

import threading

from slack_bolt import App
from waitress import wasyncore
from waitress.server import create_server

from bot.slack_wsgi import slack_wsgi

DEFAULT_THREADS = 8
LOOP_SECONDS = 0.05


class LoopbackServer:
    def __init__(
        self, app: App, *, host: str = "127.0.0.1", port: int = 0, threads: int = DEFAULT_THREADS
    ) -> None:
        self._server = create_server(
            slack_wsgi(app), host=host, port=port, threads=threads, ident="certops"
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self._server.effective_host}:{self._server.effective_port}"

    def _serve(self) -> None:
        socket_map = self._server._map
        try:
            while not self._stop.is_set():
                wasyncore.loop(timeout=LOOP_SECONDS, map=socket_map, count=1)
        finally:
            self._server.task_dispatcher.shutdown()
            wasyncore.close_all(socket_map)

    def start(self) -> LoopbackServer:
        self._thread = threading.Thread(target=self._serve, name="certops-http", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
