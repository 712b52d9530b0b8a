"""An HTTP site on loopback serving CA certificates at AIA caIssuers URLs: each path answers
as its `Route` says (status, body, redirect, delay, a body dripped slowly), and every hit is
counted.

Shared by tests/test_aia_fetch.py and tests/test_cli_validate_fetch.py.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/pkix-cert"
    location: str | None = None
    delay: float = 0.0
    send_length: bool = True
    drip: float = 0.0  # seconds between 16-byte pieces of the body


@dataclass
class Site:
    base: str
    routes: dict[str, Route]
    hits: dict[str, int] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.base + path


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            site.hits[self.path] = site.hits.get(self.path, 0) + 1
            route = site.routes.get(self.path, Route(404, b"not found", "text/plain"))
            if route.delay:
                time.sleep(route.delay)
            self.send_response(route.status)
            self.send_header("Content-Type", route.content_type)
            if route.location:
                self.send_header("Location", route.location)
            if route.send_length:
                self.send_header("Content-Length", str(len(route.body)))
            else:
                self.send_header("Connection", "close")
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                if route.drip:
                    for start in range(0, len(route.body), 16):
                        self.wfile.write(route.body[start : start + 16])
                        self.wfile.flush()
                        time.sleep(route.drip)
                else:
                    self.wfile.write(route.body)
            if not route.send_length:
                self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:
            del format, args

    return Handler
