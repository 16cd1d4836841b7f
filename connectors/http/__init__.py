"""The HTTP layer every connector stands on: rate budget, retry table, typed errors, counting.

Modules, each small enough to read at once:

* :mod:`~connectors.http.errors` — the exception hierarchy (drawn at its top);
* :mod:`~hub.redaction` — secrets masked in messages, errors and logs (re-exported here; it is the
  hub's, since the config and the store mask secrets too and the hub imports nothing above it);
* :mod:`~connectors.http.budget` — the :class:`Budget` interface, :class:`RateBudget` and the
  process-wide :func:`shared_budget`, on an injectable :class:`Clock`;
* :mod:`~connectors.http.stats` — requests and weight counted per (system, endpoint);
* :mod:`~connectors.http.policy` — the response table (status → :class:`Outcome`) and
  :class:`RetryPolicy`;
* :mod:`~connectors.http.client` — :class:`BaseClient`, whose hooks (``classify``, ``rate_info``,
  ``error_message``, ``weight_for``) adapt the table to one API.

Paging lives beside it, in :mod:`connectors.paging`. Everything public is importable from here.
"""

from __future__ import annotations

from connectors.http.budget import SYSTEM_CLOCK, Budget, Clock, RateBudget, SystemClock
from connectors.http.budgets import forget_budgets, shared_budget
from connectors.http.client import BaseClient, forget_answered, logger
from connectors.http.errors import (
    AuthError,
    ConnectorError,
    MalformedResponseError,
    NotFoundError,
    PagingLoopError,
    RateLimitedError,
    RequestValidationError,
    ServerError,
    TransientError,
    UnreachableError,
)
from connectors.http.policy import (
    RESPONSE_TABLE,
    SUCCESS,
    Action,
    Outcome,
    RateInfo,
    RetryPolicy,
    default_outcome,
)
from connectors.http.stats import EndpointStats, RequestStats, endpoint_name, request_stats, reset_request_stats
from hub.redaction import (
    REDACTED,
    RedactingFilter,
    fingerprint,
    first_line,
    install_redaction,
    redact,
    register_secret,
)

__all__ = [
    "REDACTED",
    "RESPONSE_TABLE",
    "SUCCESS",
    "SYSTEM_CLOCK",
    "Action",
    "AuthError",
    "BaseClient",
    "Budget",
    "Clock",
    "ConnectorError",
    "EndpointStats",
    "MalformedResponseError",
    "NotFoundError",
    "Outcome",
    "PagingLoopError",
    "RateBudget",
    "RateInfo",
    "RateLimitedError",
    "RedactingFilter",
    "RequestStats",
    "RequestValidationError",
    "RetryPolicy",
    "ServerError",
    "SystemClock",
    "TransientError",
    "UnreachableError",
    "default_outcome",
    "endpoint_name",
    "fingerprint",
    "first_line",
    "forget_answered",
    "forget_budgets",
    "install_redaction",
    "logger",
    "redact",
    "register_secret",
    "request_stats",
    "reset_request_stats",
    "shared_budget",
]
