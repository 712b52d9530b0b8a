"""`/healthz`, `/readyz` and `/metrics` as a small WSGI app, beside Bolt's or on its own port.

- `/healthz`: the process is up and serving (200), whatever the database does, so an
  orchestrator does not restart a bot that only waits for its database.
- `/readyz`: the database answers (200), else 503 with the reason; also 503 once a
  shutdown has begun, so a load balancer stops sending new work, and in Socket Mode
  while the connection to Slack has been down for more than a few seconds (`connection`:
  a provider that returns why the bot cannot hear Slack, or None). The database check
  gets `READY_CHECK_SECONDS`: a database that hangs is "not ready" within a probe's
  default timeout (1 s), never a probe that times out.
- `/metrics`: the app's registry in the Prometheus text format.

In HTTP mode `with_health` puts these paths in front of Bolt's `/slack/events`; in Socket
Mode `certops run` serves the same app alone on CERTOPS_METRICS_PORT.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from bot.metrics import CONTENT_TYPE, Metrics
from bot.services.deadlines import Bounded, Late

if TYPE_CHECKING:
    from storage.db import Database

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
PATHS = ("/healthz", "/readyz", "/metrics")
# Kubernetes' probe timeout defaults to 1 s: answer well within it.
READY_CHECK_SECONDS = 0.7
# Checks still hanging on a frozen database; past this the answer is "not ready" at once.
READY_CHECKS_IN_FLIGHT = 2


class HealthApp:
    def __init__(
        self,
        metrics: Metrics | None,
        database: Database | None,
        draining: Callable[[], bool] = lambda: False,
        connection: Callable[[], str | None] | None = None,
    ) -> None:
        self.metrics = metrics
        self.database = database
        self.draining = draining
        self._checks = Bounded("certops-readyz", READY_CHECKS_IN_FLIGHT)
        self.connection = connection

    def readiness(self) -> tuple[bool, str]:
        """Whether the bot can take work, and why not."""
        if self.draining():
            return False, "shutting down"
        problem = self.connection() if self.connection is not None else None
        if problem:
            return False, problem
        if self.database is None:
            return True, "ready"
        from storage.errors import StorageError

        try:
            self._checks.call(self.database.check, READY_CHECK_SECONDS)
        except Late as late:
            return False, f"database did not answer: {late}"
        except StorageError as error:
            return False, str(error)
        except Exception as error:  # an unexpected driver error still means "not ready"
            return False, f"database check failed: {type(error).__name__}"
        return True, "ready"

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD", "GET") not in {"GET", "HEAD"}:
            return _answer(start_response, "405 Method Not Allowed", b"GET only\n")
        if path == "/healthz":
            return _answer(start_response, "200 OK", b"ok\n")
        if path == "/readyz":
            ready, why = self.readiness()
            status = "200 OK" if ready else "503 Service Unavailable"
            return _answer(start_response, status, why.encode("utf-8", "replace") + b"\n")
        if path == "/metrics" and self.metrics is not None:
            return _answer(start_response, "200 OK", self.metrics.render(), CONTENT_TYPE)
        return _answer(start_response, "404 Not Found", b"not found\n")


def _answer(
    start_response: StartResponse,
    status: str,
    body: bytes,
    content_type: str = "text/plain; charset=utf-8",
) -> list[bytes]:
    start_response(
        status,
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
        ],
    )
    return [body]


def with_health(slack: WsgiApp, health: HealthApp) -> WsgiApp:
    """One WSGI app: the health paths answered by `health`, everything else by `slack`."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") in PATHS:
            return health(environ, start_response)
        if health.draining():  # stopping: no new work; Slack retries an event elsewhere
            return _answer(start_response, "503 Service Unavailable", b"shutting down\n")
        return slack(environ, start_response)

    return app
