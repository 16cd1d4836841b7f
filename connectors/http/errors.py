"""The errors every connector raises: one hierarchy, each error naming system and endpoint.

Exception hierarchy::

    ConnectorError                 (system, endpoint, status, message, details; never a secret)
     ├── AuthError                 config/auth: wrong credentials, no access, no such account
     ├── NotFoundError             404
     ├── RequestValidationError    the request itself is wrong (400, 412, 413, 422 ...)
     ├── PagingLoopError           the API gave back a page or cursor already read
     ├── RateLimitedError          still refused for rate after every retry        (retryable)
     ├── TransientError            connection errors and timeouts after every retry (retryable)
     │    └── UnreachableError     refused at the first call: raised at once, not retried now
     ├── ServerError               5xx after every retry                            (retryable)
     └── MalformedResponseError    a success status with a broken body, after every retry (retryable)

``retryable`` tells a caller (a task, the upload queue) whether trying the whole step again later
may help; the client has already retried the single request as far as the retry policy allows.
"""

from __future__ import annotations

from typing import Any, ClassVar

from hub.redaction import redact, redact_obj

__all__ = [
    "AuthError",
    "ConnectorError",
    "MalformedResponseError",
    "NotFoundError",
    "PagingLoopError",
    "RateLimitedError",
    "RequestValidationError",
    "ServerError",
    "TransientError",
    "UnreachableError",
]


class ConnectorError(Exception):
    """An external system refused or failed a request. Carries no secret.

    Args:
        system: the system's name (``moysklad``, ``retailcrm``...).
        endpoint: the endpoint, ids templated (``/entity/product/{id}``).
        status: the HTTP status, or None when there was no answer.
        message: what went wrong, in words; secrets are masked.
        details: the error body, if any; secrets are masked.
    """

    retryable: ClassVar[bool] = False

    def __init__(
        self,
        system: str,
        endpoint: str,
        status: int | None,
        message: str,
        details: Any = None,
    ) -> None:
        self.system = system
        self.endpoint = endpoint
        self.status = status
        self.message = redact(message)
        self.details = redact_obj(details)
        where = f"{system} {endpoint}" + (f" (HTTP {status})" if status is not None else "")
        super().__init__(f"{where}: {self.message}")


class AuthError(ConnectorError):
    """Credentials are wrong, lack access, or the account does not exist: fix the config."""


class NotFoundError(ConnectorError):
    """The object or endpoint does not exist."""


class RequestValidationError(ConnectorError):
    """The system rejected the request as invalid; retrying the same request cannot help."""


class PagingLoopError(ConnectorError):
    """The API answered with a page, offset or cursor already read: following it would never end.

    Not retryable: a server that ignores the paging parameters does so on the next run too.
    """


class RateLimitedError(ConnectorError):
    """Still refused for rate after every retry."""

    retryable = True


class TransientError(ConnectorError):
    """Connection errors or timeouts persisted through every retry."""

    retryable = True


class UnreachableError(TransientError):
    """The connection was refused (or the host unknown) and this process never got an answer there.

    Raised at the first attempt: a closed port or a wrong host in ``base_url`` is a config mistake
    far more often than a blip, and retrying it only delays the message (53 s before, for a closed
    port). Still ``retryable`` for the queue (the system may be up by the next run), but a task does
    not repeat it within the run (``tasks.retrying``). Once an address has answered, a refusal there
    is a restart or a blip and is retried as a :class:`TransientError`.
    """


class ServerError(ConnectorError):
    """The system kept answering 5xx."""

    retryable = True


class MalformedResponseError(ConnectorError):
    """A success status with a body the API does not define: not JSON, truncated, or partial.

    The client asks again for such a body (see ``BaseClient.request_parsed``): they come from cut
    connections and overloaded proxies far more often than from a changed API. Raised when it
    persists, with a message that says what was expected; still retryable for the step as a whole.
    """

    retryable = True
