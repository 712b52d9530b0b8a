"""Slack file objects in, `InputFile`s out: the one place handlers get uploaded bytes.

A file object in an event or a `file_input` state usually carries its URLs; when it does
not (Slack sends `file_access: check_file_info` for some shares, and the password flow
keeps only ids), `files.info` is asked for them. Bytes are held only for the time of one
check: between two steps of a flow the handlers keep file ids, never contents.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.services.uploads import InputFile
from bot.settings import Settings
from handlers.common.slack_files import (
    LOGIN_PAGE_MESSAGE,
    MAX_FILE_BYTES,
    Downloader,
    DownloadError,
    file_urls,
    too_large,
)

log = logging.getLogger("certops.files")

MAX_FILES = 10  # a certificate, a key and a chain fit; Slack's file_input also stops at 10


class FileSource:
    """Downloads shared files with the bot token (see handlers.common.slack_files for the hardening)."""

    def __init__(
        self, client: WebClient, settings: Settings, *, max_bytes: int = MAX_FILE_BYTES
    ) -> None:
        self._client = client
        token = client.token or settings.slack_bot_token or ""
        self._downloader = Downloader.for_api(
            token,
            settings.slack_api_url,
            max_bytes=max_bytes,
            deadline=settings.download_deadline_seconds,
        )
        self.max_bytes = max_bytes
        self.deadline = settings.download_deadline_seconds

    def info(self, file_id: str) -> dict[str, Any]:
        """The file object from `files.info` (for shares that arrive without URLs)."""
        try:
            answer = self._client.files_info(file=file_id)
        except SlackApiError as error:
            code = str(error.response.get("error", "")) if error.response else ""
            if code in {"missing_scope", "not_allowed_token_type", "invalid_auth"}:
                raise DownloadError("login_page", LOGIN_PAGE_MESSAGE) from None
            raise DownloadError(
                "not_found", f"Slack could not find file {file_id} ({code or 'error'})"
            ) from None
        file = answer.get("file")
        if not isinstance(file, dict):
            raise DownloadError("not_found", f"Slack gave no details for file {file_id}")
        return file

    def fetch(
        self, file: Mapping[str, Any], slot: str | None = None, *, ends: float | None = None
    ) -> InputFile:
        """One file's bytes, named as the person named it (or after its form slot), by
        `ends` (monotonic; default the download deadline from now)."""
        if not file_urls(file) and isinstance(file.get("id"), str):
            file = self.info(str(file["id"]))
        name = str(file.get("name") or file.get("title") or file.get("id") or "file")
        size = file.get("size")
        if isinstance(size, int) and size > self.max_bytes:
            raise too_large(name, self.max_bytes)
        urls = file_urls(file)
        if not urls:
            raise DownloadError("not_found", f"Slack gave me no way to download {name}")
        data = self._downloader.download(urls[0], name, ends=ends)
        log.info("downloaded %s (%d bytes)", file.get("id"), len(data))
        return InputFile(f"{slot}: {name}" if slot else name, data)

    def fetch_all(self, files: Sequence[Mapping[str, Any]]) -> list[InputFile]:
        if len(files) > MAX_FILES:
            raise DownloadError(
                "too_many_files",
                f"that is {len(files)} files: a certificate needs at most a certificate, a "
                f"key and a chain (I read up to {MAX_FILES} at a time)",
            )
        ends = time.monotonic() + self.deadline  # one deadline for the whole submission
        return [self.fetch(file, ends=ends) for file in files]

    def fetch_ids(self, file_ids: Sequence[str]) -> list[InputFile]:
        """Download again by id (the password and save steps hold ids, never bytes)."""
        return self.fetch_all([{"id": file_id} for file_id in file_ids])
