"""Downloading the files people share with the bot, without leaking the bot token.

`url_private_download` needs `Authorization: Bearer <bot token>`. urllib keeps that header
on redirects to any host, so redirects are never followed by urllib here: each hop is
checked against the allowed origins (Slack's file hosts, plus the origin of SLACK_API_URL
so that GovSlack and the loopback stand-in work) and only then requested, with the token.
A body is read up to a cap and no further. Without the `files:read` scope (or with a bad
token) Slack answers 200 with its HTML sign-in page instead of the file: that page is
recognised and reported as the permissions problem it is.

This is I/O, so it lives beside the composition root and not in the pure pipeline.
"""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

log = logging.getLogger("certops.files")

# Slack's own upload limit for the file_input of modals; certificates are kilobytes.
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_REDIRECTS = 3
DEFAULT_TIMEOUT = 15.0
# The whole download, every hop and read together: a host that drips bytes (one every
# few seconds keeps each read under DEFAULT_TIMEOUT) must not hold a worker for long.
# Certificate files are kilobytes; even 10 MB at a slow 1 MB/s fits. Operators may
# change it with CERTOPS_DOWNLOAD_DEADLINE_SECONDS.
DEFAULT_DEADLINE = 30.0
# Where Slack serves private files: commercial Slack, its origin host (Enterprise Grid
# answers files.slack.com with a redirect there), GovSlack, and the host some types
# (PDFs) redirect `url_private` to. Widen only on evidence: this list keeps the token home.
SLACK_FILE_HOSTS = (
    "files.slack.com",
    "files-origin.slack.com",
    "files.slack-gov.com",
    "slack-files.com",
)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024


class DownloadError(Exception):
    """A file could not be had; `code` says why, the message says it to a person."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


Origin = tuple[str, str, int]


def origin_of(url: str) -> Origin | None:
    """(scheme, host, port) of an http(s) URL, or None for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return None
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, parts.hostname.lower(), port or default


def allowed_origins(api_url: str) -> frozenset[Origin]:
    """Slack's file hosts over HTTPS, and the exact origin of SLACK_API_URL."""
    found: set[Origin] = {("https", host, 443) for host in SLACK_FILE_HOSTS}
    api = origin_of(api_url)
    if api is not None:
        found.add(api)
    return frozenset(found)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Hand every redirect back as an HTTPError, so that we decide where the token goes."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def looks_like_html(head: bytes, content_type: str) -> bool:
    """Slack's sign-in page (what comes back instead of a file without files:read)."""
    if content_type.split(";")[0].strip().lower() == "text/html":
        return True
    start = head[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return start.startswith((b"<!doctype html", b"<html"))


LOGIN_PAGE_MESSAGE = (
    "Slack sent me its sign-in page instead of the file: the app is missing the "
    "`files:read` permission (or its token is no longer valid). Ask whoever installed "
    "certops to add the `files:read` scope and reinstall the app."
)


@dataclass(frozen=True)
class Downloader:
    """Fetches private Slack files with the bot token, over allowed origins only."""

    token: str
    origins: frozenset[Origin]
    max_bytes: int = MAX_FILE_BYTES
    timeout: float = DEFAULT_TIMEOUT
    deadline: float = DEFAULT_DEADLINE

    @classmethod
    def for_api(cls, token: str, api_url: str, **options: Any) -> Downloader:
        return cls(token=token, origins=allowed_origins(api_url), **options)

    def check_url(self, url: str) -> None:
        if origin_of(url) not in self.origins:
            host = urlsplit(url).hostname or "?"
            raise DownloadError(
                "host_not_allowed",
                f"the file is served from {host}, which is not one of Slack's file hosts: "
                "I did not download it",
            )

    def download(self, url: str, name: str = "the file", *, ends: float | None = None) -> bytes:
        """The file's bytes; DownloadError for a refused host, size, sign-in page, failure,
        or a download not done by `ends` (a `time.monotonic()` time; default `deadline`
        from now; several files of one submission share one)."""
        opener = urllib.request.build_opener(_NoRedirects)
        ends = time.monotonic() + self.deadline if ends is None else ends
        for _hop in range(MAX_REDIRECTS + 1):
            self.check_url(url)  # before any byte (and the token) leaves
            request = urllib.request.Request(
                url, headers={"Authorization": f"Bearer {self.token}"}, method="GET"
            )
            try:
                timeout = min(self.timeout, max(ends - time.monotonic(), 0.01))
                with opener.open(request, timeout=timeout) as answer:
                    return self._read(answer, name, ends)
            except urllib.error.HTTPError as error:
                error.close()
                location = error.headers.get("Location") if error.headers else None
                if error.code in _REDIRECTS and location:
                    url = urljoin(url, location)
                    continue
                if error.code == 404:
                    raise DownloadError("not_found", f"{name} is gone from Slack") from None
                raise DownloadError(
                    "http_error", f"Slack answered {error.code} when I downloaded {name}"
                ) from None
            except (urllib.error.URLError, OSError) as error:
                if time.monotonic() >= ends:
                    raise too_slow(name, self.deadline) from None
                log.warning("download of %s failed: %s", name, type(error).__name__)
                raise DownloadError(
                    "network", f"I could not reach Slack to download {name}: try again"
                ) from None
        raise DownloadError("too_many_redirects", f"too many redirects for {name}")

    def _read(self, answer: Any, name: str, ends: float) -> bytes:
        declared = answer.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            raise too_large(name, self.max_bytes)
        chunks: list[bytes] = []
        total = 0
        while True:
            left = ends - time.monotonic()
            if left <= 0:
                raise too_slow(name, self.deadline)
            _read_timeout(answer, min(self.timeout, left))
            chunk = answer.read1(_CHUNK)  # what has come, not a full chunk: see the clock
            if not chunk:
                break
            total += len(chunk)
            if total > self.max_bytes:
                raise too_large(name, self.max_bytes)
            chunks.append(chunk)
        data = b"".join(chunks)
        if looks_like_html(data, answer.headers.get("Content-Type", "")):
            raise DownloadError("login_page", LOGIN_PAGE_MESSAGE)
        return data


def _read_timeout(answer: Any, seconds: float) -> None:
    """Shorten the socket's read timeout to what is left of the deadline.

    http.client keeps the socket at `HTTPResponse.fp.raw._sock`; when that ever moves,
    the per-read timeout still holds and the deadline is only checked between reads.
    """
    sock = getattr(getattr(getattr(answer, "fp", None), "raw", None), "_sock", None)
    if sock is not None and hasattr(sock, "settimeout"):
        sock.settimeout(max(seconds, 0.01))


def too_slow(name: str, deadline: float) -> DownloadError:
    log.warning("download of %s stopped: not done within %.0f s", name, deadline)
    return DownloadError(
        "too_slow",
        f"{name} took longer than {deadline:.0f} s to download, so I stopped: "
        "try sending it again in a moment",
    )


def too_large(name: str, limit: int) -> DownloadError:
    return DownloadError(
        "too_large",
        f"{name} is larger than {limit // (1024 * 1024)} MB: certificate files are a few "
        "kilobytes, so this is not one (or not only one)",
    )


def file_urls(file: Mapping[str, Any]) -> list[str]:
    """The download URLs a file object carries, best first."""
    return [
        str(file[key])
        for key in ("url_private_download", "url_private")
        if isinstance(file.get(key), str) and file[key]
    ]


def file_ids(files: Iterable[Mapping[str, Any]]) -> list[str]:
    return [str(f["id"]) for f in files if isinstance(f.get("id"), str) and f["id"]]
