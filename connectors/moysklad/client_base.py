"""MoySklad client plumbing: auth, gzip, the weighted budget, rate headers, concurrent paging.

Pacing follows the published rules (``limits.py``): 45 units per 3 s per credential, the weight of
a request from the dated table, at most 5 requests in flight. The budget is shared process-wide
per (host, credential), and the server's ``X-RateLimit-Remaining``/``X-Lognex-Reset`` headers are
fed back into it; a 429 waits ``X-Lognex-Retry-After`` (1049) or backs off (1073, parallel).

Paging: the first page tells ``meta.size``; the other offsets are fetched concurrently within the
budget and yielded as they arrive, at most a few pages held at once. A page cut short is asked for
again by the client itself (:mod:`connectors.moysklad.pages` says what a whole page is). The endpoint methods live
in :mod:`connectors.moysklad.client` (catalog, stock) and :mod:`connectors.moysklad.client_documents`.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Mapping
from datetime import date, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from connectors.http import (
    BaseClient,
    RateBudget,
    RateInfo,
    RetryPolicy,
    fingerprint,
    shared_budget,
)
from connectors.moysklad.limits import (
    BUCKET_CAPACITY,
    BUCKET_WINDOW_SECONDS,
    DEFAULT_BASE_URL,
    MAX_EXPAND_LIMIT,
    MAX_IN_FLIGHT_PER_CREDENTIAL,
    MAX_PAGE_LIMIT,
    TokenKind,
    request_weight,
)
from connectors.moysklad.moscow_time import format_moscow, moscow_today
from connectors.moysklad.pages import json_body, offset_paging, page_size, whole_page

ASSORTMENT_HEADER = {"X-Lognex-Remap-Beta-Feature": "assortmentWithoutStock"}
BOTH_ARCHIVED = "archived=true;archived=false"
#: ids per ``filter=id=…`` request; keeps the URL well under the 8 KB header limit
IDS_PER_FILTER = 100

__all__ = ["ASSORTMENT_HEADER", "BOTH_ARCHIVED", "DEFAULT_BASE_URL", "MoySkladBase", "moscow_filter"]


def moscow_filter(ts: datetime) -> str:
    """An aware datetime as a MoySklad filter value (Moscow time, ``YYYY-MM-DD HH:mm:ss``).

    Raises:
        ValueError: ``ts`` is naive.
    """
    return format_moscow(ts)


class MoySkladBase(BaseClient):
    """Async client of one MoySklad credential: auth, pacing and paging.

    Args:
        base_url: API root, default ``https://api.moysklad.ru/api/remap/1.2``.
        token: a Bearer token (user token, or a solution token with ``token_kind="app"``).
        login, password: Basic credentials (``user@account``); always weighted as a user.
        token_kind: ``user`` or ``app`` (solution): decides the weight from the dated table.
        transport: httpx transport (tests: ``httpx.ASGITransport(app=sandbox.app)``).
        today: fixes the calendar day of the weight table (default: today in Moscow).
    """

    system = "moysklad"

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        token: str | None = None,
        login: str | None = None,
        password: str | None = None,
        token_kind: Literal["user", "app"] | TokenKind = "user",
        transport: httpx.AsyncBaseTransport | None = None,
        today: date | None = None,
        timeout: httpx.Timeout | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if token:
            auth, secrets = f"Bearer {token}", [token]
            self.token_kind: TokenKind = token_kind
        elif login and password is not None:
            raw = base64.b64encode(f"{login}:{password}".encode()).decode()
            auth, secrets = f"Basic {raw}", [password, raw]
            self.token_kind = "user"
        else:
            raise ValueError("MoySklad needs a token, or a login and a password")
        self.today = today
        host = urlsplit(base_url).netloc
        key = ("moysklad", host, fingerprint(token, login, password))
        budget = shared_budget(
            key,
            lambda: RateBudget(
                BUCKET_CAPACITY, BUCKET_WINDOW_SECONDS, MAX_IN_FLIGHT_PER_CREDENTIAL, name=f"moysklad:{host}"
            ),
        )
        super().__init__(
            base_url,
            budget=budget,
            secrets=secrets,
            transport=transport,
            timeout=timeout,
            retry=retry,
            headers={"Authorization": auth, "Accept": "application/json;charset=utf-8", "Accept-Encoding": "gzip"},
        )

    # -- hooks -------------------------------------------------------------------------------
    def weight_day(self) -> date:
        """The calendar day the weight table is read for (Moscow date unless fixed)."""
        return self.today or moscow_today()

    def weight_for(self, method: str, path: str) -> float:
        """Units from the dated table: credential kind, date, extended stock reports."""
        return float(request_weight(urlsplit(path).path, self.token_kind, self.weight_day()))

    def rate_info(self, response: httpx.Response) -> RateInfo:
        """MoySklad's headers: remaining units, reset and retry-after in milliseconds."""
        h = response.headers

        def num(name: str, scale: float = 1.0) -> float | None:
            try:
                return float(h[name]) * scale if name in h else None
            except ValueError:
                return None

        retry_after = num("X-Lognex-Retry-After", 0.001)
        if response.status_code == 429 and retry_after is None and h.get("X-Lognex-Auth") == "429005":
            retry_after = None  # 1073, parallel limit: no hint, the policy backs off
        return RateInfo(
            remaining=num("X-RateLimit-Remaining"),
            reset_seconds=num("X-Lognex-Reset", 0.001),
            limit=num("X-RateLimit-Limit"),
            retry_after_seconds=retry_after,
        )

    def error_message(self, response: httpx.Response) -> str:
        """``[code] error (parameter)`` for each error of MoySklad's envelope."""
        try:
            errors = response.json().get("errors", [])
        except (ValueError, AttributeError):
            return super().error_message(response)
        parts = [
            f"[{e.get('code')}] {e.get('error')}" + (f" ({e['parameter']})" if e.get("parameter") else "")
            for e in errors
            if isinstance(e, dict)
        ]
        return "; ".join(parts) or super().error_message(response)

    # -- plumbing ----------------------------------------------------------------------------
    def href(self, path: str) -> str:
        """An absolute href on this client's host (``entity/store/<id>`` → ``https://…/entity/store/<id>``)."""
        return f"{self.base_url}/{path.lstrip('/')}"

    def ref(self, path: str, type_: str) -> dict[str, Any]:
        """A ``{"meta": …}`` reference to ``path`` of ``type_``."""
        return {"meta": {"href": self.href(path), "type": type_, "mediaType": "application/json"}}

    async def get_json(
        self, path: str, params: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None
    ) -> Any:
        """GET ``path`` and decode the JSON body (asked again while it comes back broken).

        Raises:
            MalformedResponseError: the body is still not JSON after every retry.
        """
        return await self.request_parsed(
            "GET", path, lambda response: json_body(response, path), params=dict(params or {}), headers=headers
        )

    async def get_page(
        self, path: str, params: Mapping[str, Any] | None, headers: Mapping[str, str] | None, offset: int, limit: int
    ) -> dict[str, Any]:
        """One whole page of a collection: ``{meta: {size, ...}, rows: [...]}``.

        A page that is not a collection, or has fewer rows than ``meta.size`` implies for its
        offset, is a broken answer of this one request (a reply cut short on its way): the request
        is repeated with backoff, counted like any retry, and fails only if it stays broken.

        Raises:
            MalformedResponseError: still broken after every retry; names the endpoint and offset.
        """
        query = {**(params or {}), "limit": limit, "offset": offset}
        return await self.request_parsed(
            "GET", path, lambda response: whole_page(response, path, offset, limit), params=query, headers=headers
        )

    async def iter_pages(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        limit: int = MAX_PAGE_LIMIT,
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Yield the ``rows`` of every page of a collection.

        The first page gives ``meta.size``; the remaining offsets are fetched concurrently (at most
        as many as the budget lets in flight) and yielded in arrival order. ``expand`` and
        ``fields`` force ``limit`` ≤ 100, since the API ignores them on bigger pages.

        Raises:
            MalformedResponseError: a page stayed broken or short through every retry.
            PagingLoopError: the API answered another offset than asked, or rows of another page.
        """
        base = dict(params or {})
        if "expand" in base or "fields" in base:
            limit = min(limit, MAX_EXPAND_LIMIT)
        limit = max(1, min(limit, MAX_PAGE_LIMIT))
        paging = offset_paging(path, limit)

        async def fetch(at: int) -> dict[str, Any]:
            page = await self.get_page(path, base, headers, at, limit)
            paging.check(page, at)
            return page

        first = await fetch(0)
        yield first["rows"]
        offsets = iter(paging.remaining(page_size(first)))
        window = self.budget.max_in_flight
        pending: set[asyncio.Task[dict[str, Any]]] = set()

        def launch() -> bool:
            offset = next(offsets, None)
            if offset is not None:
                pending.add(asyncio.ensure_future(fetch(offset)))
            return offset is not None

        try:
            while len(pending) < window and launch():
                pass
            while pending:
                done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    pending.discard(task)
                    page = task.result()
                    launch()
                    yield page["rows"]
        finally:
            for task in pending:
                task.cancel()

    async def collect(self, path: str, params: Mapping[str, Any] | None = None, **kw: Any) -> list[dict[str, Any]]:
        """All rows of a (small) collection."""
        rows: list[dict[str, Any]] = []
        async for page in self.iter_pages(path, params, **kw):
            rows.extend(page)
        return rows
