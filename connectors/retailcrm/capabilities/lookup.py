"""retailCRM's ``Lookup``: does a customer, an order or an offer exist (one request), by the CRM's ``id``
(what the hub's canonical frames carry for its customers and orders)."""

from __future__ import annotations

from connectors.http import NotFoundError
from connectors.retailcrm.capabilities.catalog import _Channel


class RetailCRMLookup(_Channel):
    """``Lookup`` over one retailCRM account (its ``site`` when configured)."""

    async def exists(self, kind: str, external_id: str) -> bool:
        if kind not in ("customers", "orders", "offers"):
            raise ValueError(f"retailCRM keeps no {kind}")
        if not external_id.isdigit():
            return False  # the CRM's ids are numbers: nothing to ask
        if kind == "offers":
            async for page in self.client.iter_offers({"ids": [int(external_id)]}):
                return bool(page)
            return False
        try:
            if kind == "customers":
                await self.client.get_customer(external_id, by="id")
            else:
                await self.client.get_order(external_id, by="id")
        except NotFoundError:
            return False
        return True
