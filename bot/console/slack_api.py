"""A stand-in for Slack's Web API on loopback, for console mode and the tests.

It answers the methods the bot calls the way Slack does (`{"ok": true, ...}`, `ts`
values, `{"ok": false, "error": ...}` for an unknown method or a bad token), serves the
response URLs given to slash commands and interactions, and serves uploaded files
behind the bot token (an HTML sign-in page otherwise, as Slack does). It records every
call so that the console can print the bot's answers and tests can assert on them.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

RESPONSE_PATH = "/response/"
FILES_PATH = "/files-pri/"
API_PATH = "/api/"
SIGN_IN_PAGE = b"<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in</body></html>"
TEAM_ID = "T0CONSOLE"
BOT_USER_ID = "U0CERTOPS"
BOT_ID = "B0CERTOPS"
# The bot scopes of manifest.yml: sent in `x-oauth-scopes` on every Web API answer, as
# Slack does (`certops doctor` compares them); tests set `FakeSlackApi.scopes` to others.
DEFAULT_SCOPES = (
    "commands",
    "chat:write",
    "chat:write.public",
    "im:history",
    "im:read",
    "im:write",
    "files:read",
    "channels:read",
    "groups:read",
    "channels:history",
    "groups:history",
)


@dataclass(frozen=True)
class Call:
    """One request the bot made: a Web API method, or `response_url` for a response URL."""

    method: str
    params: dict[str, Any]
    index: int
    path: str = ""
    # What the stand-in answered (a view's id and hash: the console's forms follow them).
    answer: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def blocks(self) -> list[dict[str, Any]]:
        blocks = self.params.get("blocks") or []
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        return list(blocks)

    @property
    def view(self) -> dict[str, Any]:
        view = self.params.get("view") or {}
        if isinstance(view, str):
            view = json.loads(view)
        return dict(view)


@dataclass
class StoredFile:
    info: dict[str, Any]
    content: bytes


@dataclass(frozen=True)
class Failure:
    """A planned failure of the next call(s) of one method (see `FakeSlackApi.fail_next`)."""

    method: str
    error: str = "internal_error"
    status: int = 200
    retry_after: int | None = None


@dataclass
class _State:
    calls: list[Call] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    failed: list[Call] = field(default_factory=list)
    files: dict[str, StoredFile] = field(default_factory=dict)
    changed: threading.Condition = field(default_factory=threading.Condition)


def _decode_params(content_type: str, body: bytes, query: str) -> dict[str, Any]:
    params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query).items()}
    if not body:
        return params
    if "json" in content_type:
        data = json.loads(body.decode("utf-8"))
        if isinstance(data, dict):
            params.update(data)
        return params
    params.update({k: v[-1] for k, v in parse_qs(body.decode("utf-8")).items()})
    for key in ("blocks", "view", "attachments", "metadata"):
        value = params.get(key)
        if isinstance(value, str) and value.startswith(("[", "{")):
            params[key] = json.loads(value)
    return params


class FakeSlackApi:
    """The stand-in server. Use as a context manager, or `start()` and `close()`."""

    def __init__(self, bot_token: str = "xoxb-console", host: str = "127.0.0.1") -> None:
        self.bot_token = bot_token
        self._state = _State()
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        # What `x-oauth-scopes` says (None: no header), and the channels conversations.info
        # knows: {"C0123": {"name": "certs", "is_member": True, "is_private": False}}.
        self.scopes: tuple[str, ...] | None = DEFAULT_SCOPES
        self.channels: dict[str, dict[str, Any]] = {}
        # Seconds to hold back the answer to a method (a slow Slack, for shutdown tests).
        self.delays: dict[str, float] = {}
        # Socket Mode: apps.connections.open answers `socket_mode_url` to `app_token`.
        self.app_token = "xapp-console"
        self.socket_mode_url: str | None = None
        # File hosting knobs for the download tests: redirects by file id, and Slack's
        # answer for a token without the files:read scope (its HTML sign-in page).
        self._redirects: dict[str, str] = {}
        self.files_scope_missing = False
        # The messages posted, by channel (newest last), for conversations.history.
        self.messages: dict[str, list[dict[str, Any]]] = {}
        # Lost answers: every `lose_every`-th chat.postMessage (0: none), and the next
        # `lose_next` ones, are posted and then the connection is closed unanswered.
        self.lose_every = 0
        self.lose_next = 0
        # Seconds to hold back the answer to a method after it took effect (a process
        # killed while it waits has had its message posted).
        self.hold_answers: dict[str, float] = {}
        self._posts = itertools.count(1)
        self.lost = 0
        # Slow file hosting (issue 11): a file id's download waits for its gate to be set,
        # or sends its bytes one at a time, this many seconds apart.
        self.file_gates: dict[str, threading.Event] = {}
        self.file_drip: dict[str, float] = {}
        self._server = ThreadingHTTPServer((host, 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # --- life cycle ----------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        if isinstance(host, bytes):
            host = host.decode()
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        """What SLACK_API_URL is set to."""
        return self.base_url + API_PATH

    def start(self) -> FakeSlackApi:
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-slack-api", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeSlackApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- what tests and the console use --------------------------------------------------
    def response_url(self) -> str:
        """A fresh response URL, as Slack puts in a slash command or an interaction."""
        return f"{self.base_url}{RESPONSE_PATH}{next(self._ids)}"

    def add_file(
        self, name: str, content: bytes, mimetype: str = "application/octet-stream"
    ) -> dict[str, Any]:
        """Store an upload; returns the file object as Slack puts it in events."""
        file_id = f"F{next(self._ids):08d}"
        # Percent-encoded, as Slack's own file URLs are: a name may hold spaces.
        url = f"{self.base_url}{FILES_PATH}{TEAM_ID}-{file_id}/{quote(name)}"
        info = {
            "id": file_id,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": name.rsplit(".", 1)[-1] if "." in name else "binary",
            "size": len(content),
            "url_private": url,
            "url_private_download": url + "?download=1",
        }
        with self._lock:
            self._state.files[file_id] = StoredFile(info, content)
        return dict(info)

    def hosted(self) -> list[dict[str, Any]]:
        """The file objects of the uploads the stand-in serves, oldest first."""
        with self._lock:
            return [dict(stored.info) for stored in self._state.files.values()]

    def remove_file(self, file_id: str) -> bool:
        """Forget an upload, as when its owner deletes it: its download answers 404 and
        files.info `file_not_found`. False when there was no such file."""
        with self._lock:
            return self._state.files.pop(file_id, None) is not None

    def fail_next(
        self,
        method: str,
        count: int = 1,
        *,
        error: str = "internal_error",
        status: int = 200,
        retry_after: int | None = None,
    ) -> None:
        """Make the next `count` calls of `method` fail: `{"ok": false, "error": error}`,
        or with `status=429` Slack's rate-limit answer with a `Retry-After` header.
        Failed calls are kept in `failed_calls()`, not in `calls()`."""
        with self._state.changed:
            self._state.failures.extend(
                Failure(method, error, status, retry_after) for _ in range(count)
            )

    def failed_calls(self, method: str | None = None) -> list[Call]:
        with self._state.changed:
            found = list(self._state.failed)
        return [call for call in found if method is None or call.method == method]

    def _take_failure(self, method: str, params: dict[str, Any], path: str) -> Failure | None:
        with self._state.changed:
            for index, failure in enumerate(self._state.failures):
                if failure.method == method:
                    del self._state.failures[index]
                    self._state.failed.append(Call(method, params, len(self._state.failed), path))
                    return failure
        return None

    def add_redirect(self, name: str, location: str, size: int = 100) -> dict[str, Any]:
        """A file whose download URL answers `302 Location: location` (any host)."""
        info = self.add_file(name, b"")
        info["size"] = size
        with self._lock:
            self._redirects[str(info["id"])] = location
        return info

    def calls(self, method: str | None = None, since: int = 0) -> list[Call]:
        """The recorded calls (optionally of one method), from index `since` on."""
        with self._state.changed:
            found = self._state.calls[since:]
        return [call for call in found if method is None or call.method == method]

    def mark(self) -> int:
        """The index the next call will get: pass it as `since` to see only newer calls."""
        with self._state.changed:
            return len(self._state.calls)

    def wait_for(
        self, method: str, count: int = 1, since: int = 0, timeout: float = 10.0
    ) -> list[Call]:
        """Block until `count` calls of `method` arrived after `since`; return them."""
        deadline = time.monotonic() + timeout
        with self._state.changed:
            while True:
                found = [c for c in self._state.calls[since:] if c.method == method]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{count} call(s) of {method} did not arrive in {timeout}s")
                self._state.changed.wait(left)

    # --- the server side -----------------------------------------------------------------
    def _record(
        self, method: str, params: dict[str, Any], path: str, answer: dict[str, Any] | None = None
    ) -> Call:
        with self._state.changed:
            call = Call(method, params, len(self._state.calls), path, dict(answer or {}))
            self._state.calls.append(call)
            self._state.changed.notify_all()
            return call

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """The JSON answer to one Web API call, as Slack gives it."""
        channel = params.get("channel")
        if method == "auth.test":
            return 200, {
                "ok": True,
                "url": self.base_url + "/",
                "team": "Console",
                "user": "certops",
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "bot_id": BOT_ID,
                "is_enterprise_install": False,
            }
        if method in {"chat.postMessage", "chat.update"}:
            ts = params.get("ts") if method == "chat.update" else self._next_ts()
            message = {"text": params.get("text", ""), "ts": ts, "user": BOT_USER_ID}
            if "blocks" in params:
                message["blocks"] = params["blocks"]
            if "metadata" in params and method == "chat.postMessage":
                message["metadata"] = params["metadata"]
            if method == "chat.postMessage":
                with self._lock:
                    self.messages.setdefault(str(channel), []).append(dict(message))
            return 200, {"ok": True, "channel": channel, "ts": ts, "message": message}
        if method == "conversations.history":
            return self._history(params)
        if method == "chat.postEphemeral":
            return 200, {"ok": True, "message_ts": self._next_ts()}
        if method in {"views.open", "views.update", "views.publish", "views.push"}:
            view = dict(params.get("view") or {})
            view.setdefault("id", params.get("view_id") or f"V{next(self._ids):08d}")
            view.setdefault("team_id", TEAM_ID)
            # Slack gives every version of a view a new hash, and its (empty) state.
            view["hash"] = f"{int(time.time())}.{next(self._ids):08d}"
            view.setdefault("state", {"values": {}})
            return 200, {"ok": True, "view": view}
        if method == "conversations.open":
            users = str(params.get("users", "")).split(",")[0]
            return 200, {"ok": True, "channel": {"id": "D" + users[1:]}}
        if method == "users.info":
            user = str(params.get("user", ""))
            return 200, {"ok": True, "user": {"id": user, "name": user.lower(), "real_name": user}}
        if method == "conversations.info":
            return self._conversation_info(str(params.get("channel", "")))
        if method == "files.info":
            stored = self._state.files.get(str(params.get("file", "")))
            if stored is None:
                return 200, {"ok": False, "error": "file_not_found"}
            return 200, {"ok": True, "file": dict(stored.info)}
        return 404, {"ok": False, "error": "unknown_method"}

    def _history(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Newest first, since `oldest`, at most `limit`; metadata only when asked for."""
        if not {"channels:history", "groups:history"} & set(self.scopes or ()):
            return 200, {"ok": False, "error": "missing_scope", "needed": "channels:history"}
        oldest = float(params.get("oldest") or 0)
        limit = int(params.get("limit") or 100)
        with_metadata = str(params.get("include_all_metadata", "")).lower() in {"1", "true"}
        with self._lock:
            found = [
                dict(m)
                for m in reversed(self.messages.get(str(params.get("channel")), []))
                if float(m["ts"]) >= oldest
            ]
        if not with_metadata:
            for message in found:
                message.pop("metadata", None)
        more = len(found) > limit
        return 200, {"ok": True, "messages": found[:limit], "has_more": more}

    def _lose(self, method: str) -> bool:
        """Whether to close this post's connection without answering (it was posted)."""
        if method != "chat.postMessage":
            return False
        with self._lock:
            number = next(self._posts)
            lose = self.lose_next > 0 or (self.lose_every > 0 and number % self.lose_every == 0)
            if self.lose_next > 0:
                self.lose_next -= 1
            if lose:
                self.lost += 1
            return lose

    def _conversation_info(self, channel: str) -> tuple[int, dict[str, Any]]:
        scopes = set(self.scopes or ())
        if not {"channels:read", "groups:read"} & scopes:
            return 200, {"ok": False, "error": "missing_scope", "needed": "channels:read"}
        known = self.channels.get(channel)
        if known is None:
            return 200, {"ok": False, "error": "channel_not_found"}
        info = {"id": channel, "is_channel": True, "is_private": False, "is_member": False}
        return 200, {"ok": True, "channel": {**info, **known}}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def end_headers(self) -> None:
                if api.scopes is not None and urlsplit(self.path).path.startswith(API_PATH):
                    self.send_header("x-oauth-scopes", ",".join(api.scopes))
                super().end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the calls are recorded, not logged."""

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _json(
                self, status: int, data: dict[str, Any], headers: dict[str, str] | None = None
            ) -> None:
                body = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def _connections_open(self, params: dict[str, Any]) -> None:
                """Socket Mode: the app-level token gets the WebSocket URL to connect to."""
                header = self.headers.get("Authorization", "")
                token = header.removeprefix("Bearer ").strip() or params.get("token", "")
                api._record("apps.connections.open", {}, API_PATH)
                if token != api.app_token:
                    self._json(200, {"ok": False, "error": "invalid_auth"})
                else:
                    self._json(200, {"ok": True, "url": api.socket_mode_url})

            def _authorized(self, params: dict[str, Any]) -> bool:
                header = self.headers.get("Authorization", "")
                token = header.removeprefix("Bearer ").strip() or params.get("token", "")
                return token == api.bot_token

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path.startswith(FILES_PATH):
                    self._file(url.path)
                    return
                self.do_POST()

            def _file(self, path: str) -> None:
                file_id = path[len(FILES_PATH) :].split("/")[0].split("-")[-1]
                stored = api._state.files.get(file_id)
                location = api._redirects.get(file_id)
                if location is not None:
                    self.send_response(302)
                    self.send_header("Location", location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif stored is None:
                    self._send(404, b"not found", "text/plain")
                elif not self._authorized({}) or api.files_scope_missing:
                    self._send(200, SIGN_IN_PAGE, "text/html; charset=utf-8")
                else:
                    gate = api.file_gates.get(file_id)
                    if gate is not None:
                        gate.wait(60)
                    if file_id in api.file_drip:
                        self._drip(stored, api.file_drip[file_id])
                    else:
                        self._send(200, stored.content, stored.info["mimetype"])

            def _drip(self, stored: StoredFile, seconds: float) -> None:
                """The bytes one at a time: a host that keeps each read alive, forever."""
                self.send_response(200)
                self.send_header("Content-Type", stored.info["mimetype"])
                self.send_header("Content-Length", str(len(stored.content)))
                self.end_headers()
                try:
                    for index in range(len(stored.content)):
                        self.wfile.write(stored.content[index : index + 1])
                        self.wfile.flush()
                        time.sleep(seconds)
                except OSError:
                    self.close_connection = True  # the reader gave up: that is the point

            def do_POST(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                params = _decode_params(self.headers.get("Content-Type", ""), body, url.query)
                if url.path.startswith(RESPONSE_PATH):
                    api._record("response_url", params, url.path)
                    self._send(200, b"ok", "text/plain")
                    return
                if not url.path.startswith(API_PATH):
                    self._json(404, {"ok": False, "error": "unknown_method"})
                    return
                method = url.path[len(API_PATH) :].strip("/")
                if method == "apps.connections.open" and api.socket_mode_url:
                    self._connections_open(params)
                    return
                if not self._authorized(params):
                    api._record(method, params, url.path)
                    self._json(200, {"ok": False, "error": "invalid_auth"})
                    return
                failure = api._take_failure(method, params, url.path)
                if failure is not None:
                    error = "ratelimited" if failure.status == 429 else failure.error
                    headers = {}
                    if failure.retry_after is not None:
                        headers["Retry-After"] = str(failure.retry_after)
                    self._json(failure.status, {"ok": False, "error": error}, headers)
                    return
                time.sleep(api.delays.get(method, 0.0))
                status, data = api.answer(method, params)
                api._record(method, params, url.path, data)
                time.sleep(api.hold_answers.get(method, 0.0))
                if data.get("ok") and api._lose(method):
                    self.close_connection = True  # posted, and the answer is lost
                    return
                self._json(status, data)

        return Handler
