"""Files and payloads for the upload and modal tests: certificate sets in every format
(built at test time), a second loopback HTTP server that records what reaches it, and
the interaction payloads Slack sends for modals (view_submission, block_actions in a view).
"""

from __future__ import annotations

import io
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pyzipper
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

from bot.console.sender import Sent
from bot.console.sender import file_share_event as console_file_share
from tests.support.slack_fixtures import PkiSet
from tests.support.slack_harness import USER, Exchange, SlackHarness

PFX_PASSWORD = "Pfx-Secret-7319"
ZIP_PASSWORD = "Zip-Secret-4471"


@dataclass(frozen=True)
class UploadSet:
    cert_pem: bytes  # the leaf and its intermediate
    leaf_pem: bytes  # the leaf alone (no chain: invalid)
    key_pem: bytes
    pfx: bytes  # leaf, key, intermediate; PFX_PASSWORD
    zip_aes: bytes  # cert.pem and key.pem in folders; ZIP_PASSWORD (AES)
    other_key_pem: bytes  # a key that belongs to another certificate


def make_uploads(pki: PkiSet) -> UploadSet:
    shop = pki.shop
    pfx = pkcs12.serialize_key_and_certificates(
        b"shop",
        shop.key,  # type: ignore[arg-type]
        shop.cert,
        [pki.intermediate.cert],
        BestAvailableEncryption(PFX_PASSWORD.encode()),
    )
    buffer = io.BytesIO()
    with pyzipper.AESZipFile(buffer, "w", encryption=pyzipper.WZ_AES) as archive:
        archive.setpassword(ZIP_PASSWORD.encode())
        archive.writestr("bundle/cert.pem", shop.pem + pki.intermediate.issued.pem)
        archive.writestr("bundle/private/key.pem", shop.key_pem())
    return UploadSet(
        cert_pem=shop.pem + pki.intermediate.issued.pem,
        leaf_pem=shop.pem,
        key_pem=shop.key_pem(),
        pfx=pfx,
        zip_aes=buffer.getvalue(),
        other_key_pem=pki.wildcard.key_pem(),
    )


# --- a second server: where a token must never arrive ----------------------------------
@dataclass
class Seen:
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    @property
    def authorization_headers(self) -> list[str]:
        return [h["authorization"] for _, h in self.requests if "authorization" in h]


@contextmanager
def recording_server(body: bytes = b"-----BEGIN CERTIFICATE-----\n") -> Iterator[tuple[str, Seen]]:
    """A loopback HTTP server that serves `body` to anyone and records every request."""
    seen = Seen()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

        def do_GET(self) -> None:
            seen.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            if self.path.startswith("/stream"):  # no Content-Length: read until closed
                self.send_response(200)
                self.send_header("Connection", "close")
                self.end_headers()
                for _ in range(40):
                    self.wfile.write(b"x" * 1024)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


# --- events and interactions as Slack sends them ----------------------------------------
def file_share_event(
    files: list[dict[str, Any]], user: str = USER, text: str = ""
) -> dict[str, Any]:
    """The console's event (one shape for both), with the fixed ts the retry tests repeat."""
    return console_file_share(files, user, text, ts="1700000000.000200")


def send_files(
    slack: SlackHarness, *files: dict[str, Any], user: str = USER, text: str = ""
) -> Exchange:
    return slack.event(file_share_event(list(files), user, text))


def last_update(exchange: Exchange) -> str:
    texts = exchange.texts("chat.update")
    assert texts, f"no chat.update among {[c.method for c in exchange.calls]}"
    return texts[-1]


def button_in(call_blocks: list[dict[str, Any]], action_id: str) -> dict[str, Any]:
    for block in call_blocks:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("action_id") == action_id:
                return dict(element)
    raise AssertionError(f"no button {action_id} in {json.dumps(call_blocks)[:400]}")


def click(slack: SlackHarness, action_id: str, value: str, user: str = USER) -> Exchange:
    """A click on a button of a DM message (no response URL needed by these listeners)."""
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower()},
        "channel": {"id": "D" + user[1:]},
        "actions": [{"type": "button", "action_id": action_id, "block_id": "b", "value": value}],
    }
    return interact(slack, payload)


def interact(slack: SlackHarness, payload: dict[str, Any]) -> Exchange:
    since = slack.api.mark()
    sent: Sent = slack.sender.interaction(payload)
    slack.settle()
    return Exchange(sent, slack.api.calls(since=since))


def text_value(value: str) -> dict[str, Any]:
    return {"value": {"type": "plain_text_input", "value": value}}


def files_value(*files: dict[str, Any]) -> dict[str, Any]:
    return {"files": {"type": "file_input", "files": list(files)}}


def select_value(action_id: str, value: str | None) -> dict[str, Any]:
    option = {"value": value, "text": {"type": "plain_text", "text": value}} if value else None
    return {action_id: {"type": "static_select", "selected_option": option}}


def choice_value(value: str | None) -> dict[str, Any]:
    option = {"value": value, "text": {"type": "plain_text", "text": value}} if value else None
    return {"choice": {"type": "radio_buttons", "selected_option": option}}


def boxes_value(*values: str) -> dict[str, Any]:
    return {
        "choice": {
            "type": "checkboxes",
            "selected_options": [
                {"value": v, "text": {"type": "plain_text", "text": v}} for v in values
            ],
        }
    }


def submit_view(
    slack: SlackHarness,
    view: dict[str, Any],
    values: dict[str, dict[str, Any]],
    user: str = USER,
    view_id: str | None = None,
) -> Exchange:
    """Submit a modal the bot opened, with `values` as the person filled it in."""
    return interact(slack, view_submission(view, values, user, view_id))


def view_submission(
    view: dict[str, Any],
    values: dict[str, dict[str, Any]],
    user: str = USER,
    view_id: str | None = None,
) -> dict[str, Any]:
    """The `view_submission` payload Slack sends for `view` filled in with `values`."""
    return {
        "type": "view_submission",
        "user": {"id": user, "username": user.lower()},
        "view": {
            "id": view_id or "V" + uuid.uuid4().hex[:8].upper(),
            "type": "modal",
            "callback_id": view.get("callback_id"),
            "private_metadata": view.get("private_metadata", ""),
            "hash": "h1",
            "blocks": view.get("blocks", []),
            "state": {"values": values},
        },
    }


def opened_view(exchange: Exchange) -> dict[str, Any]:
    opened = exchange.of("views.open")
    assert opened, f"no views.open among {[c.method for c in exchange.calls]}"
    return opened[-1].view
