"""Extra trusted roots read from files: `--trust-store` and the CERTOPS_TRUST_STORE setting.

One reader for both, so a file that works on the command line works in the setting and
fails there with the same line. The setting's files are read once per process (the
first time anyone asks: the start-up check of `certops run`, the console and the record
commands) and kept, so no upload, form or renewal reads a file again; the bot passes the
roots on through `ServiceContext.extra_roots`, the one way trust roots reach the pipeline
(the DM worker process gets them as DER from there).

Import-light: cryptography is imported only when there is a file to read, so a record
command that trusts nothing extra does not pay for it.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.files import InputFileError, read_input_file

if TYPE_CHECKING:
    from cryptography import x509

    from bot.settings import Settings

SETTING = "CERTOPS_TRUST_STORE"
# A trust store is a PEM bundle of roots: certifi's whole bundle is 300 KiB. The same
# limit as every file named on a command line, so `--trust-store` and the setting agree.
MAX_TRUST_STORE_BYTES = 50 * 1024 * 1024


class TrustRootsError(Exception):
    """A trust store file that cannot be used; the message is one line naming it."""


def read_trust_file(path: str | Path) -> tuple[x509.Certificate, ...]:
    """The roots of one file: a PEM bundle (unreadable blocks skipped) or one DER
    certificate, read through the bounded reader (a FIFO or /dev/zero ends at once)."""
    from bot.pipeline.trust import TrustStore, TrustStoreError

    text = str(path)
    try:
        data = read_input_file(text, "trust store", MAX_TRUST_STORE_BYTES)
        return TrustStore.from_pem(data, source=f"trust store {text!r}").extra_roots
    except (InputFileError, TrustStoreError) as error:
        raise TrustRootsError(str(error)) from None


def read_trust_files(paths: Sequence[str | Path]) -> list[x509.Certificate]:
    """The roots of every file, in order; TrustRootsError on the first bad one."""
    roots: list[x509.Certificate] = []
    for path in paths:
        roots += read_trust_file(path)
    return roots


@functools.cache
def _setting_roots(paths: tuple[Path, ...]) -> tuple[x509.Certificate, ...]:
    # Cached by the paths: read once per process. A failure is not cached (it raises).
    try:
        return tuple(read_trust_files(paths))
    except TrustRootsError as error:
        raise TrustRootsError(f"{SETTING}: {error}") from None


def setting_roots(settings: Settings) -> tuple[x509.Certificate, ...]:
    """The roots CERTOPS_TRUST_STORE names (none when unset), read the first time only.

    TrustRootsError, with one line that starts with the setting's name, when a file is
    missing, unreadable, too large or holds no certificate.
    """
    if not settings.trust_store:
        return ()
    return _setting_roots(tuple(settings.trust_store))


def setting_problem(settings: Settings) -> str | None:
    """The start-up check: why CERTOPS_TRUST_STORE cannot be used, or None."""
    try:
        setting_roots(settings)
    except TrustRootsError as error:
        return str(error)
    return None
