"""The hardened downloader over loopback: the stand-in's file hosting and a second server
that plays any other host (where the bot token must never arrive)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.console.slack_api import FakeSlackApi
from handlers.common.slack_files import (
    Downloader,
    DownloadError,
    allowed_origins,
    looks_like_html,
    origin_of,
)
from tests.support.slack_upload_fixtures import recording_server

TOKEN = "xoxb-download-test"


@pytest.fixture
def api() -> Iterator[FakeSlackApi]:
    with FakeSlackApi(bot_token=TOKEN) as server:
        yield server


def downloader(api: FakeSlackApi, token: str = TOKEN, max_bytes: int = 1024 * 1024) -> Downloader:
    return Downloader.for_api(token, api.api_url, max_bytes=max_bytes, timeout=5)


def test_allowed_origins_are_slack_file_hosts_and_the_exact_api_origin() -> None:
    origins = allowed_origins("http://127.0.0.1:8111/api/")
    assert ("https", "files.slack.com", 443) in origins
    assert origin_of("https://files-origin.slack.com/files-pri/T1-F1/x") in origins  # Grid
    assert ("http", "127.0.0.1", 8111) in origins
    assert origin_of("http://127.0.0.1:8112/x") not in origins  # another port: another host
    assert origin_of("http://files.slack.com/x") not in origins  # not over plain HTTP
    assert origin_of("ftp://files.slack.com/x") is None
    assert origin_of("https://files.slack.com:bad/x") is None


def test_a_file_is_downloaded_with_the_token(api: FakeSlackApi) -> None:
    info = api.add_file("cert.pem", b"-----BEGIN CERTIFICATE-----\nabc\n")
    assert downloader(api).download(info["url_private_download"]) == (
        b"-----BEGIN CERTIFICATE-----\nabc\n"
    )


def test_a_host_outside_the_list_is_never_contacted() -> None:
    with recording_server() as (url, seen):
        api_like = Downloader.for_api(TOKEN, "https://slack.com/api/")
        with pytest.raises(DownloadError) as caught:
            api_like.download(url + "/files-pri/T-F1/cert.pem")
        assert caught.value.code == "host_not_allowed" and "127.0.0.1" in caught.value.message
        with pytest.raises(DownloadError):
            api_like.download("https://evil.example.net/files-pri/x")
    assert seen.requests == []


def test_a_redirect_to_another_host_is_refused_and_the_token_stays_home(
    api: FakeSlackApi,
) -> None:
    with recording_server() as (url, seen):
        info = api.add_redirect("cert.pem", url + "/stolen")
        with pytest.raises(DownloadError) as caught:
            downloader(api).download(info["url_private_download"])
    assert caught.value.code == "host_not_allowed"
    assert seen.requests == [] and seen.authorization_headers == []


def test_a_redirect_within_the_allowed_origins_is_followed(api: FakeSlackApi) -> None:
    target = api.add_file("real.pem", b"-----BEGIN CERTIFICATE-----\n")
    hop = api.add_redirect("cert.pem", target["url_private_download"])
    assert downloader(api).download(hop["url_private_download"]).startswith(b"-----BEGIN")


def test_a_redirect_loop_ends(api: FakeSlackApi) -> None:
    first = api.add_file("placeholder", b"")
    loop = api.add_redirect("loop.pem", first["url_private"])
    api._redirects[first["id"]] = loop["url_private"]  # two files pointing at each other
    with pytest.raises(DownloadError) as caught:
        downloader(api).download(loop["url_private_download"])
    assert caught.value.code == "too_many_redirects"


def test_the_sign_in_page_is_a_permissions_problem(api: FakeSlackApi) -> None:
    info = api.add_file("cert.pem", b"-----BEGIN CERTIFICATE-----\n")
    with pytest.raises(DownloadError) as caught:
        downloader(api, token="xoxb-wrong").download(info["url_private_download"])
    assert caught.value.code == "login_page" and "files:read" in caught.value.message
    api.files_scope_missing = True
    with pytest.raises(DownloadError) as scope:
        downloader(api).download(info["url_private_download"])
    assert scope.value.code == "login_page"


def test_html_is_recognised_by_type_or_content() -> None:
    assert looks_like_html(b"", "text/html; charset=utf-8")
    assert looks_like_html(b"\xef\xbb\xbf  <!DOCTYPE html><html>", "application/octet-stream")
    assert not looks_like_html(b"-----BEGIN CERTIFICATE-----", "text/plain")


def test_size_cap_by_declared_length_and_while_reading(api: FakeSlackApi) -> None:
    info = api.add_file("big.pem", b"x" * 5000)
    with pytest.raises(DownloadError) as declared:
        downloader(api, max_bytes=4096).download(info["url_private_download"])
    assert declared.value.code == "too_large"
    with recording_server() as (url, _seen):
        loose = Downloader(TOKEN, frozenset({origin_of(url)}), max_bytes=10_000)  # type: ignore[arg-type]
        with pytest.raises(DownloadError) as streamed:
            loose.download(url + "/stream")  # 40 KB, no Content-Length
    assert streamed.value.code == "too_large"


def test_missing_files_and_server_errors_are_named(api: FakeSlackApi) -> None:
    with pytest.raises(DownloadError) as missing:
        downloader(api).download(api.base_url + "/files-pri/T0CONSOLE-F99999999/x.pem")
    assert missing.value.code == "not_found"
    with pytest.raises(DownloadError) as other:
        downloader(api).download(api.base_url + "/other")  # the stand-in answers 404 JSON
    assert other.value.code in {"not_found", "http_error"}
