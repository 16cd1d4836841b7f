"""MoySklad's ``Lookup``: does a counterparty, an order or an assortment item exist (one request)."""

from __future__ import annotations

import re

from connectors.http import NotFoundError
from connectors.moysklad.capabilities.catalog import OverClient
from connectors.moysklad.client import ASSORTMENT_HEADER, BOTH_ARCHIVED

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
#: the entity a link's kind is in MoySklad
ENTITIES = {"customers": "counterparty", "orders": "customerorder"}


class MoySkladLookup(OverClient):
    """``Lookup`` over one MoySklad account."""

    async def exists(self, kind: str, external_id: str) -> bool:
        if kind not in (*ENTITIES, "offers"):
            raise ValueError(f"MoySklad keeps no {kind}")
        if not _UUID.fullmatch(external_id):
            return False  # every MoySklad id is a UUID: nothing to ask
        if kind == "offers":
            # products, variants, services and bundles alike, archived ones too: one filtered page
            page = await self.client.get_json(
                "/entity/assortment",
                {"filter": f"id={external_id};{BOTH_ARCHIVED}", "limit": 1},
                headers=ASSORTMENT_HEADER,
            )
            return bool(page.get("rows"))
        try:
            await self.client.get_json(f"/entity/{ENTITIES[kind]}/{external_id}")
        except NotFoundError:
            return False
        return True
