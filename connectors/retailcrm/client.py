"""retailCRM API v5 client: auth, ``site``, the 10 rps budget, envelopes, paging and uploads.

Reads like the API (crm.md A): GET with PHP-bracket filters, POST form bodies whose nested fields
are JSON strings, lists paged by ``limit``/``page``, history paged by ``filter[sinceId]``.
Error handling is the shared table of :mod:`connectors.http` plus retailCRM's three quirks, declared
in :meth:`RetailCRMClient.classify`: 503/429 are rate refusals, an HTML body is a config error
(the account does not exist), and 460 is a partial batch result to return, not to raise.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from connectors.http import (
    Action,
    AuthError,
    BaseClient,
    ConnectorError,
    MalformedResponseError,
    Outcome,
    RateBudget,
    RateLimitedError,
    RetryPolicy,
    fingerprint,
    shared_budget,
)
from connectors.paging import PageNumberPaginator, follow
from connectors.retailcrm.orders_api import OrdersAPI
from connectors.retailcrm.wire import (
    INVENTORY_BATCH,
    PAGE_LIMIT,
    PRICE_BATCH,
    RPS,
    UploadResult,
    error_summary,
    form_fields,
    is_html,
    query,
)

#: reference book name -> key of its payload
REFERENCE_BOOKS: Mapping[str, str] = {
    "statuses": "statuses",
    "stores": "stores",
    "sites": "sites",
    "delivery-types": "deliveryTypes",
    "payment-types": "paymentTypes",
    "payment-statuses": "paymentStatuses",
    "price-types": "priceTypes",
    "order-types": "orderTypes",
    "order-methods": "orderMethods",
    "status-groups": "statusGroups",
}
_RATE_REFUSED = Outcome(Action.RATE_LIMITED, RateLimitedError)
_NO_ACCOUNT = Outcome(Action.FAIL, AuthError)
_PARTIAL = Outcome(Action.SUCCESS)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def api_url(base_url: str) -> str:
    """``https://demo.retailcrm.ru`` → ``https://demo.retailcrm.ru/api/v5`` (idempotent)."""
    url = base_url.rstrip("/")
    return url if url.endswith("/api/v5") else url + "/api/v5"


