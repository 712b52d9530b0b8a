"""Fixes to how Bolt is built: a total signature check, and no false start-up warning.

The signature check, made total: a malformed header is a bad signature.

slack_sdk's `SignatureVerifier.is_valid` calls `int()` on `X-Slack-Request-Timestamp` and
`hmac.compare_digest` on `X-Slack-Signature`, so a timestamp such as `abc` (ValueError) or a
signature with a non-ASCII character (TypeError) raises instead of answering False. In Bolt
that exception skips the 401 and reaches the app's error handler with the unverified body:
anyone could then make the bot POST to a `response_url` of their choosing, or DM any user
with the bot's token. Here every such request is simply not signed (401, nothing done).
"""

from __future__ import annotations

import logging

from slack_bolt import App
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_bolt.middleware.request_verification import RequestVerification
from slack_sdk.signature import SignatureVerifier


class TotalSignatureVerifier(SignatureVerifier):
    """`is_valid` that answers False for malformed headers instead of raising.

    Without a signing secret (Socket Mode, where Bolt skips the check) it is still built,
    and refuses every request instead of raising at start or on the first one.
    """

    def __init__(self, signing_secret: str) -> None:
        self.configured = bool(signing_secret)
        super().__init__(signing_secret=signing_secret or "no signing secret")

    def is_valid(self, body: str | bytes, timestamp: str | None, signature: str | None) -> bool:
        if not self.configured or timestamp is None or signature is None:
            return False
        if not (timestamp.isascii() and timestamp.isdigit()) or not signature.isascii():
            return False
        try:
            return super().is_valid(body, timestamp, signature)
        except (ValueError, TypeError):
            return False


def harden_signature_check(app: App, signing_secret: str) -> None:
    """Give Bolt's request verification middleware the total verifier.

    Raises RuntimeError when the app has no such middleware (a Bolt upgrade that moved it):
    better a bot that does not start than one that trusts unsigned requests.
    """
    found = [m for m in app._middleware_list if isinstance(m, RequestVerification)]
    if not found:
        raise RuntimeError("Bolt's request verification middleware was not found")
    for verification in found:
        verification._verifier = TotalSignatureVerifier(signing_secret=signing_secret)


class ClientTokenNotice(logging.Filter):
    """Drops Bolt's start-up warning "As you gave `client` as well, `token` will be unused".

    Bolt reads SLACK_BOT_TOKEN from the environment by itself and warns whenever a client is
    given too, which `create_app` always does (with that same token): at every start an
    operator saw a WARNING that asked for nothing.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


def quiet_client_token_notice(logger: logging.Logger) -> logging.Logger:
    """`logger` with the filter (once), before the App that would warn on it is built."""
    if not any(isinstance(f, ClientTokenNotice) for f in logger.filters):
        logger.addFilter(ClientTokenNotice())
    return logger
