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
    RequestValidationError,
    RetryPolicy,
    fingerprint,
    shared_budget,
)
from connectors.paging import PageNumberPaginator, follow
from connectors.retailcrm.wire.conventions import (
    INVENTORY_BATCH,
    ORDER_BATCH,
    PAGE_LIMIT,
    PRICE_BATCH,
    RPS,
    BatchResult,
    UploadResult,
    error_summary,
    error_texts,
    form_fields,
    is_html,
    query,
)
from connectors.retailcrm.wire.history import HistoryPages

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


class RetailCRMClient(BaseClient):
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

    async def users(self) -> list[dict[str, Any]]:
        """The account's active users (managers), every page of ``GET /users``."""
        rows: list[dict[str, Any]] = []
        async for page in self._pages("/users", "users", {"active": 1}):
            rows.extend(page)
        return rows

    async def custom_fields(self, entity: str = "order") -> list[dict[str, Any]]:
        """The custom fields of ``entity`` (``GET /custom-fields``, every page)."""
        rows: list[dict[str, Any]] = []
        async for page in self._pages("/custom-fields", "customFields", {"entity": entity}):
            rows.extend(page)
        return rows

    async def custom_dictionaries(self) -> list[dict[str, Any]]:
        """The custom fields' dictionaries with their elements (``GET /custom-fields/dictionaries``)."""
        rows: list[dict[str, Any]] = []
        async for page in self._pages("/custom-fields/dictionaries", "customDictionaries", None):
            rows.extend(page)
        return rows

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

    # -- orders --------------------------------------------------------------------------------
    async def list_orders(
        self, filters: Mapping[str, Any] | None = None, *, page: int = 1, limit: int = PAGE_LIMIT
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """One page of orders and its ``pagination`` object."""
        body = await self._call("GET", "/orders", params=query(filters, limit=limit, page=page))
        return list(body.get("orders") or []), dict(body.get("pagination") or {})

    def iter_orders(self, filters: Mapping[str, Any] | None = None) -> AsyncIterator[list[dict]]:
        """All pages (100) of orders matching ``filters``."""
        return self._pages("/orders", "orders", filters)

    async def get_order(self, uid: str | int, *, by: str = "externalId", site: str | None = None) -> dict[str, Any]:
        """One order by ``externalId`` (default) or ``id``. Raises NotFoundError."""
        params = query(by=by if by != "externalId" else None, site=self._site(site))
        body = await self._call("GET", f"/orders/{uid}", params=params, endpoint="/orders/{uid}")
        return dict(body["order"])

    async def create_order(self, order: Mapping[str, Any], *, site: str | None = None) -> dict[str, Any]:
        """Create an order; returns it as stored (with ``id``, ``number``).

        With an ``externalId`` the call is safe to repeat: a retry after a lost response that meets
        "already exists" returns the existing order instead of failing or duplicating it.
        """
        external_id = order.get("externalId")
        data = form_fields(order=dict(order), site=self._site(site))
        try:
            body = await self._call("POST", "/orders/create", data=data, idempotent=external_id is not None)
        except RequestValidationError as exc:
            if external_id is None or "externalId" not in exc.message or "exists" not in exc.message:
                raise
            return await self.get_order(external_id, site=site)
        created = dict(body.get("order") or {})
        created.setdefault("id", body.get("id"))
        return created

    async def edit_order(
        self, uid: str | int, order: Mapping[str, Any], *, by: str = "externalId", site: str | None = None
    ) -> dict[str, Any]:
        """Edit an order (only the fields given); absolute values, so safe to repeat."""
        data = form_fields(order=dict(order), by=by if by != "externalId" else None, site=self._site(site))
        body = await self._call(
            "POST", f"/orders/{uid}/edit", data=data, idempotent=True, endpoint="/orders/{uid}/edit"
        )
        return dict(body.get("order") or {"id": body.get("id")})

    async def upload_orders(self, orders: Sequence[Mapping[str, Any]], *, site: str | None = None) -> BatchResult:
        """Create up to 50 orders in one call; HTTP 460 (partial failure) is reported, not raised."""
        if len(orders) > ORDER_BATCH:
            raise ValueError(f"at most {ORDER_BATCH} orders per upload, got {len(orders)}")
        repeatable = all(o.get("externalId") for o in orders)
        body = await self._call(
            "POST",
            "/orders/upload",
            data=form_fields(orders=list(orders), site=self._site(site)),
            idempotent=repeatable,
        )
        return BatchResult(
            uploaded=list(body.get("uploadedOrders") or []),
            failed=list(body.get("failedOrders") or []),
            errors=error_texts(body.get("errors")),
        )

    async def fix_external_ids(self, pairs: Sequence[Mapping[str, Any]]) -> None:
        """Set ``externalId`` on orders by CRM ``id`` (``[{id, externalId}]``)."""
        await self._call("POST", "/orders/fix-external-ids", data=form_fields(orders=list(pairs)), idempotent=True)

    async def order_statuses(self, ids: Sequence[int] = (), external_ids: Sequence[str] = ()) -> list[dict[str, Any]]:
        """``[{id, externalId, status, group}]`` for the given orders (one cheap call)."""
        body = await self._call("GET", "/orders/statuses", params=query(ids=list(ids), externalIds=list(external_ids)))
        return list(body.get("orders") or [])

    def iter_order_history(self, since_id: int | None = None, *, skip_own: bool = True) -> HistoryPages:
        """Order history after ``since_id``, paged by ``filter[sinceId]``, own-key records skipped
        unless ``skip_own`` is False.

        The returned iterator's ``last_id`` is the cursor to persist (it advances over skipped
        records too); the client's ``last_history_id`` mirrors it.
        """
        return HistoryPages(self, "/orders/history", since_id, mirror="last_history_id", skip_own=skip_own)

    async def order_history_from(self, start: str | None) -> tuple[list[dict[str, Any]], bool]:
        """The first page of order history from ``start`` (account-local ``Y-m-d H:i:s``), and whether
        more follows: the official way in — ``startDate`` once, then ``sinceId`` (crm.md A.4)."""
        body = await self._call(
            "GET", "/orders/history", params=query({"startDate": start}, limit=PAGE_LIMIT), endpoint="/orders/history"
        )
        more = int((body.get("pagination") or {}).get("totalPageCount") or 1) > 1
        return list(body.get("history") or []), more

    async def order_history_head(self) -> int:
        """The id of the newest order history record (0: no history yet): where reading "from now
        on" starts. Two requests at most: page 1 tells the page count, the last page the newest id."""
        body = await self._call("GET", "/orders/history", params=query(None, limit=PAGE_LIMIT))
        pages = int((body.get("pagination") or {}).get("totalPageCount") or 1)
        if pages > 1:
            body = await self._call("GET", "/orders/history", params=query(None, limit=PAGE_LIMIT, page=pages))
        return max((int(r["id"]) for r in body.get("history") or []), default=0)

    # -- customers -----------------------------------------------------------------------------
    async def get_customer(self, uid: str | int, *, by: str = "externalId", site: str | None = None) -> dict[str, Any]:
        params = query(by=by if by != "externalId" else None, site=self._site(site))
        body = await self._call("GET", f"/customers/{uid}", params=params, endpoint="/customers/{uid}")
        return dict(body["customer"])

    def iter_customers(self, filters: Mapping[str, Any] | None = None) -> AsyncIterator[list[dict]]:
        return self._pages("/customers", "customers", filters)

    async def create_customer(self, customer: Mapping[str, Any], *, site: str | None = None) -> int:
        """Create a customer; returns its CRM id."""
        data = form_fields(customer=dict(customer), site=self._site(site))
        body = await self._call("POST", "/customers/create", data=data)
        return int(body["id"])

    async def edit_customer(
        self, uid: str | int, customer: Mapping[str, Any], *, by: str = "externalId", site: str | None = None
    ) -> int:
        data = form_fields(customer=dict(customer), by=by if by != "externalId" else None, site=self._site(site))
        body = await self._call(
            "POST", f"/customers/{uid}/edit", data=data, idempotent=True, endpoint="/customers/{uid}/edit"
        )
        return int(body["id"])

    async def customer_history_head(self) -> int:
        """The id of the newest customer history record (0: none yet), as :meth:`order_history_head`."""
        body = await self._call("GET", "/customers/history", params=query(None, limit=PAGE_LIMIT))
        pages = int((body.get("pagination") or {}).get("totalPageCount") or 1)
        if pages > 1:
            body = await self._call("GET", "/customers/history", params=query(None, limit=PAGE_LIMIT, page=pages))
        return max((int(r["id"]) for r in body.get("history") or []), default=0)

    def iter_customer_history(self, since_id: int | None = None) -> HistoryPages:
        """Customer history after ``since_id`` (same rules as :meth:`iter_order_history`)."""
        return HistoryPages(self, "/customers/history", since_id)

    # -- payments ------------------------------------------------------------------------------
    async def create_payment(self, payment: Mapping[str, Any], *, site: str | None = None) -> int:
        """Add a payment to an order (``payment.order = {id|externalId}``); returns its id."""
        data = form_fields(payment=dict(payment), site=self._site(site))
        body = await self._call(
            "POST", "/orders/payments/create", data=data, idempotent=payment.get("externalId") is not None
        )
        return int(body["id"])

    async def edit_payment(
        self, uid: str | int, payment: Mapping[str, Any], *, by: str = "externalId", site: str | None = None
    ) -> int:
        data = form_fields(payment=dict(payment), by=by if by != "externalId" else None, site=self._site(site))
        body = await self._call(
            "POST", f"/orders/payments/{uid}/edit", data=data, idempotent=True, endpoint="/orders/payments/{uid}/edit"
        )
        return int(body["id"])