class RetailCRMClient(OrdersAPI, BaseClient):
    """One retailCRM account seen through one API key.

    Args:
        base_url: the account URL (``https://<account>.retailcrm.ru``); ``/api/v5`` is appended.
        api_key: sent as ``X-API-KEY`` only (never in a query string), registered as a secret.
        site: the store code, for keys that cover several stores.
        transport: an httpx transport (tests: ``httpx.ASGITransport(app=sandbox.app)``).
        budget: defaults to the process-wide 10 rps budget of (host, key).
    """

    system: ClassVar[str] = "retailcrm"

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str,
        site: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | None = None,
        retry: RetryPolicy | None = None,
        budget: RateBudget | None = None,
    ) -> None:
        url = api_url(base_url)
        host = urlsplit(url).netloc
        budget = budget or shared_budget(
            ("retailcrm", host, fingerprint(api_key)),
            lambda: RateBudget(capacity=RPS, window_seconds=1.0, max_in_flight=RPS, name=f"retailcrm:{host}"),
        )
        super().__init__(
            url,
            budget=budget,
            headers={"X-API-KEY": api_key},
            secrets=[api_key],
            transport=transport,
            timeout=timeout,
            retry=retry,
        )
        self.site = site
        self.last_history_id: int | None = None

    # -- hooks ---------------------------------------------------------------------------------
    def classify(self, response: httpx.Response) -> Outcome | None:
        """503/429: rate refusal; HTML otherwise: no such account; 460: a partial batch result."""
        if response.status_code in (429, 503):
            return _RATE_REFUSED
        if response.status_code == 460:
            return _PARTIAL
        if is_html(response.text):
            return _NO_ACCOUNT
        return None

    def error_message(self, response: httpx.Response) -> str:
        if response.status_code not in (429, 503) and is_html(response.text):
            return "the account does not exist (HTML page instead of the API): check the account URL"
        try:
            return error_summary(response.json()) or response.reason_phrase
        except ValueError:
            return super().error_message(response)

    # -- plumbing ------------------------------------------------------------------------------
    def _site(self, site: str | None) -> str | None:
        return site or self.site

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        data: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        endpoint: str | None = None,
    ) -> dict[str, Any]:
        name = endpoint or path

        def envelope(response: httpx.Response) -> tuple[dict[str, Any], int]:
            # a broken success body is asked for again by request_parsed (when the call may repeat)
            try:
                body = response.json()
            except ValueError:
                raise MalformedResponseError(
                    self.system, name, response.status_code, f"the answer is not JSON ({len(response.content)} bytes)"
                ) from None
            if not isinstance(body, dict):
                raise MalformedResponseError(
                    self.system,
                    name,
                    response.status_code,
                    f"the answer is a JSON {type(body).__name__}, not the API's envelope",
                )
            return body, response.status_code

        body, status = await self.request_parsed(
            method, path, envelope, params=params, data=data, idempotent=idempotent, endpoint=endpoint
        )
        if body.get("success") is False and status != 460:
            raise ConnectorError(self.system, name, status, error_summary(body), body)
        return body

    async def _pages(self, path: str, key: str, filters: Mapping[str, Any] | None) -> AsyncIterator[list[dict]]:
        """Every page of a list, by ``page`` number until ``pagination.totalPageCount``.

        Raises:
            PagingLoopError: the answer is another page than asked for, or repeats a page's rows.
        """
        paging = PageNumberPaginator(
            system=self.system,
            endpoint=path,
            rows=lambda body: body.get(key) or [],
            total_pages=lambda body: int((body.get("pagination") or {}).get("totalPageCount") or 0),
            echoed=lambda body: _int_or_none((body.get("pagination") or {}).get("currentPage")),
        )

        def fetch(page: int) -> Awaitable[dict[str, Any]]:
            return self._call("GET", path, params=query(filters, limit=PAGE_LIMIT, page=page))

        async for body in follow(paging, fetch):
            yield body.get(key) or []

    # -- reference books -----------------------------------------------------------------------
    async def reference(self, name: str) -> dict[str, Any] | list[dict[str, Any]]:
        """A reference book: an object keyed by code, except ``stores`` (an array)."""
        if name not in REFERENCE_BOOKS:
            raise ValueError(f"unknown reference book {name!r}; known: {sorted(REFERENCE_BOOKS)}")
        body = await self._call("GET", f"/reference/{name}")
        payload: dict[str, Any] | list[dict[str, Any]] = body.get(REFERENCE_BOOKS[name]) or {}
        return payload

    async def sites(self) -> dict[str, dict[str, Any]]:
        """The account's stores (sites), keyed by code."""
        sites = await self.reference("sites")
        return sites if isinstance(sites, dict) else {s["code"]: s for s in sites}

    # -- catalog -------------------------------------------------------------------------------
    def iter_offers(self, filters: Mapping[str, Any] | None = None) -> AsyncIterator[list[dict]]:
        """Pages (100) of ``store/offers``; filters as in the API (``ids``, ``xmlIds``, ``sites``...)."""
        return self._pages("/store/offers", "offers", filters)

    def iter_products(self, filters: Mapping[str, Any] | None = None) -> AsyncIterator[list[dict]]:
        """Pages (100) of ``store/products``, each product with its offers."""
        return self._pages("/store/products", "products", filters)

    def inventories(
        self, filters: Mapping[str, Any] | None = None, *, details: bool = False
    ) -> AsyncIterator[list[dict]]:
        """Pages (100) of ``store/inventories``; ``details`` adds the per-store breakdown."""
        flt = dict(filters or {})
        if details:
            flt["details"] = 1
        return self._pages("/store/inventories", "offers", flt)

    async def upload_inventories(self, offers: Sequence[Mapping[str, Any]], *, site: str | None = None) -> UploadResult:
        """Upload absolute stock for ≤ 250 offers (``{xmlId|externalId|id, stores: [...]}``).

        Idempotent (absolute values), so it is retried after transient failures.

        Raises:
            ValueError: more than 250 offers, or a store entry without ``available`` (the CRM would
                silently keep the old value: zero must be sent as 0).
        """
        if len(offers) > INVENTORY_BATCH:
            raise ValueError(f"at most {INVENTORY_BATCH} offers per inventories upload, got {len(offers)}")
        for offer in offers:
            if any("available" not in store for store in offer.get("stores") or []):
                raise ValueError(f"offer {dict(offer)!r}: every store needs 'available' (send 0, not nothing)")
        return await self._upload("/store/inventories/upload", form_fields(offers=list(offers), site=self._site(site)))

    async def upload_prices(self, prices: Sequence[Mapping[str, Any]]) -> UploadResult:
        """Upload prices for ≤ 250 offers (``{xmlId|externalId|id, site, prices: [{code, price}]}``).

        Raises:
            ValueError: more than :data:`PRICE_BATCH` entries.
        """
        if len(prices) > PRICE_BATCH:
            raise ValueError(f"at most {PRICE_BATCH} offers per prices upload, got {len(prices)}")
        return await self._upload("/store/prices/upload", form_fields(prices=list(prices)))

    async def _upload(self, path: str, data: dict[str, str]) -> UploadResult:
        body = await self._call("POST", path, data=data, idempotent=True)
        not_found = body.get("notFoundOffers") or []
        if isinstance(not_found, Mapping):  # the python client's fixture shows an object
            not_found = list(not_found.values())
        return UploadResult(processed=int(body.get("processedOffersCount") or 0), not_found=list(not_found))
