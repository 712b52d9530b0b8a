"""Bolt's WSGI adapter behind a guard: a request body that is not UTF-8 gets 400.

Bolt's adapter decodes the body as UTF-8 before anything else, the signature check
included: a body that is not UTF-8, signed or not, raised there, so anyone who could
reach the port got a 500 and wrote a traceback into the log with each request. Slack
sends only UTF-8 (JSON events, form-encoded commands and interactions), so such a body
is refused here, in one log line, before Bolt sees it; any other body is handed on as it
was read. `certops run --http` and the console's loopback server both serve this.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from slack_bolt import App

log = logging.getLogger("certops.http")

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
NOT_UTF8 = b"Bad Request: the body is not UTF-8\n"


def slack_wsgi(app: App) -> WsgiApp:
    """The app's `/slack/events` as a WSGI app, non-UTF-8 bodies refused first."""
    from slack_bolt.adapter.wsgi import SlackRequestHandler

    return utf8_bodies_only(SlackRequestHandler(app))


def utf8_bodies_only(inner: WsgiApp) -> WsgiApp:
    """`inner`, given only requests whose body decodes as UTF-8; 400 for the others."""

    def guarded(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if "wsgi.input" in environ:
            body = _body(environ)
            try:
                body.decode("utf-8")
            except UnicodeDecodeError as error:
                log.info(
                    "refused a %s %s: the body is not UTF-8 (%d bytes, bad byte at %d)",
                    environ.get("REQUEST_METHOD", "?"),
                    environ.get("PATH_INFO", "?"),
                    len(body),
                    error.start,
                )
                start_response(
                    "400 Bad Request",
                    [
                        ("Content-Type", "text/plain; charset=utf-8"),
                        ("Content-Length", str(len(NOT_UTF8))),
                    ],
                )
                return [NOT_UTF8]
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return inner(environ, start_response)

    return guarded


def _body(environ: dict[str, Any]) -> bytes:
    """The body as Bolt reads it: CONTENT_LENGTH bytes (the server caps the size)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length <= 0:
        return b""
    data = environ["wsgi.input"].read(length)
    return data if isinstance(data, bytes) else bytes(data)
