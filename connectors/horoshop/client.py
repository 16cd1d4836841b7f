"""Horoshop API client: sign-in, the token in every body, the envelope, the hourly quota, paging.

Reads like the API (crm.md D): every function is a JSON POST to ``/api/<function>/`` whose body
carries ``token``; the token comes from ``auth`` (login + password), lives 600 s, and is renewed
before it expires and once more when a call answers ``UNAUTHORIZED``. Errors come under HTTP 200
in the envelope; :meth:`HoroshopClient.classify` maps each to the HTTP status it stands for
(:mod:`.wire.envelope`) and the shared response table does the rest: ``UNAUTHORIZED`` → auth error,
``ERROR`` → refused request, ``EXCEPTION`` and an HTML page (the shop down, an anti-bot page) →
retried, the hour's quota (HTTP 429 with ``Retry-After`` or the envelope's "Retry after N seconds")
→ rate-limited. The budget spends at most ``quota_share`` of the shop's hourly quota.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from connectors.horoshop.wire import envelope as wire
from connectors.horoshop.wire.limits import (
    CATALOG_PAGE,
    MAX_IN_FLIGHT,
    ORDERS_PAGE,
    QUOTA_WINDOW_SECONDS,
    TOKEN_RENEW_BEFORE,
    TOKEN_TTL_SECONDS,
)
from connectors.http import (
    Action,
    AuthError,
    BaseClient,
    ConnectorError,
    MalformedResponseError,
    Outcome,
    RateBudget,
    RateInfo,
    RateLimitedError,
    RetryPolicy,
    default_outcome,
    fingerprint,
    register_secret,
    shared_budget,
)
from connectors.paging import OffsetPaginator, follow

#: sent instead of our own agent: some shops answer a bare client with an anti-bot page (D.1)
BROWSER_AGENT = "Mozilla/5.0 (compatible; skladbridge/0.1; +https://github.com/skladbridge)"


def api_root(base_url: str) -> str:
    """``https://shop.ua`` (or ``https://shop.ua/api``) → ``https://shop.ua/api``."""
    url = base_url.rstrip("/")
    return url if url.endswith("/api") else url + "/api"


