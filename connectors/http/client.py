"""The async HTTP client every connector's client extends: budget, retry table, counting, logs.

One request goes through :meth:`BaseClient.request_parsed`: it waits for the budget, sends, feeds
the rate headers back, looks the answer up in the response table and retries what the table and
the request's idempotency allow. A success whose body turns out broken (the ``parse`` step raises
:class:`MalformedResponseError`) is a transient fault of that one request, retried the same way,
so a page cut short by a proxy costs one more request, not a whole step of a run. A connection
refused at an address that has not answered this process yet fails at once
(:class:`UnreachableError`): that is a closed port or a wrong host, not a blip.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self, TypeVar

import httpx

from connectors.http.budget import Budget
from connectors.http.errors import MalformedResponseError, TransientError, UnreachableError
from connectors.http.policy import MAYBE_SENT, NOT_SENT, Action, Outcome, RateInfo, RetryPolicy, default_outcome
from connectors.http.stats import endpoint_name, request_stats
from hub.redaction import register_secret

__all__ = ["BaseClient", "forget_answered"]

logger = logging.getLogger("skladbridge.http")
T = TypeVar("T")
NOT_REPEATED = " (not repeated: the request may have been applied)"
#: addresses (scheme, host, port) that answered this process at least once: a refusal there later
#: is a restart or a blip worth retrying; before, it is a closed port or a wrong host (see below)
_ANSWERED: set[tuple[str, str, int | None]] = set()
_ANSWERED_LOCK = threading.Lock()


def _address(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


def _refused(exc: BaseException) -> bool:
    """Whether the connection was refused or the host name is unknown (not a timeout, not a
    temporary DNS failure): the transport's own error, found down the chain of causes."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return True
        if isinstance(seen, socket.gaierror):
            return seen.errno == socket.EAI_NONAME
        seen = seen.__cause__ or seen.__context__
    return False


def forget_answered() -> None:
    """Forget which addresses answered (tests that reuse a port for another server)."""
    with _ANSWERED_LOCK:
        _ANSWERED.clear()


def whole_response(response: httpx.Response) -> httpx.Response:
    return response  # the ``parse`` of BaseClient.request: the answer as it is


@dataclass
class _Attempts:
    number: int = 0
    rate_refusals: int = 0


class BaseClient:
    """An async HTTP client for one system, paced by a shared :class:`Budget`.

    Subclasses set ``system``, pass auth headers and the secrets they contain, and override the
    hooks where their API differs from the defaults.
    """

    system: ClassVar[str] = "http"

    def __init__(
        self,
        base_url: str,
        *,
        budget: Budget,
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

    def error_details(self, response: httpx.Response) -> Any:
        """What an error carries as ``details`` (default: nothing; e.g. a validation body's fields)."""
        return None

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
        """Send one request through the budget and the retry table; see :meth:`request_parsed`."""
        return await self.request_parsed(
            method,
            path,
            whole_response,
            params=params,
            json=json,
            data=data,
            headers=headers,
            weight=weight,
            idempotent=idempotent,
            endpoint=endpoint,
        )

    async def request_parsed(
        self,
        method: str,
        path: str,
        parse: Callable[[httpx.Response], T],
        *,
        params: Any = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        weight: float | None = None,
        idempotent: bool | None = None,
        endpoint: str | None = None,
    ) -> T:
        """Send one request through the budget and the retry table, and return ``parse(response)``.

        Args:
            parse: reads a success answer; raises :class:`MalformedResponseError` when the body is
                broken (not JSON, cut short), which repeats the request like a 5xx would.
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
        attempts = _Attempts()
        stats = request_stats()
        while True:
            attempts.number += 1
            started = time.monotonic()
            try:
                async with self.budget.acquire(weight):
                    response = await self._http.request(
                        method, path, params=params, json=json, data=data, headers=headers
                    )
                    await response.aread()
            except MAYBE_SENT as exc:
                stats.record(self.system, endpoint, weight, None)
                safe = isinstance(exc, NOT_SENT) or may_repeat
                detail = f"{type(exc).__name__}: {exc}".strip()
                self._log(logging.WARNING, method, endpoint, None, started, attempts.number, detail)
                if _refused(exc) and not self._answered_before():
                    # refused or no such host, and nothing ever answered there: retrying a closed
                    # port six times only delays the one line that says to fix base_url
                    raise UnreachableError(
                        self.system, endpoint, None, f"{detail} (nothing answered at {self.base_url} yet)"
                    ) from exc
                if not safe or attempts.number >= self.retry.max_attempts:
                    raise TransientError(self.system, endpoint, None, detail + ("" if safe else NOT_REPEATED)) from exc
                await asyncio.sleep(self.retry.delay(attempts.number))
                continue

            self._mark_answered()
            info = self.rate_info(response)
            await self.budget.observe(info.remaining, info.reset_seconds, info.limit)
            outcome = self.classify(response) or default_outcome(response.status_code)
            status = response.status_code
            if outcome.action is Action.SUCCESS:
                try:
                    parsed = parse(response)
                except MalformedResponseError as exc:
                    stats.record(self.system, endpoint, weight, status, malformed=True)
                    self._log(logging.WARNING, method, endpoint, status, started, attempts.number, exc.message)
                    if may_repeat and attempts.number < self.retry.max_attempts:
                        await asyncio.sleep(self.retry.delay(attempts.number))
                        continue
                    why = f" (after {attempts.number} attempts)" if may_repeat else NOT_REPEATED
                    raise type(exc)(exc.system, exc.endpoint, exc.status, exc.message + why, exc.details) from exc
                stats.record(self.system, endpoint, weight, status)
                self._log(logging.DEBUG, method, endpoint, status, started, attempts.number)
                return parsed

            refused = outcome.action is Action.RATE_LIMITED
            stats.record(self.system, endpoint, weight, status, refused=refused)
            self._log(logging.WARNING, method, endpoint, status, started, attempts.number)
            message = self.error_message(response)
            if refused:
                attempts.rate_refusals += 1
                delay = self.retry.delay(attempts.rate_refusals, info.retry_after_seconds)
                # Everyone using this credential waits: a burst of refusals is what gets a user
                # banned (MoySklad: 200 refusals a minute).
                await self.budget.penalize(delay)
                if attempts.rate_refusals >= self.retry.rate_limit_attempts:
                    raise outcome.error(self.system, endpoint, status, message)
                attempts.number -= 1  # rate refusals do not use up the error retries
                continue
            if outcome.action is Action.RETRY and may_repeat and attempts.number < self.retry.max_attempts:
                await asyncio.sleep(self.retry.delay(attempts.number, info.retry_after_seconds))
                continue
            if outcome.action is Action.RETRY and not may_repeat:
                message += NOT_REPEATED
            raise outcome.error(self.system, endpoint, status, message, self.error_details(response))

    def _answered_before(self) -> bool:
        with _ANSWERED_LOCK:
            return _address(self._http.base_url) in _ANSWERED

    def _mark_answered(self) -> None:
        address = _address(self._http.base_url)
        if address not in _ANSWERED:  # read without the lock first: the common case costs nothing
            with _ANSWERED_LOCK:
                _ANSWERED.add(address)

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
            self.system,
            method,
            endpoint,
            status if status is not None else "error",
            elapsed_ms,
            attempt,
            f": {detail}" if detail else "",
            extra={
                "sb_system": self.system,
                "sb_endpoint": endpoint,
                "sb_status": status,
                "sb_elapsed_ms": elapsed_ms,
                "sb_attempt": attempt,
            },
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
