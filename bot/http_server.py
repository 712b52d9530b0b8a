"""A waitress server that can stop cleanly: stop accepting, let requests finish, close.

`waitress.serve()` runs until the process dies, so a SIGTERM would cut requests in the
middle. Here the accept loop runs in short rounds (as the console's loopback server does)
and checks a stop event; then the listening socket is closed first (no new connections)
while the loop keeps running until every request already received has been answered.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from waitress import wasyncore
from waitress.server import create_server

log = logging.getLogger(__name__)

LOOP_SECONDS = 0.05
DEFAULT_THREADS = 16
# Slack's requests are kilobytes (the bot's modals hold a few inputs of 3000 characters).
# Waitress's default allows 1 GB, which Bolt's WSGI adapter then reads into memory before
# checking the signature: anyone could exhaust the bot's memory with a few requests.
MAX_BODY_BYTES = 4 * 1024 * 1024


class HttpServer:
    def __init__(self, app: Any, *, host: str, port: int, threads: int = DEFAULT_THREADS) -> None:
        """Bind at once: an address in use raises OSError here, before serving."""
        self._server: Any = create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            ident="certops",
            clear_untrusted_proxy_headers=True,
            max_request_body_size=MAX_BODY_BYTES,
        )
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._accepting = True

    @property
    def port(self) -> int:
        return int(self._server.effective_port)

    @property
    def url(self) -> str:
        return f"http://{self._server.effective_host}:{self.port}"

    def _round(self) -> None:
        wasyncore.loop(timeout=LOOP_SECONDS, map=self._server._map, count=1)

    def serve(self, until: threading.Event) -> None:
        """Serve in this thread until `until` is set; the socket still listens after."""
        while not until.is_set():
            self._round()

    def stop_accepting(self) -> None:
        """Close the listening socket: new connections are refused from now on."""
        if self._accepting:
            self._accepting = False
            self._server.accepting = False
            # The dispatcher's own close: waitress's close() would also close the trigger
            # that wakes the loop when a worker thread has an answer to send.
            wasyncore.dispatcher.close(self._server)

    def busy(self) -> bool:
        """Whether a request has been received and not fully answered yet."""
        dispatcher = self._server.task_dispatcher
        if dispatcher.queue or getattr(dispatcher, "active_count", 0):
            return True
        return any(
            channel.requests or channel.total_outbufs_len
            for channel in list(self._server.active_channels.values())
        )

    def drain(self, deadline: float) -> bool:
        """Keep answering until no request is in progress or `deadline` passes."""
        while time.monotonic() < deadline:
            if not self.busy():
                return True
            self._round()
        return not self.busy()

    def close(self, timeout: float = 2.0) -> None:
        """Stop the worker threads (waiting at most `timeout` for a request still being
        answered, a /metrics scrape on a slow database say) and close every socket."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self.stop_accepting()
        self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=max(0.0, timeout))
        wasyncore.close_all(self._server._map)

    # --- in a thread of its own (Socket Mode's metrics port, tests) ----------------------
    def start(self) -> HttpServer:
        self._thread = threading.Thread(
            target=self.serve, args=(self._stop,), name="certops-http", daemon=True
        )
        self._thread.start()
        return self

    def __enter__(self) -> HttpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
