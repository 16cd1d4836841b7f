"""Orders, customers and payments methods of :class:`~connectors.retailcrm.client.RetailCRMClient`.

A mixin only to keep modules short: it relies on the client's ``_call``, ``_pages`` and ``_site``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from connectors.http import RequestValidationError
from connectors.retailcrm.history import HistoryPages
from connectors.retailcrm.wire import ORDER_BATCH, PAGE_LIMIT, BatchResult, error_texts, form_fields, query


class OrdersAPI:
    """``orders/*``, ``orders/payments/*``, ``customers/*`` and both histories."""

    if TYPE_CHECKING:
        site: str | None
        last_history_id: int | None

        def _site(self, site: str | None) -> str | None: ...

        async def _call(
            self,
            method: str,
            path: str,
            *,
            params: Any = None,
            data: Mapping[str, str] | None = None,
            idempotent: bool | None = None,
            endpoint: str | None = None,
        ) -> dict[str, Any]: ...

        def _pages(self, path: str, key: str, filters: Mapping[str, Any] | None) -> AsyncIterator[list[dict]]: ...

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
