"""The HTTP layer every connector stands on: rate budget, retry table, typed errors, counting.

Exception hierarchy::

    ConnectorError                 (system, endpoint, status, message, details; never a secret)
     ├── AuthError                 config/auth: wrong credentials, no access, no such account
     ├── NotFoundError             404
     ├── RequestValidationError    the request itself is wrong (400, 412, 413, 422 ...)
     ├── RateLimitedError          still refused for rate after every retry
     ├── TransientError            connection errors and timeouts after every retry
     └── ServerError               5xx after every retry

What to do with a response is a table (:data:`RESPONSE_TABLE`), not ``if`` chains: a status maps to
an :class:`Outcome` (success, retry, rate-limited, fail) and the error class to raise. A connector
adjusts it through small hooks on :class:`BaseClient` (``classify``, ``rate_info``,
``error_message``, ``weight_for``).

Rate budgets: :class:`RateBudget` is a weighted sliding-window budget plus an in-flight cap, shared
by every client of one (system, account, credential) in the process through :func:`shared_budget`.
It is stricter than a token bucket: no window of ``window_seconds`` ever carries more than
``capacity`` units, so a server that counts either way never refuses us in steady state. Server
rate-limit headers are fed back through :meth:`RateBudget.observe`, which accounts for requests
made elsewhere with the same credential.
"""

from __future__ import annotations

import asyncio
import bisect
import enum
import hashlib
import logging
import random
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import httpx

logger = logging.getLogger("skladbridge.http")


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class ConnectorError(Exception):
    """An external system refused or failed a request. Carries no secret."""

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
        self.details = _redact_obj(details)
        where = f"{system} {endpoint}" + (f" (HTTP {status})" if status is not None else "")
        super().__init__(f"{where}: {self.message}")


class AuthError(ConnectorError):
    """Credentials are wrong, lack access, or the account does not exist: fix the config."""


class NotFoundError(ConnectorError):
    """The object or endpoint does not exist."""


class RequestValidationError(ConnectorError):
    """The system rejected the request as invalid; retrying the same request cannot help."""


class RateLimitedError(ConnectorError):
    """Still refused for rate after every retry."""

    retryable = True


class TransientError(ConnectorError):
    """Connection errors or timeouts persisted through every retry."""

    retryable = True


class ServerError(ConnectorError):
    """The system kept answering 5xx."""

    retryable = True


class MalformedResponseError(ConnectorError):
    """A success status with a body the API does not define: not JSON, truncated, or partial.

    Retryable: such bodies come from cut connections and overloaded proxies far more often than
    from a changed API; if it persists, the message says what was expected.
    """

    retryable = True


# --------------------------------------------------------------------------------------------
# Secrets
# --------------------------------------------------------------------------------------------

_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()
_SECRET_QUERY = re.compile(r"(?i)((?:api_?key|token|password|access_token|secret)=)[^&\s\"']+")
REDACTED = "***"


def register_secret(value: str | None) -> None:
    """Remember ``value`` so that :func:`redact` masks it everywhere (logs, errors, artifacts)."""
    if value and len(value) >= 4:
        with _SECRETS_LOCK:
            _SECRETS.add(value)


def redact(text: str) -> str:
    """Mask every registered secret and every secret-looking query parameter in ``text``."""
    with _SECRETS_LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _SECRET_QUERY.sub(lambda m: m.group(1) + REDACTED, text)


