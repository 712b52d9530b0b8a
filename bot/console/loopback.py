"""Serving the Bolt app over HTTP on a loopback port, with waitress, in a thread.

The same WSGI adapter and server as `certops run --http`, so the console and the tests
go through request parsing and signature checks as Slack's requests do.
"""

from __future__ import annotations

import threading

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from waitress.server import create_server

DEFAULT_THREADS = 8


class LoopbackServer:
    def __init__(
        self, app: App, *, host: str = "127.0.0.1", port: int = 0, threads: int = DEFAULT_THREADS
    ) -> None:
        self._server = create_server(
            SlackRequestHandler(app), host=host, port=port, threads=threads, ident="certops"
        )
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self._server.effective_host}:{self._server.effective_port}"

    def start(self) -> LoopbackServer:
        self._thread = threading.Thread(target=self._server.run, name="certops-http", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
