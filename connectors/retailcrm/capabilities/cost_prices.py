"""retailCRM order lines' cost prices (``items[].purchasePrice``) as the hub's ``CostPriceSink``.

The orders are read 100 a request (``orders?filter[ids][]``), and only the orders with a line to
change are edited, one ``orders/{id}/edit?by=id`` each (v5 has no batch edit), naming each of its
items by ``id`` so retailCRM updates those items instead of replacing them. A line is matched by its
offer's ``xmlId`` (the ERP id our catalog feed gave it); a line that has a cost price keeps it unless
``overwrite``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from connectors.http import NotFoundError, RequestValidationError
from connectors.retailcrm.capabilities.orders import EDITS_IN_FLIGHT, RetailCRMOrders


class RetailCRMCostPrices(RetailCRMOrders):
    """``CostPriceSink`` over one retailCRM account."""

    async def set_cost_prices(self, prices: Mapping[str, Mapping[str, int]], *, overwrite: bool) -> dict[str, str]:
        found = {str(o["id"]): o for o in await self._orders_by_id(list(prices))}
        refused = {oid: f"order {oid} is not in retailCRM" for oid in prices if oid not in found}
        edits: dict[str, list[dict[str, Any]]] = {}
        for oid, costs in prices.items():
            items = (found.get(oid) or {}).get("items") or []
            changed = False
            rows = []
            for item in items:
                cost = costs.get(str((item.get("offer") or {}).get("xmlId")))
                row = {"id": item["id"]}
                if cost is not None and (overwrite or not item.get("purchasePrice")):
                    row["purchasePrice"] = float(Decimal(int(cost)).scaleb(-2))
                    changed = changed or item.get("purchasePrice") != row["purchasePrice"]
                rows.append(row)
            if changed:
                edits[oid] = rows
        gate = asyncio.Semaphore(EDITS_IN_FLIGHT)

        async def edit(oid: str, items: list[dict[str, Any]]) -> None:
            async with gate:
                try:
                    await self.client.edit_order(oid, {"items": items}, by="id")
                except (RequestValidationError, NotFoundError) as exc:
                    refused[oid] = exc.message

        await asyncio.gather(*(edit(oid, items) for oid, items in edits.items()))
        return refused