def _redact_obj(obj: Any) -> Any:
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, Mapping):
        return {k: _redact_obj(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_redact_obj(v) for v in obj]
    return obj


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in the message and its arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record still must not leak
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        for key, value in list(record.__dict__.items()):
            if key.startswith("sb_") and isinstance(value, str):
                record.__dict__[key] = redact(value)
        return True


def install_redaction(target: logging.Logger | logging.Handler | None = None) -> None:
    """Attach :class:`RedactingFilter` (to the ``skladbridge`` logger by default), once."""
    target = target or logging.getLogger("skladbridge")
    if not any(isinstance(f, RedactingFilter) for f in target.filters):
        target.addFilter(RedactingFilter())


# httpx logs every request URL at INFO, query string included: filter it as well as our own.
for _name in ("skladbridge", "skladbridge.http", "httpx", "httpcore"):
    install_redaction(logging.getLogger(_name))


def fingerprint(*parts: str | None) -> str:
    """A short, irreversible fingerprint of credentials, for budget keys and logs."""
    digest = hashlib.sha256("\x00".join(p or "" for p in parts).encode()).hexdigest()
    return digest[:12]


# --------------------------------------------------------------------------------------------
# Rate budget
# --------------------------------------------------------------------------------------------


class RateBudget:
    """Weighted sliding-window budget plus an in-flight cap; thread- and event-loop-safe.

    Args:
        capacity: units allowed in any window of ``window_seconds``.
        window_seconds: the window length the server counts over.
        max_in_flight: requests allowed at once.
        name: used in logs.
        margin_seconds: extra window length covering network jitter between our send time and the
            server's arrival time (so a request sent just after the window cannot land inside it).
    """

    def __init__(
        self,
        capacity: float,
        window_seconds: float,
        max_in_flight: int,
        name: str = "budget",
        margin_seconds: float | None = None,
    ) -> None:
        if capacity <= 0 or window_seconds <= 0 or max_in_flight <= 0:
            raise ValueError("capacity, window_seconds and max_in_flight must be positive")
        self.capacity = float(capacity)
        self.window = float(window_seconds)
        self.margin = window_seconds * 0.05 if margin_seconds is None else margin_seconds
        self.max_in_flight = max_in_flight
        self.name = name
        self._spent: deque[tuple[float, float]] = deque()
        self._in_flight = 0
        self._blocked_until = 0.0
        self._lock = threading.Lock()
        self.waited_seconds = 0.0

    # -- bookkeeping (call with the lock held) -----------------------------------------------
    def _used(self, now: float) -> float:
        horizon = now - self.window - self.margin
        while self._spent and self._spent[0][0] <= horizon:
            self._spent.popleft()
        return sum(w for _, w in self._spent)

    def _try_take(self, weight: float, now: float) -> float:
        """Take ``weight`` now and return 0, or return how long to wait before trying again."""
        if now < self._blocked_until:
            return self._blocked_until - now
        if self._in_flight >= self.max_in_flight:
            return 0.005
        used = self._used(now)
        if used + weight <= self.capacity or not self._spent:
            self._spent.append((now, weight))
            self._in_flight += 1
            return 0.0
        # wait until enough of the oldest entries leave the window
        free_needed = used + weight - self.capacity
        freed = 0.0
        for at, w in self._spent:
            freed += w
            if freed >= free_needed:
                return max(at + self.window + self.margin - now, 0.001)
        return self.window

    # -- public API ----------------------------------------------------------------------------
    @asynccontextmanager
    async def slot(self, weight: float = 1.0) -> AsyncIterator[None]:
        """Wait for ``weight`` units and an in-flight place; release the place on exit."""
        weight = min(float(weight), self.capacity)
        started = time.monotonic()
        while True:
            with self._lock:
                wait = self._try_take(weight, time.monotonic())
            if wait == 0.0:
                break
            await asyncio.sleep(wait)
        self.waited_seconds += time.monotonic() - started
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    def observe(
        self,
        remaining: float | None,
        reset_seconds: float | None = None,
        limit: float | None = None,
    ) -> None:
        """Reconcile with the server's view (its rate-limit headers).

        If the server has less left than we think, someone else spends this credential's budget
        (another process or app): book the difference as spent now. When nothing is left, block
        until the server's reset.
        """
        if remaining is None:
            return
        now = time.monotonic()
        with self._lock:
            capacity = self.capacity if limit is None else min(self.capacity, float(limit))
            ours_left = capacity - self._used(now)
            if remaining < ours_left:
                # Book the difference so it leaves our window when the server says its limit resets
                # (or after a whole window when it does not say).
                at = now if reset_seconds is None else min(now, now + reset_seconds - self.window - self.margin)
                bisect.insort(self._spent, (at, ours_left - remaining))
            if remaining <= 0 and reset_seconds:
                self._blocked_until = max(self._blocked_until, now + reset_seconds)

    def penalize(self, seconds: float) -> None:
        """Let no new request start for ``seconds`` (after a refusal)."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, time.monotonic() + seconds)

    @property
    def in_flight(self) -> int:
        return self._in_flight


_BUDGETS: dict[tuple[str, ...], RateBudget] = {}
_BUDGETS_LOCK = threading.Lock()


def shared_budget(key: tuple[str, ...], factory: Callable[[], RateBudget]) -> RateBudget:
    """Return the process-wide budget for ``key`` (system, account, credential fingerprint).

    Every client of the same credential in this process shares it, whatever flow or task made
    the client. Across processes the server headers (``observe``) keep each process honest.
    """
    with _BUDGETS_LOCK:
        budget = _BUDGETS.get(key)
        if budget is None:
            budget = _BUDGETS[key] = factory()
        return budget


def forget_budgets() -> None:
    """Drop every shared budget (tests)."""
    with _BUDGETS_LOCK:
        _BUDGETS.clear()


# --------------------------------------------------------------------------------------------
# Request counting
# --------------------------------------------------------------------------------------------


@dataclass
class EndpointStats:
    """Requests, weight and refusals spent on one (system, endpoint)."""

    requests: int = 0
    weight: float = 0.0
    rate_refusals: int = 0
    server_errors: int = 0
    transport_errors: int = 0


class RequestStats:
    """Thread-safe counters of requests and weight by (system, endpoint)."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, str], EndpointStats] = defaultdict(EndpointStats)
        self._lock = threading.Lock()

    def record(
        self, system: str, endpoint: str, weight: float, status: int | None, *, refused: bool = False
    ) -> None:
        """Count one request; ``refused`` when the system refused it for rate."""
        with self._lock:
            item = self._data[(system, endpoint)]
            item.requests += 1
            item.weight += weight
            if status is None:
                item.transport_errors += 1
            elif refused:
                item.rate_refusals += 1
            elif status >= 500:
                item.server_errors += 1

    def by_endpoint(self) -> dict[tuple[str, str], EndpointStats]:
        with self._lock:
            return {k: EndpointStats(**vars(v)) for k, v in self._data.items()}

    def total(self, system: str | None = None) -> EndpointStats:
        out = EndpointStats()
        for (sys_name, _), item in self.by_endpoint().items():
            if system is None or sys_name == system:
                out.requests += item.requests
                out.weight += item.weight
                out.rate_refusals += item.rate_refusals
                out.server_errors += item.server_errors
                out.transport_errors += item.transport_errors
        return out

    def systems(self) -> list[str]:
        return sorted({s for s, _ in self.by_endpoint()})

    def since(self, earlier: Mapping[tuple[str, str], EndpointStats]) -> RequestStats:
        """Return the counts added since the snapshot ``earlier`` (a ``by_endpoint()`` result)."""
        diff = RequestStats()
        for key, now in self.by_endpoint().items():
            before = earlier.get(key, EndpointStats())
            diff._data[key] = EndpointStats(
                requests=now.requests - before.requests,
                weight=now.weight - before.weight,
                rate_refusals=now.rate_refusals - before.rate_refusals,
                server_errors=now.server_errors - before.server_errors,
                transport_errors=now.transport_errors - before.transport_errors,
            )
        return diff

    def reset(self) -> None:
        with self._lock:
            self._data.clear()


_STATS = RequestStats()


def request_stats() -> RequestStats:
    """The process-wide request counters (flows snapshot them; benchmarks read them)."""
    return _STATS


def reset_request_stats() -> None:
    _STATS.reset()


_ID_SEGMENT = re.compile(r"/(?:[0-9a-fA-F]{8}-[0-9a-fA-F-]{27}|\d+)(?=/|$)")


def endpoint_name(path: str) -> str:
    """``/entity/product/6a8f.../images`` -> ``/entity/product/{id}/images``."""
    return _ID_SEGMENT.sub("/{id}", path.split("?", 1)[0])


# --------------------------------------------------------------------------------------------
# The response table
# --------------------------------------------------------------------------------------------


class Action(enum.Enum):
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


# Exceptions raised before the request left us: repeating is always safe, even for a POST.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Exceptions after the request may have reached the server: repeat only idempotent requests.
_MAYBE_SENT = (httpx.TimeoutException, httpx.TransportError)


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff with full jitter, honouring the server's retry-after when it gives one."""

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    rate_limit_attempts: int = 10

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
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


# --------------------------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------------------------


@dataclass
class _Attempt:
    number: int = 0
    rate_refusals: int = 0
    last_status: int | None = None
    last_message: str = ""
    last_error: type[ConnectorError] = ConnectorError
    notes: list[str] = field(default_factory=list)


class BaseClient:
    """An async HTTP client for one system, paced by a shared :class:`RateBudget`.

    Subclasses set ``system``, pass auth headers and the secrets they contain, and override the
    hooks where their API differs from the defaults.
    """

    system: ClassVar[str] = "http"

    def __init__(
        self,
        base_url: str,
        *,
        budget: RateBudget,
        headers: Mapping[str, str] | None = None,
        secrets: Sequence[str] = (),
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        for secret in secrets:
            register_secret(secret)
        self.base_url = base_url.rstrip("/")
        self.budget = budget
        self.retry = retry or RetryPolicy()
        default_headers = {"Accept-Encoding": "gzip", "User-Agent": "skladbridge/0.1"}
        default_headers.update(headers or {})
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=default_headers,
            transport=transport,
            # Responses can take minutes (MoySklad: up to 300 s); connecting must not.
            timeout=timeout or httpx.Timeout(120.0, connect=10.0),
            # Idle keep-alive connections are dropped before the servers' 30 s (MoySklad advice).
            limits=httpx.Limits(
                max_connections=max(budget.max_in_flight * 2, 10),
                max_keepalive_connections=max(budget.max_in_flight, 5),
                keepalive_expiry=25.0,
            ),
        )

    # -- hooks ---------------------------------------------------------------------------------
    def weight_for(self, method: str, path: str) -> float:
        """Budget units this request costs (default 1)."""
        return 1.0

    def rate_info(self, response: httpx.Response) -> RateInfo:
        """Parse rate-limit headers. Default: the standard ``Retry-After`` in seconds."""
        value = response.headers.get("Retry-After")
        try:
            retry_after = float(value) if value is not None else None
        except ValueError:
            retry_after = None
        return RateInfo(retry_after_seconds=retry_after)

    def classify(self, response: httpx.Response) -> Outcome | None:
        """Return an outcome that overrides the table for this response, or None."""
        return None

    def error_message(self, response: httpx.Response) -> str:
        """A short, human message from an error response (the body, trimmed)."""
        text = response.text.strip()
        return text[:500] if text else response.reason_phrase

    # -- the request loop ----------------------------------------------------------------------
    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        weight: float | None = None,
        idempotent: bool | None = None,
        endpoint: str | None = None,
    ) -> httpx.Response:
        """Send one request through the budget and the retry table.

        Args:
            idempotent: whether repeating the request is harmless. Default: every method but
                POST. Pass True for a POST that carries an idempotency key.
            weight: budget units; default :meth:`weight_for`.
            endpoint: name for counting and errors; default the path with ids templated.

        Raises:
            ConnectorError: a subclass naming what went wrong, after the retries the table allows.
        """
        method = method.upper()
        endpoint = endpoint or endpoint_name(path)
        weight = self.weight_for(method, path) if weight is None else weight
        may_repeat = method != "POST" if idempotent is None else idempotent
        state = _Attempt()
        while True:
            state.number += 1
            started = time.monotonic()
            try:
                async with self.budget.slot(weight):
                    response = await self._http.request(
                        method, path, params=params, json=json, data=data, headers=headers
                    )
                    await response.aread()
            except _MAYBE_SENT as exc:
                _STATS.record(self.system, endpoint, weight, None)
                safe = isinstance(exc, _NOT_SENT) or may_repeat
                detail = f"{type(exc).__name__}: {exc}".strip()
                self._log(logging.WARNING, method, endpoint, None, started, state.number, detail)
                if not safe or state.number >= self.retry.max_attempts:
                    hint = "" if safe else " (not repeated: the request may have been applied)"
                    raise TransientError(self.system, endpoint, None, detail + hint) from exc
                await asyncio.sleep(self.retry.delay(state.number))
                continue

            info = self.rate_info(response)
            self.budget.observe(info.remaining, info.reset_seconds, info.limit)
            outcome = self.classify(response) or default_outcome(response.status_code)
            refused = outcome.action is Action.RATE_LIMITED
            _STATS.record(self.system, endpoint, weight, response.status_code, refused=refused)
            self._log(
                logging.DEBUG if outcome.action is Action.SUCCESS else logging.WARNING,
                method, endpoint, response.status_code, started, state.number,
            )
            if outcome.action is Action.SUCCESS:
                return response
            message = self.error_message(response)
            if outcome.action is Action.RATE_LIMITED:
                state.rate_refusals += 1
                delay = self.retry.delay(state.rate_refusals, info.retry_after_seconds)
                # Everyone using this credential waits: a burst of refusals is what gets a user
                # banned (MoySklad: 200 refusals a minute).
                self.budget.penalize(delay)
                if state.rate_refusals >= self.retry.rate_limit_attempts:
                    raise outcome.error(self.system, endpoint, response.status_code, message)
                state.number -= 1  # rate refusals do not use up the error retries
                continue
            if outcome.action is Action.RETRY and may_repeat and state.number < self.retry.max_attempts:
                await asyncio.sleep(self.retry.delay(state.number, info.retry_after_seconds))
                continue
            if outcome.action is Action.RETRY and not may_repeat:
                message += " (not repeated: the request may have been applied)"
            raise outcome.error(self.system, endpoint, response.status_code, message)

    def _log(
        self,
        level: int,
        method: str,
        endpoint: str,
        status: int | None,
        started: float,
        attempt: int,
        detail: str = "",
    ) -> None:
        if not logger.isEnabledFor(level):
            return
        elapsed_ms = int((time.monotonic() - started) * 1000)
        logger.log(
            level,
            "%s %s %s -> %s in %d ms (attempt %d)%s",
            self.system, method, endpoint, status if status is not None else "error",
            elapsed_ms, attempt, f": {detail}" if detail else "",
            extra={
                "sb_system": self.system, "sb_endpoint": endpoint, "sb_status": status,
                "sb_elapsed_ms": elapsed_ms, "sb_attempt": attempt,
            },
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def chunked(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """Yield consecutive slices of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