class HoroshopClient(BaseClient):
    """One Horoshop shop seen through one API admin.

    Args:
        base_url: the shop's address (``https://<domain>``); ``/api`` is appended.
        login, password: the API admin's; the password and every token are registered as secrets.
        hourly_quota, quota_share: the shop's hourly quota and the share of it the hub spends.
        max_quota_wait: the longest wait for the quota a request takes before failing rate-limited.
        clock: seconds, monotonic (tests move it to expire the token).
    """

    system: ClassVar[str] = "horoshop"

    def __init__(
        self,
        base_url: str,
        *,
        login: str,
        password: str,
        hourly_quota: int = 1000,
        quota_share: float = 0.8,
        max_quota_wait: float = 120.0,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | None = None,
        retry: RetryPolicy | None = None,
        budget: RateBudget | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        url = api_root(base_url)
        host = urlsplit(url).netloc
        capacity = max(1, int(hourly_quota * quota_share))
        budget = budget or shared_budget(
            ("horoshop", host, fingerprint(f"{login}:{password}")),
            lambda: RateBudget(
                capacity=capacity,
                window_seconds=QUOTA_WINDOW_SECONDS,
                max_in_flight=MAX_IN_FLIGHT,
                margin_seconds=60.0,
                name=f"horoshop:{host}",
            ),
        )
        super().__init__(
            url,
            budget=budget,
            headers={"User-Agent": BROWSER_AGENT, "Accept": "application/json"},
            secrets=[password],
            transport=transport,
            timeout=timeout,
            retry=retry,
        )
        self.login = login
        self._password = password
        self.max_quota_wait = max_quota_wait
        self._clock = clock
        self._token: str | None = None
        self._token_expires = 0.0
        self._signing_in = asyncio.Lock()
        self._quota_free_at = float("-inf")
        self.sign_ins = 0

    # -- hooks: the envelope through the shared table --------------------------------------------
    def _envelope(self, response: httpx.Response) -> wire.Envelope | None:
        try:
            return wire.parse(response.text)
        except ValueError:
            return None

    def classify(self, response: httpx.Response) -> Outcome | None:
        """The envelope's status (or an HTML page) looked up as the HTTP status it stands for."""
        if response.status_code == wire.QUOTA_EXCEEDED:
            return self._quota_outcome(self.rate_info(response).retry_after_seconds)
        if wire.is_html(response.text):
            return default_outcome(max(response.status_code, wire.SHOP_UNAVAILABLE))
        found = self._envelope(response)
        if found is None or response.status_code >= 300:
            return None
        status = wire.equivalent_status(found)
        if status == wire.QUOTA_EXCEEDED:
            return self._quota_outcome(wire.quota_wait(found))
        return None if status is None else default_outcome(status)

    def _quota_outcome(self, wait: float | None) -> Outcome:
        """Rate-limited (wait and ask again), or, past ``max_quota_wait``, fail now as rate-limited."""
        outcome = default_outcome(wire.QUOTA_EXCEEDED)
        if wait is not None and wait > self.max_quota_wait:
            self._quota_free_at = self._clock() + wait
            return Outcome(Action.FAIL, RateLimitedError)
        return outcome

    def rate_info(self, response: httpx.Response) -> RateInfo:
        """``Retry-After`` of a 429, or the seconds the quota envelope names."""
        info = super().rate_info(response)
        if info.retry_after_seconds is not None or response.status_code >= 300:
            return info
        found = self._envelope(response)
        wait = wire.quota_wait(found) if found is not None else None
        return RateInfo(retry_after_seconds=wait)

    def error_message(self, response: httpx.Response) -> str:
        if wire.is_html(response.text):
            return (
                f"the shop answered a web page instead of the API (HTTP {response.status_code}): it is down, "
                "its API is off, or an anti-bot page is in front of it"
            )
        found = self._envelope(response)
        if found is None:
            return super().error_message(response)
        return f"{found.status}: {found.message() or 'no message'}"

    # -- calls ------------------------------------------------------------------------------------
    async def call(self, function: str, body: Mapping[str, Any] | None = None) -> wire.Envelope:
        """Call ``function`` with ``body`` (the token is added); the envelope of a success.

        A token about to expire is renewed first; a call answered ``UNAUTHORIZED`` signs in once
        more and is asked again once. Every function the hub calls is safe to repeat (reads, and
        ``orders/update`` sets absolute values), so transient failures are retried.

        Raises:
            ConnectorError: a subclass; its ``status`` is the HTTP status the envelope stands for.
        """
        if self._clock() < self._quota_free_at:
            raise RateLimitedError(
                self.system,
                f"/{function}",
                wire.QUOTA_EXCEEDED,
                f"the hour's request quota is spent for {self._quota_free_at - self._clock():.0f} s more",
            )
        for attempt in (1, 2):
            token = await self._current_token()
            try:
                return await self._post(function, {**(body or {}), "token": token})
            except AuthError:
                if attempt == 2:
                    raise
                self._forget_token(token)  # expired or revoked early: sign in again, once
        raise AssertionError("unreachable")

    async def _post(self, function: str, body: Mapping[str, Any]) -> wire.Envelope:
        def parsed(response: httpx.Response) -> wire.Envelope:
            found = self._envelope(response)
            if found is None:
                raise MalformedResponseError(
                    self.system, f"/{function}", response.status_code, "the answer is not a Horoshop JSON envelope"
                )
            return found

        try:
            return await self.request_parsed(
                "POST", f"/{function}/", parsed, json=body, idempotent=True, endpoint=f"/{function}"
            )
        except ConnectorError as exc:
            if exc.status == 200:  # an error under HTTP 200: name the status it stands for
                status = _status_of(exc)
                raise type(exc)(exc.system, exc.endpoint, status, exc.message, exc.details) from exc
            raise

    async def _current_token(self) -> str:
        async with self._signing_in:
            if self._token is None or self._clock() >= self._token_expires - TOKEN_RENEW_BEFORE:
                self._token = await self._sign_in()
            return self._token

    def _forget_token(self, token: str) -> None:
        if self._token == token:
            self._token = None

    async def _sign_in(self) -> str:
        started = self._clock()
        try:
            answer = await self._post("auth", {"login": self.login, "password": self._password})
        except ConnectorError as exc:
            if exc.status in (400, 401, 403):
                raise AuthError(
                    self.system, "/auth", 401, f"sign-in refused for {self.login!r}: {exc.message}"
                ) from exc
            raise
        token = answer.response.get("token") if isinstance(answer.response, Mapping) else None
        if not isinstance(token, str) or not token:
            raise MalformedResponseError(self.system, "/auth", 200, "auth answered OK without a token")
        register_secret(token)
        self.sign_ins += 1
        self._token_expires = started + TOKEN_TTL_SECONDS
        return token

    # -- the functions the exchanges need --------------------------------------------------------
    async def iter_catalog(
        self, *, limit: int = CATALOG_PAGE, expr: Mapping[str, Any] | None = None
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """``catalog/export`` page by page (≤ 500 rows a page: the API caps ``limit`` silently)."""
        limit = min(limit, CATALOG_PAGE)
        rows = _rows("products")
        paging = OffsetPaginator(
            limit, system=self.system, endpoint="/catalog/export", rows=rows, row_key=_key("article")
        )

        async def page(offset: int) -> dict[str, Any]:
            body: dict[str, Any] = {"offset": offset, "limit": limit, **({"expr": dict(expr)} if expr else {})}
            return {"products": rows((await self.call("catalog/export", body)).response)}

        async for body in follow(paging, page):
            yield rows(body)

    async def iter_orders(
        self, filters: Mapping[str, Any], *, limit: int = ORDERS_PAGE, start: int = 0
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """``orders/get`` with ``filters`` (``from``/``to``/``ids``/``status``), page by page."""
        paging = OffsetPaginator(
            limit,
            start=start,
            system=self.system,
            endpoint="/orders/get",
            rows=_rows("orders"),
            row_key=_key("order_id"),
        )

        async def page(offset: int) -> dict[str, Any]:
            answer = await self.call("orders/get", {**filters, "offset": offset, "limit": limit})
            return {"orders": _rows("orders")(answer.response)}

        async for body in follow(paging, page):
            yield _rows("orders")(body)

    async def orders_page(
        self, filters: Mapping[str, Any], offset: int, limit: int = ORDERS_PAGE
    ) -> list[dict[str, Any]]:
        """One page of ``orders/get``."""
        answer = await self.call("orders/get", {**filters, "offset": offset, "limit": limit})
        return _rows("orders")(answer.response)

    async def available_statuses(self) -> list[dict[str, Any]]:
        """``orders/get_available_statuses``: built-in and custom statuses (Horoshop ≥ 4.0)."""
        return _rows("statuses")((await self.call("orders/get_available_statuses")).response)

    async def update_orders(self, changes: Sequence[Mapping[str, Any]]) -> wire.Envelope:
        """``orders/update``: each ``{order_id, status?, payed?, own_tracking_code?}``; per-order log."""
        return await self.call("orders/update", {"orders": [dict(c) for c in changes]})

    async def dictionary(self, function: str, key: str) -> list[dict[str, Any]]:
        """A reference book: ``delivery/export`` (``deliveryTypes``), ``payment/export`` ..."""
        return _rows(key)((await self.call(function)).response)


def _status_of(exc: ConnectorError) -> int:
    """The HTTP status an error answered under HTTP 200 stands for (its message names the envelope status)."""
    if isinstance(exc, RateLimitedError):
        return wire.QUOTA_EXCEEDED
    if "web page" in exc.message:
        return wire.SHOP_UNAVAILABLE
    named = exc.message.partition(":")[0]
    return 502 if named == wire.HTTP_ERROR else wire.EQUIVALENT_STATUS.get(named, 400)


def _rows(key: str) -> Callable[[Any], list[dict[str, Any]]]:
    """The rows under ``key`` of a response (an ``EMPTY`` answer has none)."""

    def rows(response: Any) -> list[dict[str, Any]]:
        found = response.get(key) if isinstance(response, Mapping) else response
        return [dict(r) for r in found if isinstance(r, Mapping)] if isinstance(found, list) else []

    return rows


def _key(field: str) -> Callable[[Any], Any]:
    return lambda row: row.get(field) if isinstance(row, Mapping) else None


def horoshop_client(settings: Any, resolve: Callable[[str | None], str | None]) -> HoroshopClient:
    """The client of a ``system: horoshop`` entry (the registry's factory)."""
    password = resolve(settings.password)
    if not password:
        raise AuthError("horoshop", "/auth", None, "password is not set")
    return HoroshopClient(
        str(settings.base_url),
        login=settings.login,
        password=password,
        hourly_quota=settings.hourly_quota,
        quota_share=settings.quota_share,
        max_quota_wait=settings.max_quota_wait,
    )
