"""Files dropped in a DM with the bot: collect, download, check, answer (saving: save.py).

An upload arrives as a `message` event with subtype `file_share` (never through
`app.message`). The files of one message, and of the person's further messages within a
short window, form one submission: a certificate, key and chain sent as three messages
are checked together. The first event of a submission posts a "working" message and
sets a timer for the end of the window; the listener returns at once. When the window
has passed since the submission's last files, the download, check and answer (updating
the "working" message) go to the work pool (`deps.work`), fair per person. A person may
have `CERTOPS_MAX_SUBMISSIONS_PER_PERSON` submissions in flight; the next is answered at
once with "still checking your earlier files" and is not read.

Dedupe: the middleware drops a retried event (same event id) and this module drops a
file it has already taken from the same message (file id and message ts: a retry in a
new envelope repeats both; sharing the file again is a new message). Both decisions are
made in the database, shared by every replica (`handlers.common.dedupe.first_delivery`), with a
per-process memory in front; only when the database is down is a retry that lands on
another replica answered twice. Grouping files into one submission stays per process.
Saving is idempotent where it matters (the certificate name is unique in the database).

Passwords are never typed into messages: the answer offers a button that opens a modal;
the modal holds the file ids (in `private_metadata`), the files are downloaded again on
submit. A message that looks like a password is not read into anything and the person
is told to delete it.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from slack_bolt import Ack, BoltContext, Say
from slack_sdk import WebClient

from bot.isolation import CheckTimeout
from bot.services.actors import Actor
from bot.services.uploads import Checked, Passwords, check_upload, suggested_domain, suggested_name
from bot.settings import DEFAULT_UPLOAD_WINDOW_SECONDS
from handlers.common.background import still_checking_text
from handlers.common.blocks.base import fallback_text
from handlers.common.blocks.verdicts import failure_blocks
from handlers.common.dedupe import RecentIds, first_delivery
from handlers.common.deps import Deps, deps_of
from handlers.common.errors import error_blocks
from handlers.common.files import MAX_FILES, FileSource
from handlers.common.payloads import button_value, dm_of, input_values, metadata_of
from handlers.common.request_context import request_id_var
from handlers.common.slack_files import DownloadError, file_ids
from handlers.uploads import blocks

log = logging.getLogger("certops.uploads")

# "password: x", "pwd=x", "the passphrase is x": said in a message, it is already exposed.
PASSWORD_SAID = re.compile(
    r"\b(pass(word|phrase|wd)?|pwd|pin|secret)\b\s*(is\b|[:=])", re.IGNORECASE
)
LONE_WORD = re.compile(r"^\S{6,128}$")
# A lone word is taken for a password when it mixes letters with digits or symbols.
MIXED = re.compile(r"(?=.*[A-Za-z])(?=.*[^A-Za-z])")
AWAIT_PASSWORD_SECONDS = 15 * 60
TOO_LONG = (
    "checking these files took too long, so I stopped: certificate files are checked in "
    "well under a second. If they are what your CA sent, ask an admin to look at the log."
)


@dataclass
class Batch:
    """One submission being collected: the person's files until the window closes."""

    user: str
    channel: str
    files: list[dict[str, Any]]
    deadline: float
    closed: bool = False
    ts: str = ""  # the "working" message the answer replaces


class Busy(Exception):
    """The person already has the most submissions in flight (the per-person cap)."""


