"""What to do with each response, as data: the response table and the retry policy.

A status maps to an :class:`Outcome` (success, retry, rate-limited, fail) and the error class to
raise when giving up (:data:`RESPONSE_TABLE`), not to ``if`` chains in each client. A connector
adjusts the answer for its API through ``BaseClient.classify``. Exceptions from the transport are
sorted by whether the request can have reached the server (:data:`NOT_SENT`, :data:`MAYBE_SENT`).
"""

from __future__ import annotations

import enum
import random
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from connectors.http.errors import (
    AuthError,
    ConnectorError,
    NotFoundError,
    RateLimitedError,
    RequestValidationError,
    ServerError,
)

__all__ = [
    "MAYBE_SENT",
    "NOT_SENT",
    "RESPONSE_TABLE",
    "SUCCESS",
    "Action",
    "Outcome",
    "RateInfo",
    "RetryPolicy",
    "default_outcome",
]


class Action(enum.Enum):
    """What the client does with an answer."""

    SUCCESS = "success"
    RETRY = "retry"  # transient: retry with backoff if the request may be repeated
    RATE_LIMITED = "rate_limited"  # refused before processing: always safe to repeat
    FAIL = "fail"


@dataclass(frozen=True)
class Outcome:
    """What to do with a response, and which error to raise when giving up."""

    action: Action
    error: type[ConnectorError] = ConnectorError


SUCCESS = Outcome(Action.SUCCESS)

#: status -> outcome. Statuses not listed fall back by class (2xx/3xx success, 4xx fail, 5xx retry).
RESPONSE_TABLE: Mapping[int, Outcome] = {
    400: Outcome(Action.FAIL, RequestValidationError),
    401: Outcome(Action.FAIL, AuthError),
    403: Outcome(Action.FAIL, AuthError),
    404: Outcome(Action.FAIL, NotFoundError),
    405: Outcome(Action.FAIL, RequestValidationError),
    409: Outcome(Action.FAIL, RequestValidationError),
    410: Outcome(Action.FAIL, RequestValidationError),
    412: Outcome(Action.FAIL, RequestValidationError),
    413: Outcome(Action.FAIL, RequestValidationError),
    414: Outcome(Action.FAIL, RequestValidationError),
    415: Outcome(Action.FAIL, RequestValidationError),
    422: Outcome(Action.FAIL, RequestValidationError),
    429: Outcome(Action.RATE_LIMITED, RateLimitedError),
    500: Outcome(Action.RETRY, ServerError),
    502: Outcome(Action.RETRY, ServerError),
    503: Outcome(Action.RETRY, ServerError),
    504: Outcome(Action.RETRY, ServerError),
}


def default_outcome(status: int) -> Outcome:
    """The table's answer for ``status``."""
    if status in RESPONSE_TABLE:
        return RESPONSE_TABLE[status]
    if status < 400:
        return SUCCESS
    if status < 500:
        return Outcome(Action.FAIL, ConnectorError)
    return Outcome(Action.RETRY, ServerError)


#: raised before the request left us: repeating is always safe, even for a POST
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
#: raised after the request may have reached the server: repeat only idempotent requests
MAYBE_SENT = (httpx.TimeoutException, httpx.TransportError)


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff with full jitter, honouring the server's retry-after when it gives one.

    Attributes:
        max_attempts: attempts of one request against errors (5xx, no answer, a broken body).
        base_delay: the first backoff, doubled on every further attempt.
        max_delay: the longest backoff.
        rate_limit_attempts: rate refusals of one request before giving up (counted separately:
            a refusal was not processed, so it uses up none of ``max_attempts``).
    """

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    rate_limit_attempts: int = 10

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after the ``attempt``-th failure (at least ``retry_after``)."""
        backoff = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        jittered = backoff / 2 + random.uniform(0, backoff / 2)
        return max(jittered, retry_after or 0.0)


@dataclass(frozen=True)
class RateInfo:
    """Rate-limit information a response carries (all optional)."""

    remaining: float | None = None
    reset_seconds: float | None = None
    limit: float | None = None
    retry_after_seconds: float | None = None
