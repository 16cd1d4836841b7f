"""keyCRM OpenAPI v1 client: bearer key, the 60-a-minute budget, next-link pages, Laravel errors.

Reads like the API (crm.md C): lists of at most 50 rows followed by ``next_page_url`` (which may be
only ``?page=N``), ``include=`` and ``filter[...]`` parameters, ``PUT /offers/stocks`` answered 202
(accepted, applied later). Errors are the shared table of :mod:`connectors.http`; a 422's Laravel
body becomes the message and the details of the :class:`RequestValidationError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import httpx

from connectors.http import (
    BaseClient,
    MalformedResponseError,
    RateBudget,
    RetryPolicy,
    fingerprint,
    shared_budget,
)
from connectors.keycrm.wire.conventions import (
    ORDER_INCLUDE,
    PAGE_LIMIT,
    REQUESTS_PER_MINUTE,
    STOCK_BATCH,
    error_summary,
)
from connectors.paging import NextLinkPaginator, follow

Json = dict[str, Any]


def filters(values: Mapping[str, Any] | None) -> dict[str, str]:
    """``filter[...]`` parameters (deepObject): lists become comma lists, as keyCRM reads them [spec]."""
    out: dict[str, str] = {}
    for name, value in (values or {}).items():
        if value is None:
            continue
        if isinstance(value, list | tuple | set):
            value = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        out[f"filter[{name}]"] = str(value)
    return out


class KeyCRMClient(BaseClient):
    """One keyCRM account seen through one API key.

    Args:
        base_url: the OpenAPI root (``https://openapi.keycrm.app/v1``).
        api_key: sent as ``Authorization: Bearer``; registered as a secret.
        budget: default: the process-wide 60-a-minute budget of (host, key).
    """

    system: ClassVar[str] = "keycrm"

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | None = None,
        retry: RetryPolicy | None = None,
        budget: RateBudget | None = None,
    ) -> None:
        host = urlsplit(base_url).netloc
        budget = budget or shared_budget(
            ("keycrm", host, fingerprint(api_key)),
            lambda: RateBudget(
                capacity=REQUESTS_PER_MINUTE, window_seconds=60.0, max_in_flight=4, name=f"keycrm:{host}"
            ),
        )
        super().__init__(
            base_url,
            budget=budget,
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
            secrets=[api_key],
            transport=transport,
            timeout=timeout,
            retry=retry,
        )

    # -- hooks ---------------------------------------------------------------------------------
    def error_message(self, response: httpx.Response) -> str:
        try:
            return error_summary(response.json()) or response.reason_phrase
        except ValueError:
            return super().error_message(response)

    def error_details(self, response: httpx.Response) -> Any:
        """A Laravel body (``{"message", "errors": {field: [texts]}}``): callers read the fields."""
        try:
            return response.json()
        except ValueError:
            return None

    # -- plumbing ------------------------------------------------------------------------------
    async def call(
        self, method: str, path: str, *, params: Any = None, json: Any = None, endpoint: str | None = None
    ) -> Any:
        """One request; the JSON answer (``None`` for an empty body).

        Raises:
            ConnectorError: the shared table's typed error (422 → ``RequestValidationError`` whose
                ``details`` is the Laravel body).
        """
        name = endpoint or path

        def body(response: httpx.Response) -> Any:
            if not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                raise MalformedResponseError(
                    self.system, name, response.status_code, f"the answer is not JSON ({len(response.content)} bytes)"
                ) from None

        return await self.request_parsed(method, path, body, params=params, json=json, endpoint=endpoint)

    def _relative(self, link: str) -> tuple[str, list[tuple[str, str]]]:
        """A ``next_page_url`` as (path under the root, query): absolute, root-relative or only ``?page=N``."""
        parts = urlsplit(link)
        path = parts.path
        root = urlsplit(self.base_url).path.rstrip("/")
        if path.startswith(root):
            path = path[len(root) :]
        return path, parse_qsl(parts.query, keep_blank_values=True)

    async def pages(self, path: str, params: Mapping[str, Any] | None = None) -> AsyncIterator[list[Json]]:
        """Every page of a list, 50 rows a request, following ``next_page_url`` to the end.

        A link of only ``?page=N`` (seen in live answers) keeps the path and the first request's
        parameters with the new page number.

        Raises:
            PagingLoopError: a link or a page of rows comes back.
        """
        first = {"limit": PAGE_LIMIT, **(params or {})}
        paging = NextLinkPaginator(
            next_link=lambda body: body.get("next_page_url") if isinstance(body, dict) else None,
            system=self.system,
            endpoint=path,
            rows=lambda body: body.get("data") or [] if isinstance(body, dict) else [],
        )

        async def fetch(link: str | None) -> Json:
            if link is None:
                answer = await self.call("GET", path, params=first)
            else:
                at, query = self._relative(link)
                merged = {**first, **dict(query)}
                answer = await self.call("GET", at or path, params=merged, endpoint=path)
            if not isinstance(answer, dict) or not isinstance(answer.get("data"), list):
                raise MalformedResponseError(self.system, path, 200, "the answer is not a page (no data[])")
            return answer

        async for body in follow(paging, fetch):
            yield list(body["data"])

    async def all(self, path: str, params: Mapping[str, Any] | None = None) -> list[Json]:
        return [row async for page in self.pages(path, params) for row in page]

    # -- orders --------------------------------------------------------------------------------
    def order_pages(
        self, where: Mapping[str, Any] | None = None, *, include: str = ORDER_INCLUDE, sort: str = "id"
    ) -> AsyncIterator[list[Json]]:
        """Orders matching ``where`` (``status_id``, ``updated_between`` ...), with ``include``."""
        return self.pages("/order", {**filters(where), "include": include, "sort": sort})

    async def order(self, order_id: str | int, include: str = ORDER_INCLUDE) -> Json:
        answer = await self.call("GET", f"/order/{order_id}", params={"include": include}, endpoint="/order/{id}")
        if not isinstance(answer, dict):
            raise MalformedResponseError(self.system, "/order/{id}", 200, "the answer is not an order")
        return answer

    async def update_order(self, order_id: str | int, changes: Mapping[str, Any]) -> None:
        """``PUT /order/{id}`` (202): only fields already on the order can change [spec]."""
        await self.call("PUT", f"/order/{order_id}", json=dict(changes), endpoint="/order/{id}")

    async def order_statuses(self) -> list[Json]:
        return await self.all("/order/status")

    async def order_sources(self) -> list[Json]:
        return await self.all("/order/source")

    async def payment_methods(self) -> list[Json]:
        return await self.all("/order/payment-method")

    async def add_payment(self, order_id: str | int, payment: Mapping[str, Any]) -> Json:
        return dict(
            await self.call("POST", f"/order/{order_id}/payment", json=dict(payment), endpoint="/order/{id}/payment")
            or {}
        )

    # -- offers and stock ----------------------------------------------------------------------
    def offer_pages(self, where: Mapping[str, Any] | None = None) -> AsyncIterator[list[Json]]:
        return self.pages("/offers", filters(where))

    def stock_pages(self, where: Mapping[str, Any] | None = None, *, details: bool = True) -> AsyncIterator[list[Json]]:
        """``GET /offers/stocks``: per warehouse with ``filter[details]=true`` [spec]; a live account
        was seen answering totals only (C.7), so callers take either."""
        return self.pages("/offers/stocks", filters({**(where or {}), **({"details": True} if details else {})}))

    async def put_stocks(self, warehouse_id: int, stocks: Sequence[Mapping[str, Any]]) -> None:
        """``PUT /offers/stocks``: absolute quantities on one warehouse, at most 10 000 items; answered
        202, applied later (a stock-movement document is created) [spec]. Absolute values: safe to repeat."""
        if len(stocks) > STOCK_BATCH:
            raise ValueError(f"{len(stocks)} stock items: keyCRM takes at most {STOCK_BATCH} a request")
        await self.call("PUT", "/offers/stocks", json={"warehouse_id": warehouse_id, "stocks": list(stocks)})

    async def create_product(self, product: Mapping[str, Any]) -> Json:
        return dict(await self.call("POST", "/products", json=dict(product)) or {})
