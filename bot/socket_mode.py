"""Socket Mode: certops' own connection keeper on `websocket-client`, under Bolt's listeners.

Why not one of slack_sdk's clients as it is (bench/bench_socket_mode.py measures all
three against tests/support/socket_mode_server.py; the figures are in docs/performance.md):

- the built-in client reads nothing on the new connection for 3 s after a refresh (an
  envelope then is acked at ~3.1 s, so Slack shows a timeout or delivers it again); on a
  connection closed without a close frame it spins a core and reconnects only after five
  failed pings (~50 s); at SIGTERM it waits 3 s and sends no close frame;
- the `websocket-client` adapter is quick on a refresh and a drop, but retries a lost
  connection every 0.5 s without backoff (one `apps.connections.open` each time, for as
  long as Slack is unreachable), reconnects after `link_disabled` for ever, and at
  SIGTERM closes the connection without waiting for the acks of envelopes it already read.

What this client does instead, with websocket-client's WebSocket (frames, ping/pong,
close handshake, TLS) doing the wire work:

- one reader thread per connection, so a connection never waits on another one's
  timeout; after `disconnect` (`refresh_requested`, `warning`) the new connection is
  opened first and the old one is still read (and its envelopes acked) until Slack
  closes it or RETIRE_SECONDS pass;
- a connection that ends (close frame, FIN, reset, or silence past DEAD_SECONDS despite
  pings) is replaced at once; failed attempts back off exponentially with jitter
  (`backoff`), so replicas do not retry in step and a dead network costs no CPU;
- `link_disabled` (Socket Mode turned off for the app) and a refused token are final:
  one error line, no retry, `on_fatal` asks the process to stop;
- `close()` (SIGTERM) lets every envelope already read be acked, then sends a close frame
  and waits briefly for Slack's;
- `ConnectionState` says whether a connection is up: `/readyz` and the metric
  `certops_socket_mode_connected` read it.

Envelopes go to Bolt through Bolt's own `run_bolt_app` and `send_response`, as Bolt's
adapters do; the ack goes back on the connection the envelope came from.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from queue import Queue
from typing import Any

import websocket
from slack_bolt.adapter.socket_mode.base_handler import BaseSocketModeHandler
from slack_bolt.adapter.socket_mode.internals import run_bolt_app, send_response
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.web import WebClient
from websocket import ABNF, WebSocketException, WebSocketTimeoutException

log = logging.getLogger("certops.socket_mode")

POLL_SECONDS = 0.5  # a reader looks up from recv() this often (stop, retirement, pings)
PING_SECONDS = 10.0  # a ping after this long without a frame from Slack
DEAD_SECONDS = 25.0  # nothing at all from Slack for this long: the connection is dead
CONNECT_SECONDS = 10.0  # TCP + TLS + WebSocket handshake, then again for `hello`
RETIRE_SECONDS = 30.0  # an old connection is still read this long after a refresh
DRAIN_QUIET_SECONDS = 0.1  # at a stop, what has arrived is read until this long a silence
DRAIN_SECONDS = 1.0  # (at most this long)
ACK_WAIT_SECONDS = 3.0  # at a stop, envelopes already read get this long to be acked
CLOSE_WAIT_SECONDS = 2.0  # then Slack's close frame is awaited this long
HEALTHY_SECONDS = 30.0  # a connection that lasted this long was not a failed attempt
READY_GRACE_SECONDS = 5.0  # /readyz says 503 once disconnected for longer than this
BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 30.0
# apps.connections.open errors no retry can mend: the app token is wrong or revoked.
FATAL_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "not_allowed_token_type",
        "missing_scope",
    }
)


def backoff(attempt: int, draw: Callable[[], float] = random.random) -> float:
    """Seconds to wait before retry number `attempt` (1, 2, ...): doubling from 0.5 s up
    to 30 s, each drawn between half and all of that, so replicas spread their retries."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** max(0, attempt - 1))
    return ceiling * (0.5 + 0.5 * draw())


