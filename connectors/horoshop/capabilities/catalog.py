"""Horoshop as a ``CatalogSource``: the storefront's catalog for the CRM's ICML feed.

``catalog/export`` pages hold at most 500 products and say nothing of the catalog's size, which the
full import needs from the first page to plan the rest. So the first page reads on to the end (a
short page ends it) and reports the size; the later pages come from what it read, without a
request: the catalog costs ⌈N / 500⌉ requests (one more when N is a multiple of 500), the minimum.
Pictures ride in the products (public gallery links), so ``pictures`` sends nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

import connectors.horoshop.convert.catalog as convert
from connectors.horoshop.capabilities.orders import HoroshopOrders
from connectors.horoshop.wire.limits import CATALOG_PAGE
from hub import model
from hub.capabilities import CatalogPage, ImageOwner


class HoroshopCatalog(HoroshopOrders):
    """The shop's catalog, reference books and pictures."""

    page_size = CATALOG_PAGE
    pictures_hint = ""

    def __init__(self, client: Any, settings: Any) -> None:
        super().__init__(client, settings)
        self._pages: dict[int, list[dict[str, Any]]] = {}
        self._size: int | None = None

    async def reference(self) -> dict[str, pd.DataFrame]:
        pages = await self.client.dictionary("pages/export", "pages")
        money = await self.client.dictionary("currency/export", "currencies")
        return {
            "currencies": convert.currencies(money),
            "price_types": convert.price_types(),
            "stores": model.empty_frame("stores"),
            "organizations": model.empty_frame("organizations"),
            "characteristics": model.empty_frame("characteristics"),
            "categories": convert.categories(pages),
        }

    async def _read_all(self) -> int:
        offset = 0
        async for rows in self.client.iter_catalog(limit=CATALOG_PAGE):
            self._pages[offset] = rows
            offset += CATALOG_PAGE
        self._size = sum(len(rows) for rows in self._pages.values())
        return self._size

    async def catalog_page(self, offset: int) -> CatalogPage:
        if self._size is None or offset == 0:
            self._pages.clear()
            await self._read_all()
        rows = self._pages.get(offset, [])
        frames = convert.catalog_frames(rows)
        owners = [ImageOwner(str(r["article"]), str(len(r.get("images") or [])), r) for r in rows if r.get("images")]
        return CatalogPage(frames, self._size or 0, [str(r["article"]) for r in rows if r.get("article")], owners)

    async def pictures(self, owners: Sequence[ImageOwner]) -> pd.DataFrame:
        return convert.images([o.ref for o in owners if isinstance(o.ref, dict)])
