"""Writes of the MoySklad client: counterparties, customer orders, documents and webhooks.

POSTs are repeated after a lost response only when every object carries a ``syncId`` (MoySklad
then returns the object already created instead of a duplicate) or is an update by ``meta`` (its
fields are absolute values). Bulk results are surfaced item
by item (:class:`BulkItemResult`); a webhook is created only if the same one does not exist, and
only webhooks under the hub's own URL prefix are ever deleted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.moysklad.client_base import IDS_PER_FILTER, MoySkladBase, moscow_filter
from connectors.moysklad.limits import MAX_ARRAY_ITEMS
from connectors.moysklad.meta import Json


@dataclass(frozen=True)
class BulkItemResult:
    """One item of a bulk POST: the saved entity, or MoySklad's errors for it.

    Attributes:
        index: position in the request.
        entity: the saved object (None on error).
        errors: the item's ``errors`` list (empty on success).
    """

    index: int
    entity: Json | None
    errors: list[Json] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the item was saved."""
        return self.entity is not None and not self.errors


class DocumentsMixin(MoySkladBase):
    """Write operations of :class:`~connectors.moysklad.client.MoySkladClient`."""

    async def _post(self, path: str, body: Any, params: Mapping[str, str] | None = None) -> Any:
        items = body if isinstance(body, list) else [body]
        idempotent = all(isinstance(i, dict) and (i.get("syncId") or (i.get("meta") or {}).get("href")) for i in items)
        response = await self.request("POST", path, json=body, params=dict(params or {}), idempotent=idempotent)
        return response.json()

    async def _put(self, path: str, body: Json) -> Json:
        return dict((await self.request("PUT", path, json=body)).json())

    async def bulk_create(
        self, entity: str, payloads: Sequence[Json], *, expand: str | None = None
    ) -> list[BulkItemResult]:
        """POST arrays of ≤ 1000 objects (with ``meta``: an update, without: a create); one result
        per payload, in order. ``expand`` applies to the saved objects in the answer."""
        results: list[BulkItemResult] = []
        for start in range(0, len(payloads), MAX_ARRAY_ITEMS):
            chunk = list(payloads[start : start + MAX_ARRAY_ITEMS])
            answer = await self._post(f"/entity/{entity}", chunk, {"expand": expand} if expand else None)
            for offset, item in enumerate(answer):
                errors = item.get("errors") if isinstance(item, dict) else [{"error": "unexpected item"}]
                results.append(BulkItemResult(start + offset, None if errors else item, list(errors or [])))
        return results

    async def filter_any(
        self, entity: str, field: str, values: Sequence[str], *, per_request: int = IDS_PER_FILTER
    ) -> list[Json]:
        """Rows of ``entity`` whose ``field`` equals one of ``values`` (exact match, as MoySklad's
        ``=`` filter is): ``field=a;field=b`` ORs, so one request asks for up to ``per_request``
        values (the URL stays well under the 8 KB limit)."""
        rows: list[Json] = []
        unique = list(dict.fromkeys(v for v in values if v))
        for start in range(0, len(unique), per_request):
            flt = ";".join(f"{field}={_escape(v)}" for v in unique[start : start + per_request])
            rows.extend(await self.collect(f"/entity/{entity}", {"filter": flt}))
        return rows

    # -- counterparties ------------------------------------------------------------------------
    async def find_counterparty(
        self, *, phone: str | None = None, email: str | None = None, inn: str | None = None
    ) -> list[Json]:
        """Counterparties matching the first of ``inn``, ``email``, ``phone`` that finds any."""
        for name, value in (("inn", inn), ("email", email), ("phone", phone)):
            if value:
                rows = await self.collect("/entity/counterparty", {"filter": f"{name}={_escape(value)}"})
                if rows:
                    return rows
        return []

    async def create_counterparty(self, payload: Json) -> Json:
        """Create a counterparty (``accounts`` and ``contactpersons`` may ride along)."""
        return dict(await self._post("/entity/counterparty", payload))

    # -- customer orders -----------------------------------------------------------------------
    async def create_order(self, payload: Json) -> Json:
        """Create one customer order (idempotent when it has a ``syncId``)."""
        return dict(await self._post("/entity/customerorder", payload))

    async def create_orders(self, payloads: Sequence[Json]) -> list[BulkItemResult]:
        """Bulk-create customer orders; per-item errors are returned, not raised."""
        return await self.bulk_create("customerorder", payloads)

    async def list_states(self) -> list[Json]:
        """Customer-order states (``entity/customerorder/metadata`` → ``states``)."""
        return list((await self.get_json("/entity/customerorder/metadata")).get("states", []))

    async def update_order_state(self, order_id: str, state_id: str) -> Json:
        """Set an order's state."""
        state = {
            "meta": {
                "href": self.href(f"entity/customerorder/metadata/states/{state_id}"),
                "type": "state",
                "mediaType": "application/json",
            }
        }
        return await self._put(f"/entity/customerorder/{order_id}", {"state": state})

    async def update_order_positions(self, order_id: str, positions: list[Json]) -> Json:
        """Replace an order's positions (matching ``id`` updates, missing ones are deleted)."""
        return await self._put(f"/entity/customerorder/{order_id}", {"positions": positions})

    async def get_order(self, order_id: str, *, expand: str | None = "positions") -> Json:
        """One order, positions expanded by default."""
        return dict(await self.get_json(f"/entity/customerorder/{order_id}", {"expand": expand} if expand else None))

    def iter_orders(
        self, updated_since: datetime | None = None, *, expand: str | None = None
    ) -> AsyncIterator[list[Json]]:
        """Pages of customer orders changed at or after ``updated_since`` (overlap windows and dedupe)."""
        params: dict[str, Any] = {}
        if updated_since is not None:
            params["filter"] = f"updated>={moscow_filter(updated_since)}"
        if expand:
            params["expand"] = expand
        return self.iter_pages("/entity/customerorder", params)

    # -- other documents -----------------------------------------------------------------------
    async def create_demand(self, payload: Json) -> Json:
        """Create a shipment (link the order with ``customerOrder``)."""
        return dict(await self._post("/entity/demand", payload))

    async def create_move(self, payload: Json) -> Json:
        """Create a transfer between stores."""
        return dict(await self._post("/entity/move", payload))

    async def create_paymentin(self, payload: Json) -> Json:
        """Create an incoming bank payment (``operations`` link it to the order)."""
        return dict(await self._post("/entity/paymentin", payload))

    async def create_cashin(self, payload: Json) -> Json:
        """Create a cash receipt."""
        return dict(await self._post("/entity/cashin", payload))

    async def create_salesreturn(self, payload: Json) -> Json:
        """Create a customer return (link the shipment with ``demand``)."""
        return dict(await self._post("/entity/salesreturn", payload))

    async def create_purchasereturn(self, payload: Json) -> Json:
        """Create a return to the supplier (link the receipt with ``supply``)."""
        return dict(await self._post("/entity/purchasereturn", payload))

    # -- webhooks -------------------------------------------------------------------------------
    async def list_webhooks(self, kind: str = "webhook") -> list[Json]:
        """Every ``webhook`` (or ``webhookstock``) visible to this credential."""
        return await self.collect(f"/entity/{kind}")

    async def ensure_webhook(self, url: str, entity_type: str, action: str, diff_type: str | None = None) -> Json:
        """The webhook (url, entityType, action), created only if it does not exist yet."""
        wanted = {"url": url, "entityType": entity_type, "action": action}
        return await self._ensure("webhook", wanted, {"diffType": diff_type} if diff_type else {})

    async def ensure_webhookstock(self, url: str, report_type: str = "all", stock_type: str = "stock") -> Json:
        """The stock webhook (url, reportType, stockType), created only if missing."""
        return await self._ensure("webhookstock", {"url": url, "reportType": report_type, "stockType": stock_type}, {})

    async def _ensure(self, kind: str, wanted: Mapping[str, str], extra: Json) -> Json:
        for hook in await self.list_webhooks(kind):
            if all(hook.get(k) == v for k, v in wanted.items()):
                if hook.get("enabled") is False:
                    return await self._put(f"/entity/{kind}/{hook['id']}", {"enabled": True})
                return hook
        return dict(await self._post(f"/entity/{kind}", {**wanted, **extra, "enabled": True}))

    async def create_webhook(self, kind: str, fields: Mapping[str, str]) -> Json:
        """Create one ``webhook`` or ``webhookstock``, enabled (no existence check: see :meth:`_ensure`)."""
        return dict(await self._post(f"/entity/{kind}", {**fields, "enabled": True}))

    async def enable_webhook(self, kind: str, hook_id: str) -> Json:
        """Switch a disabled webhook (e.g. one MoySklad turned off after failures) on again."""
        return await self._put(f"/entity/{kind}/{hook_id}", {"enabled": True})

    async def delete_webhook(self, kind: str, hook_id: str) -> None:
        """Delete one webhook by id (callers check first that it is the hub's own)."""
        await self.request("DELETE", f"/entity/{kind}/{hook_id}")

    async def delete_own_webhooks(self, prefix: str) -> int:
        """Delete the webhooks (and stock webhooks) whose URL starts with ``prefix``; others stay."""
        if not prefix.startswith(("http://", "https://")):
            raise ValueError("prefix must be an absolute URL of the hub's own receiver")
        deleted = 0
        for kind in ("webhook", "webhookstock"):
            for hook in await self.list_webhooks(kind):
                if str(hook.get("url", "")).startswith(prefix):
                    await self.request("DELETE", f"/entity/{kind}/{hook['id']}")
                    deleted += 1
        return deleted


def _escape(value: str) -> str:
    """Escape ``;`` in a filter value."""
    return value.replace(";", "\\;")
