"""What every service call needs besides its arguments: the database, a clock, options.

One object, built by the composition root (the CLI, the Bolt app) and by tests, so the
services hold no globals and the same rules run against any database and any time.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError

from bot.services.clock import Clock, utc_now
from bot.services.errors import DatabaseDown, NotFound, ServiceError
from bot.services.reminders import UPDATE_MINUTES
from bot.settings import DEFAULT_LOAD_BALANCER_PATTERNS
from storage.db import Database
from storage.errors import DatabaseUnavailable, EnvironmentBusy, NameTaken, RecordMissing

if TYPE_CHECKING:  # types only: the record commands need no cryptography or ORM to start
    from cryptography import x509
    from sqlalchemy.engine import Connection
    from sqlmodel import Session

log = logging.getLogger(__name__)


@dataclass
class ServiceContext:
    """The database and the knobs of the process rules.

    `extra_roots` are trusted besides the public roots when validating (a company CA);
    `update_minutes` is how long an assignment stays `updating` before it is `active`.
    """

    database: Database
    clock: Clock = utc_now
    extra_roots: Sequence[x509.Certificate] = ()
    load_balancer_patterns: tuple[str, ...] = DEFAULT_LOAD_BALANCER_PATTERNS
    update_minutes: float = UPDATE_MINUTES
    dns_timeout: float = 5.0
    default_nameservers: list[tuple[str, int]] | None = field(default=None)

    def now(self) -> dt.datetime:
        return self.clock()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work whose storage errors come out as service refusals."""
        with self._refusals(), self.database.session() as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read-only Core connection (no ORM to import), with the refusals of `session()`."""
        with self._refusals(), self.database.reading() as connection:
            yield connection

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A Core connection in a transaction (no ORM to import), with the refusals of
        `session()`; `Database.session_in()` lets ORM rules join its transaction."""
        with self._refusals(), self.database.writing() as connection:
            yield connection

    @contextmanager
    def _refusals(self) -> Iterator[None]:
        """Storage errors as the service refusals a person reads."""
        try:
            yield
        except DatabaseUnavailable as error:
            log.warning("database unavailable: %s", error)
            raise DatabaseDown(str(error)) from None
        except NameTaken as error:
            code = "environment_exists" if error.kind == "environment" else "name_taken"
            raise ServiceError(code, str(error)) from None
        except RecordMissing as error:
            raise NotFound(error.kind, error.key) from None
        except EnvironmentBusy:
            raise ServiceError(
                "concurrent_change",
                "the environment got another certificate at the same moment: look and retry",
            ) from None
        except IntegrityError as error:
            log.info("integrity error, reported as a concurrent change: %s", type(error).__name__)
            raise ServiceError(
                "concurrent_change",
                "someone changed the same record at the same moment: look again and retry",
            ) from None