@dataclass
class Intake:
    deps: Deps
    window: float = DEFAULT_UPLOAD_WINDOW_SECONDS
    seen_files: RecentIds = field(default_factory=RecentIds)
    # People shown an "Enter the password" button, and when: a lone word from them soon
    # after is likely the password itself.
    _awaiting: dict[str, float] = field(default_factory=dict)
    _batches: dict[str, Batch] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- the DM ---------------------------------------------------------------------------
    def on_file_share(self, event: dict[str, Any], client: WebClient, say: Say) -> None:
        if event.get("channel_type") != "im" or event.get("bot_id"):
            return
        user, channel = str(event.get("user") or ""), str(event.get("channel") or "")
        if not user or not channel:
            return
        if PASSWORD_SAID.search(str(event.get("text") or "")):
            say(text=blocks.PASSWORD_TYPED)
        # A retry (even in a new envelope) repeats the message's ts; sharing the same file
        # again is a new message, and is checked again.
        when = str(event.get("ts") or "")
        new = [
            f
            for f in event.get("files") or []
            if isinstance(f, dict)
            and isinstance(f.get("id"), str)
            and first_delivery(self.seen_files, self.deps.services, "file", f"{f['id']}@{when}")
        ]
        if not new:
            log.info("file_share from %s with no new file: already taken", user)
            return
        try:
            batch = self._join(user, channel, new)
        except Busy:
            log.info("file_share from %s refused: submissions in flight at the cap", user)
            say(text=still_checking_text(self.deps.submissions.limit))
            return
        if batch is None:
            return  # another listener collects this submission
        names = [str(f.get("name") or f.get("id")) for f in batch.files]
        try:
            working = client.chat_postMessage(
                channel=channel, text="Checking your files…", blocks=blocks.working_blocks(names)
            )
        except Exception:
            self._close(batch)  # or the person's next files would join a dead submission
            self.deps.submissions.give(user)
            raise
        batch.ts = str(working["ts"])
        self._after_window(batch, client)

    def _after_window(self, batch: Batch, client: WebClient) -> None:
        """A timer for the end of the window (no thread waits for it); moved on when more
        files joined meanwhile. Then the check goes to the work pool, fair per person."""
        with self._lock:
            left = batch.deadline - time.monotonic()
            if left <= 0:
                self._close_locked(batch)
        if left > 0:
            self.deps.work.call_later(left, lambda: self._after_window(batch, client))
            return
        self.deps.work.start(
            batch.user,
            lambda: self._answer_batch(batch, client),
            "checking an upload",
        )

    def _answer_batch(
        self,
        batch: Batch,
        client: WebClient,
        passwords: Passwords = Passwords(),  # noqa: B008 - frozen, harmless default
    ) -> None:
        try:
            self.answer(client, batch.channel, batch.ts, batch.files, passwords, user=batch.user)
        finally:
            self.deps.submissions.give(batch.user)

    def on_password_text(self, event: dict[str, Any], say: Say) -> None:
        log.info("a message from %s looked like a password: not kept", event.get("user"))
        say(text=blocks.PASSWORD_TYPED)

    def looks_like_password(self, event: dict[str, Any]) -> bool:
        """A DM text that is (or says) a password: the matcher of `on_password_text`."""
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return False
        text = str(event.get("text") or "").strip()
        if PASSWORD_SAID.search(text):
            return True
        lone = bool(LONE_WORD.match(text)) and bool(MIXED.match(text))
        return lone and self.awaits_password(str(event.get("user") or ""))

    def awaits_password(self, user: str) -> bool:
        with self._lock:
            since = self._awaiting.get(user)
        return since is not None and time.monotonic() - since < AWAIT_PASSWORD_SECONDS

    def _await_password(self, user: str, waiting: bool) -> None:
        with self._lock:
            if waiting:
                self._awaiting[user] = time.monotonic()
            else:
                self._awaiting.pop(user, None)

    def _join(self, user: str, channel: str, files: list[dict[str, Any]]) -> Batch | None:
        """Add files to the person's open submission (None); else a new one (returned).
        Busy when the person already has the most submissions in flight."""
        deadline = time.monotonic() + self.window
        with self._lock:
            self._forget_stale_locked()
            open_batch = self._batches.get(user)
            if (
                open_batch is not None
                and not open_batch.closed
                and len(open_batch.files) + len(files) <= MAX_FILES
            ):
                open_batch.files += files
                open_batch.deadline = deadline
                return None
            if not self.deps.submissions.take(user):
                raise Busy(user)
            batch = Batch(user, channel, list(files), deadline)
            self._batches[user] = batch
            return batch

    def _close(self, batch: Batch) -> None:
        with self._lock:
            self._close_locked(batch)

    def _close_locked(self, batch: Batch) -> None:
        batch.closed = True
        if self._batches.get(batch.user) is batch:
            del self._batches[batch.user]

    def _forget_stale_locked(self) -> None:
        """Drop password hints older than their use: kept per person, they would grow
        with the workspace for the life of the process."""
        now = time.monotonic()
        stale = [u for u, t in self._awaiting.items() if now - t >= AWAIT_PASSWORD_SECONDS]
        for user in stale:
            del self._awaiting[user]

    # --- checking and answering -----------------------------------------------------------
    def answer(
        self,
        client: WebClient,
        channel: str,
        ts: str,
        files: Sequence[Mapping[str, Any]],
        passwords: Passwords,
        *,
        user: str = "",
    ) -> None:
        """Download, check and put the verdict in place of the working message."""
        ids = file_ids(files)
        try:
            inputs = FileSource(client, self.deps.settings).fetch_all(files)
            with self.deps.work.cpu():  # one check at a time: see bot/work_pool.CPU_SLOTS
                checked = check_upload(
                    self.deps.services, inputs, passwords, isolated=self.deps.isolated
                )
            answer = self._report(checked, ids, passwords)
            if user:
                self._await_password(user, checked.needs_password)
        except DownloadError as error:
            log.info("upload refused: %s", error.code)
            answer = failure_blocks(error.message)
        except CheckTimeout:
            answer = failure_blocks(TOO_LONG)
        except Exception as error:  # the person must hear about it, never silence
            log.error("checking an upload failed: %s", type(error).__name__, exc_info=error)
            answer = error_blocks("checking your files", request_id_var.get(), unchanged=True)
        client.chat_update(channel=channel, ts=ts, text=fallback_text(answer), blocks=answer)

    def _report(self, checked: Checked, ids: list[str], passwords: Passwords) -> list[Any]:
        return blocks.report_blocks(
            checked.report,
            ids,
            needs_password=checked.needs_password,
            password_used=bool(passwords.key or passwords.zip),
            has_zip=checked.has_zip,
            key_sent=checked.key_sent,
            name=suggested_name(checked.report),
            domain=suggested_domain(checked.report),
            needs=checked.needs,
        )

    # --- the password modal ---------------------------------------------------------------
    def open_password(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        value = button_value(body)
        metadata = json.dumps(
            {
                "files": value.get("files", []),
                "zip": bool(value.get("zip")),
                "needs": list(value.get("needs") or []),
                "channel": dm_of(body, client),
            }
        )
        client.views_open(
            trigger_id=str(body.get("trigger_id", "")),
            view=blocks.password_view(
                metadata,
                fields=blocks.password_fields(
                    value.get("needs") or [], has_zip=bool(value.get("zip"))
                ),
            ),
        )

    def submit_password(
        self, ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext
    ) -> None:
        view = body.get("view") or {}
        meta = metadata_of(view)
        values = input_values(view)
        passwords = Passwords(
            key=values.get("password", "").encode() or None,
            zip=values.get("zip_password", "").encode() or None,
        )
        if not passwords.key and not passwords.zip:
            block = blocks.password_fields(meta.get("needs") or [], has_zip=bool(meta.get("zip")))[
                0
            ]
            ack(response_action="errors", errors={block: "Give the password to open the files."})
            return
        actor: Actor = context["actor"]
        user = actor.user_id
        if not self.deps.submissions.take(user):
            block = "zip_password" if meta.get("zip") else "password"
            text = still_checking_text(self.deps.submissions.limit)
            ack(response_action="errors", errors={block: text})
            return
        ack()
        try:
            channel = str(meta.get("channel") or "")
            ids = [str(i) for i in meta.get("files") or []]
            working = client.chat_postMessage(
                channel=channel, text="Checking again…", blocks=blocks.working_blocks([])
            )
        except Exception:
            self.deps.submissions.give(user)
            raise
        again = Batch(user, channel, [{"id": i} for i in ids], 0.0, True, str(working["ts"]))
        self.deps.work.start(
            user, lambda: self._answer_batch(again, client, passwords), "checking an upload"
        )


# --- the listeners: module-level, the Intake found in the app's Deps ---------------------
def intake_of(context: BoltContext) -> Intake:
    return deps_of(context).state(Intake)


def on_file_share(event: dict[str, Any], client: WebClient, say: Say, context: BoltContext) -> None:
    intake_of(context).on_file_share(event, client, say)


def looks_like_password(event: dict[str, Any], context: BoltContext) -> bool:
    return intake_of(context).looks_like_password(event)


def on_password_text(event: dict[str, Any], say: Say, context: BoltContext) -> None:
    intake_of(context).on_password_text(event, say)


def open_password(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    intake_of(context).open_password(ack, body, client)


def submit_password(
    ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    intake_of(context).submit_password(ack, body, client, context)
