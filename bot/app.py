"""The composition root of the Slack app: settings, client and database in, a Bolt App out.

Handlers register per feature (handlers/commands, home, uploads, validate, assign,
warnings, served; handlers/common holds what they share), each through its `register(app, deps)`; nothing imports a global app, so tests and the
console build as many apps as they like. Constructing the app makes no network call:
the token is checked on the first request (auth.test), not here.
"""

from __future__ import annotations

import logging
from concurrent.futures import Executor

from slack_bolt import App
from slack_sdk import WebClient

from bot.context import create_service_context
from bot.metrics import MeteredExecutor, Metrics
from bot.metrics_slack import SlackApiObserver, instrument
from bot.request_signature import harden_signature_check, quiet_client_token_notice
from bot.settings import Settings
from bot.shutdown import InFlight, Shutdown, attach, shutdown_for
from bot.work_pool import AllWork
from handlers import assign, commands, home, served, uploads, validate, warnings
from handlers.common import errors, middleware
from handlers.common.deps import Deps
from handlers.common.markup_gate import GuardedWebClient, guard_app
from handlers.common.modal_open import ModalOpener, modal_client
from handlers.common.request_context import ContextExecutor
from storage.db import Database

LISTENER_THREADS = 16


def create_client(settings: Settings, token: str | None = None) -> WebClient:
    """The Web API client, on SLACK_API_URL (Slack's, GovSlack's, or a local stand-in);
    what it posts passes the markup gate (handlers/common/markup_gate.py)."""
    return GuardedWebClient(
        token=token or settings.slack_bot_token, base_url=settings.slack_api_url
    )


def create_app(
    settings: Settings,
    client: WebClient | None = None,
    database: Database | None = None,
    *,
    deps: Deps | None = None,
    listener_executor: Executor | None = None,
    logger: logging.Logger | None = None,
    metrics: Metrics | None = None,
) -> App:
    """The Bolt app with every listener registered.

    `process_before_response` stays False: Bolt answers Slack as soon as a listener calls
    `ack()`. Listeners run on `listener_executor` and only answer: what waits or is slow
    (the upload window, downloads, checking files, DNS) goes to `deps.work`, a bounded
    pool fair per person (bot/work_pool.py), so no ack ever queues behind it.
    """
    deps = deps or Deps(settings=settings, services=create_service_context(settings, database))
    # Operating (issue 8): the app's own metrics registry, its listener runs timed and
    # counted (so a shutdown can wait for them), its shutdown coordinator.
    metrics = metrics or Metrics(
        deps.services.database,
        refresh_seconds=settings.metrics_refresh_seconds,
        series=settings.metrics_series,
    )
    metrics.watch_work(deps.work)
    executor = MeteredExecutor(
        listener_executor or ContextExecutor(max_workers=LISTENER_THREADS), metrics
    )
    app = App(
        client=client or create_client(settings),
        signing_secret=settings.slack_signing_secret or "",
        token_verification_enabled=False,
        process_before_response=False,
        listener_executor=executor,
        logger=quiet_client_token_notice(logger or logging.getLogger("certops.bolt")),
        name="certops",
    )
    harden_signature_check(app, settings.slack_signing_secret or "")
    if deps.modals is None:
        # views.open before an ack: one try, a short deadline (handlers/common/modal_open.py).
        fast = modal_client(app.client, observers=[SlackApiObserver(metrics)])
        deps.modals = ModalOpener(fast)
    guard_app(app)  # first: every listener posts through the gate
    middleware.register(app, deps)
    for feature in (commands, home, uploads, validate, assign, warnings, served):
        feature.register(app, deps)
    errors.register(app, deps)
    instrument(app, metrics)
    # Slow work after the ack runs on the work pool (and its timers), not on `executor`:
    # a shutdown waits for both, each piece of work counted once, where it is.
    work = AllWork((executor, deps.work))
    shutdown = attach(app, Shutdown(settings.shutdown_seconds, work, settings.drain_seconds))
    shutdown.on_shutdown(lambda: deps.work.shutdown(wait=False), name="work pool")
    isolated = deps.isolated
    if isolated is not None:
        shutdown.on_shutdown(isolated.close, name="check process")
    return app


def listener_runs(app: App) -> InFlight:
    """The listener runs in flight (the MeteredExecutor's count, the only one): what a
    test or a bench waits for when the work pool may go on."""
    work = shutdown_for(app).work
    assert isinstance(work, AllWork), "create_app attaches the shutdown"
    return work.parts[0]
