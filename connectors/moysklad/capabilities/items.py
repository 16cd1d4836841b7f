"""MoySklad as the hub's ``ItemBook``: an item an order names, found by article or code, else created.

A channel's one-time product (a line with no catalog offer behind it) becomes a MoySklad product
named as the line is (its properties after commas) with the channel's SKU as its ``article`` or
``code``. Found first by that field (one ``filter`` request per hundred keys), then created in one
bulk POST with a ``syncId`` derived from the hub's key: a retried create answers the product
created the first time, so an item is never made twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from connectors.moysklad.capabilities.catalog import OverClient
from connectors.moysklad.capabilities.customers import RETRYABLE_CODES
from connectors.moysklad.convert.orders import sync_id_for
from connectors.moysklad.wire.meta import Json
from hub.capabilities import NewItem, OrderOutcome


class MoySkladItems(OverClient):
    """``ItemBook`` over one MoySklad account."""

    async def items_for(
        self, items: Sequence[NewItem], key_field: str, keys: Mapping[str, str]
    ) -> dict[str, OrderOutcome]:
        if not items:
            return {}
        wanted = {item.key: item for item in items}
        found = await self.client.filter_any("product", key_field, list(wanted))
        out = {
            str(row[key_field]): OrderOutcome(keys.get(str(row[key_field]), ""), erp_id=str(row["id"]))
            for row in found
            if str(row.get(key_field)) in wanted
        }
        missing = [item for key, item in wanted.items() if key not in out]
        payloads: list[Json] = [
            {"name": item.name[:255], key_field: item.key, "syncId": sync_id_for(keys[item.key])} for item in missing
        ]
        results = await self.client.bulk_create("product", payloads) if payloads else []
        for item, result in zip(missing, results, strict=True):
            if result.entity is not None:
                out[item.key] = OrderOutcome(keys[item.key], erp_id=str(result.entity["id"]))
            else:
                codes = {int(e.get("code") or 0) for e in result.errors}
                why = "; ".join(str(e.get("error")) for e in result.errors)
                out[item.key] = OrderOutcome(keys[item.key], error=why, retryable=bool(codes & RETRYABLE_CODES))
        return out