class ConnectionState:
    """Whether a Socket Mode connection is up, and since when it is not."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._up = False
        self._since = clock()

    def set(self, up: bool) -> None:
        with self._lock:
            if up != self._up:
                self._up = up
                self._since = self._clock()

    @property
    def up(self) -> bool:
        return self._up

    def down_for(self) -> float:
        """Seconds since the last connection ended (or the start); 0 while one is up."""
        with self._lock:
            return 0.0 if self._up else self._clock() - self._since

    def problem(self) -> str | None:
        """Why the bot is not ready, for /readyz: None while connected or only just lost
        (a refresh or a reconnection takes well under READY_GRACE_SECONDS)."""
        down = self.down_for()
        if down <= READY_GRACE_SECONDS:
            return None
        return f"Socket Mode not connected for {down:.0f} s"


class _Link:
    """One WebSocket to Slack, read by its own thread."""

    def __init__(self, ws: websocket.WebSocket, number: int) -> None:
        self.ws = ws
        self.number = number
        self.opened = time.monotonic()
        self.last_seen = self.opened
        self.last_ping = self.opened
        self.hello = threading.Event()
        self.settled = threading.Event()  # hello, or ended before it
        self.ended = threading.Event()
        self.replace_asked = 0.0  # when Slack asked for a new connection (monotonic)
        self.retire_at: float | None = None  # read until then, then close
        self._pending = 0
        self._idle = threading.Condition()
        self.thread: threading.Thread | None = None

    def begin(self) -> None:
        with self._idle:
            self._pending += 1

    def done(self) -> None:
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    def wait_acked(self, timeout: float) -> int:
        """Wait until every envelope read here went through Bolt; how many did not."""
        with self._idle:
            self._idle.wait_for(lambda: self._pending == 0, timeout)
            return self._pending

    def end(self) -> None:
        self.ws.shutdown()
        self.ended.set()
        self.settled.set()


class SocketModeClient(BaseSocketModeClient):
    """Keeps one Socket Mode connection open (two for a moment at a refresh)."""

    def __init__(
        self,
        app_token: str,
        web_client: WebClient,
        *,
        state: ConnectionState | None = None,
        on_fatal: Callable[[str], Any] | None = None,
        concurrency: int = 10,
    ) -> None:
        self.app_token = app_token
        self.web_client = web_client
        self.logger = log
        self.state = state or ConnectionState()
        self.on_fatal = on_fatal or (lambda _reason: None)
        self.message_listeners = []
        self.socket_mode_request_listeners = []
        self.message_queue = Queue()  # the base class's; unused, envelopes go to workers
        self.message_workers = ThreadPoolExecutor(concurrency, "socket-mode-envelope")
        self.closed = False
        self.connect_operation_lock = threading.Lock()
        self.failure: str | None = None  # why the client gave up for good
        self._lock = threading.Lock()
        self._current: _Link | None = None
        self._links: set[_Link] = set()
        self._numbers = itertools.count(1)
        self._local = threading.local()
        self._wanted = threading.Event()
        self._stop = threading.Event()
        self._quick_drops = 0
        self._down_since: float | None = None
        self._supervisor: threading.Thread | None = None

    # --- the Bolt side -----------------------------------------------------------------
    def is_connected(self) -> bool:
        link = self._current
        return link is not None and not link.ended.is_set()

    def connect(self) -> None:
        """Open the first connection (its failure is raised, for one line at start), then
        keep a connection open until `close()`."""
        self._install(self._open())
        self._supervisor = threading.Thread(target=self._supervise, name="socket-mode")
        self._supervisor.daemon = True
        self._supervisor.start()

    def disconnect(self) -> None:
        """Close the current connection cleanly; another one is opened."""
        link = self._current
        if link is not None:
            link.retire_at = time.monotonic()

    def close(self) -> None:
        """Stop: every envelope already read is acked, then each connection gets a close
        frame. Returns once they are closed (a few seconds at most)."""
        self.closed = True
        self._stop.set()
        self._wanted.set()
        with self._lock:
            links = list(self._links)
        for link in links:
            if link.thread is not None:
                link.thread.join(POLL_SECONDS + ACK_WAIT_SECONDS + CLOSE_WAIT_SECONDS + 1)
        self.state.set(False)
        self.message_workers.shutdown(wait=False)

    def send_message(self, message: str) -> None:
        """An ack, on the connection its envelope came on (else the current one)."""
        origin: _Link | None = getattr(self._local, "link", None)
        for link in (origin, self._current):
            if link is None or not link.ws.connected:
                continue
            try:
                link.ws.send(message)
                return
            except (OSError, WebSocketException):
                continue
        log.warning("Socket Mode: an ack could not be sent (no open connection): Slack retries")

    def issue_new_wss_url(self) -> str:
        """The WebSocket URL from `apps.connections.open`; its errors are raised (the
        supervisor decides: retry later, or stop)."""
        response = self.web_client.apps_connections_open(app_token=self.app_token)
        return str(response["url"])

    # --- connections -------------------------------------------------------------------
    def _open(self) -> _Link:
        url = self.issue_new_wss_url()
        ws = websocket.create_connection(url, timeout=CONNECT_SECONDS, enable_multithread=True)
        ws.settimeout(POLL_SECONDS)
        link = _Link(ws, next(self._numbers))
        with self._lock:
            self._links.add(link)
        link.thread = threading.Thread(
            target=self._read, args=(link,), name=f"socket-mode-{link.number}", daemon=True
        )
        link.thread.start()
        if not link.settled.wait(CONNECT_SECONDS) or not link.hello.is_set():
            link.retire_at = time.monotonic()
            raise ConnectionError("Slack said no hello on the new connection")
        return link

    def _install(self, link: _Link) -> None:
        if self._stop.is_set():  # stopping, or link_disabled came with the hello
            link.retire_at = time.monotonic()
            return
        with self._lock:
            old, self._current = self._current, link
            down_since, self._down_since = self._down_since, None
        self.state.set(True)
        if old is not None and not old.ended.is_set():
            old.retire_at = time.monotonic() + RETIRE_SECONDS
            log.info(
                "Socket Mode: connection %d up in %.0f ms; connection %d is read until Slack "
                "closes it",
                link.number,
                (time.monotonic() - (old.replace_asked or link.opened)) * 1000,
                old.number,
            )
        elif down_since is not None:
            log.info(
                "Socket Mode: reconnected (connection %d) after %.2f s",
                link.number,
                time.monotonic() - down_since,
            )
        else:
            log.info("Socket Mode: connected (connection %d)", link.number)

    def _fresh(self) -> bool:
        link = self._current
        return link is not None and not link.ended.is_set() and not link.replace_asked

    def _supervise(self) -> None:
        """Open a connection whenever one is wanted, backing off after failures."""
        attempts = 0
        delay = 0.0
        while True:
            self._wanted.wait()
            if self._stop.is_set():
                return
            self._wanted.clear()
            if self._fresh():
                continue
            if not delay and self._quick_drops > 1:
                delay = backoff(self._quick_drops - 1)
            if delay and self._stop.wait(delay):
                return
            try:
                link = self._open()
            except Exception as error:
                fatal = _fatal(error)
                if fatal is not None:
                    self._fail(*fatal)
                    return
                attempts += 1
                delay = _retry_after(error) or backoff(attempts)
                log.warning(
                    "Socket Mode: connection attempt %d failed (%s): next one in %.1f s",
                    attempts,
                    _describe(error),
                    delay,
                )
                self._wanted.set()
                continue
            attempts, delay = 0, 0.0
            self._install(link)

    def _fail(self, reason: str, code: str) -> None:
        """Give up for good: one error line, no more connections, ask the process to stop
        (`on_fatal(code)`)."""
        with self._lock:
            if self.failure is not None:
                return
            self.failure = reason
        log.error("Socket Mode: not reconnecting: %s", reason)
        self._stop.set()
        self._wanted.set()
        self.on_fatal(code)

    def _lost(self, link: _Link, why: str) -> None:
        with self._lock:
            self._links.discard(link)
            current = link is self._current
            if current:
                self._current = None
                self._down_since = time.monotonic()
        if self._stop.is_set():
            log.info("Socket Mode: connection %d closed", link.number)
            return
        if not current:
            log.info("Socket Mode: old connection %d closed (%s)", link.number, why)
            return
        self.state.set(False)
        self._wanted.set()
        if link.replace_asked:  # a refresh: Slack closed it before the new one was up
            log.info(
                "Socket Mode: connection %d closed (%s) before its successor", link.number, why
            )
            return
        lived = time.monotonic() - link.opened
        self._quick_drops = self._quick_drops + 1 if lived < HEALTHY_SECONDS else 0
        log.warning("Socket Mode: connection %d lost (%s): reconnecting", link.number, why)

    # --- reading -----------------------------------------------------------------------
    def _read(self, link: _Link) -> None:
        """Read one connection until it ends, or until it is told to leave."""
        why = "closed"
        try:
            while True:
                if self._stop.is_set() or (link.retire_at and time.monotonic() > link.retire_at):
                    why = self._leave(link)
                    return
                try:
                    opcode, frame = link.ws.recv_data_frame(control_frame=True)
                except WebSocketTimeoutException:
                    self._keepalive(link)
                    continue
                link.last_seen = time.monotonic()
                if opcode == ABNF.OPCODE_CLOSE:  # websocket-client already answered it
                    why = "closed by Slack"
                    return
                if opcode in (ABNF.OPCODE_TEXT, ABNF.OPCODE_BINARY):
                    self._on_message(link, frame.data)
        except websocket.WebSocketConnectionClosedException:
            why = "dropped without a close frame"
        except (OSError, WebSocketException) as error:
            why = _describe(error)
        finally:
            link.end()
            self._lost(link, why)

    def _keepalive(self, link: _Link) -> None:
        now = time.monotonic()
        idle = now - link.last_seen
        if idle > DEAD_SECONDS:
            raise TimeoutError(f"nothing from Slack for {idle:.0f} s")
        if idle >= PING_SECONDS and now - link.last_ping >= PING_SECONDS:
            link.last_ping = now
            link.ws.ping()

    def _leave(self, link: _Link) -> str:
        """Close a connection cleanly: what has already arrived is read and acked first,
        then a close frame (Slack delivers what it sends after that to another
        connection, or again after a restart)."""
        self._drain(link)
        left = link.wait_acked(ACK_WAIT_SECONDS)
        if left:
            log.warning(
                "Socket Mode: %d envelope(s) not acked after %.0f s", left, ACK_WAIT_SECONDS
            )
        with contextlib.suppress(OSError, WebSocketException):
            link.ws.close(timeout=CLOSE_WAIT_SECONDS)
        return "closed"

    def _drain(self, link: _Link) -> None:
        """Read the envelopes already received (until the line is quiet for
        DRAIN_QUIET_SECONDS, at most DRAIN_SECONDS), so they are acked, not redelivered."""
        until = time.monotonic() + DRAIN_SECONDS
        with contextlib.suppress(OSError, WebSocketException):
            link.ws.settimeout(DRAIN_QUIET_SECONDS)
            while time.monotonic() < until:
                opcode, frame = link.ws.recv_data_frame(control_frame=True)
                if opcode == ABNF.OPCODE_CLOSE:
                    return
                if opcode in (ABNF.OPCODE_TEXT, ABNF.OPCODE_BINARY):
                    self._on_message(link, frame.data)

    def _on_message(self, link: _Link, data: bytes | str) -> None:
        raw = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        try:
            message = json.loads(raw)
        except ValueError:
            log.warning("Socket Mode: a message that is not JSON was ignored")
            return
        if not isinstance(message, dict):
            return
        kind = message.get("type")
        if kind == "hello":
            link.hello.set()
            link.settled.set()
        elif kind == "disconnect":
            self._disconnect(link, str(message.get("reason") or "unknown"))
        else:
            link.begin()
            self.message_workers.submit(self._dispatch, link, message, raw)

    def _disconnect(self, link: _Link, reason: str) -> None:
        if reason == "link_disabled":
            self._fail(
                "Slack disabled Socket Mode for this app (link_disabled): turn it back on in "
                "the app's settings, then start certops again",
                reason,
            )
            return
        log.info(
            "Socket Mode: Slack asked for a new connection (%s): opening it, "
            "connection %d is read until then",
            reason,
            link.number,
        )
        link.replace_asked = time.monotonic()
        self._wanted.set()

    def _dispatch(self, link: _Link, message: dict[str, Any], raw: str) -> None:
        self._local.link = link
        try:
            self.run_message_listeners(message, raw)
        finally:
            self._local.link = None
            link.done()


class SocketModeHandler(BaseSocketModeHandler):
    """Bolt's Socket Mode handler on `SocketModeClient`: the envelope runs through Bolt's
    own `run_bolt_app` and `send_response`, exactly as Bolt's adapters do."""

    def __init__(self, app: Any, client: SocketModeClient) -> None:
        self.app = app
        self.client = client
        client.socket_mode_request_listeners.append(self.handle)

    def handle(self, client: BaseSocketModeClient, req: SocketModeRequest) -> None:
        started = time.time()
        send_response(client, req, run_bolt_app(self.app, req), started)


def _fatal(error: Exception) -> tuple[str, str] | None:
    """Why (one line) and Slack's error code, for an error no retry can mend; else None."""
    if isinstance(error, SlackApiError) and error.response is not None:
        code = str(error.response.get("error") or "")
        if code in FATAL_ERRORS:
            why = f"Slack refused the Socket Mode connection ({code}): check SLACK_APP_TOKEN"
            return why, code
    return None


def _retry_after(error: Exception) -> float:
    """Slack's Retry-After on a rate-limited apps.connections.open, else 0."""
    if not isinstance(error, SlackApiError) or error.response is None:
        return 0.0
    if error.response.get("error") != "ratelimited":
        return 0.0
    try:
        return float(error.response.headers.get("Retry-After", "30"))
    except (TypeError, ValueError):
        return 30.0


def _describe(error: BaseException) -> str:
    """One line, no payload: the error's type and first line."""
    if isinstance(error, SlackApiError) and error.response is not None:
        return f"Slack answered {error.response.get('error') or 'an error'}"
    first = (str(error).splitlines() or [""])[0]
    return f"{type(error).__name__}: {first}" if first else type(error).__name__
