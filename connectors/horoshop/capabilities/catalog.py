"""Horoshop as a ``CatalogSource``: the storefront's catalog for the CRM's ICML feed.

``catalog/export`` pages hold at most 500 products and say nothing of the catalog's size, which the
full import needs from the first page to plan the rest. So the first page reads on to the end (a
short page ends it) and reports the size; the later pages — read by other tasks, in other threads —
come from what it read (kept per shop and admin for half an hour), without a request: the catalog
costs ⌈N / 500⌉ requests (one more when N is a multiple of 500), the minimum.
Pictures ride in the products (public gallery links), so ``pictures`` sends nothing.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from typing import Any

import pandas as pd

import connectors.horoshop.convert.catalog as convert
from connectors.horoshop.capabilities.orders import HoroshopOrders
from connectors.horoshop.wire.limits import CATALOG_PAGE
from hub import model
from hub.capabilities import CatalogPage, ImageOwner

#: catalogs read by a first page, per (shop, admin): the full import reads its later pages in other
#: tasks (threads, each with its own capability), which take them from here instead of reading again
_READ: dict[tuple[str, str], tuple[float, dict[int, list[dict[str, Any]]]]] = {}
_READ_LOCK = threading.Lock()
#: how long a read serves later pages (a full import's pages follow its first within minutes)
READ_KEPT_SECONDS = 1800.0


class HoroshopCatalog(HoroshopOrders):
    """The shop's catalog, reference books and pictures."""

    page_size = CATALOG_PAGE
    pictures_hint = ""

    def __init__(self, client: Any, settings: Any) -> None:
        super().__init__(client, settings)
        self._reading = asyncio.Lock()

    @property
    def _key(self) -> tuple[str, str]:
        return (str(self.settings.base_url), str(self.settings.login))

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

    async def _read_all(self) -> dict[int, list[dict[str, Any]]]:
        pages: dict[int, list[dict[str, Any]]] = {}
        offset = 0
        async for rows in self.client.iter_catalog(limit=CATALOG_PAGE):
            pages[offset] = rows
            offset += CATALOG_PAGE
        with _READ_LOCK:
            _READ[self._key] = (time.monotonic(), pages)
        return pages

    def _kept(self) -> dict[int, list[dict[str, Any]]] | None:
        with _READ_LOCK:
            found = _READ.get(self._key)
        return found[1] if found and time.monotonic() - found[0] < READ_KEPT_SECONDS else None

    async def catalog_page(self, offset: int) -> CatalogPage:
        """Page 0 reads the whole catalog afresh (a new pass); later pages come from that read."""
        async with self._reading:  # concurrent pages of one task share one read
            pages = None if offset == 0 else self._kept()
            if pages is None:
                pages = await self._read_all()
        rows = pages.get(offset, [])
        size = sum(len(r) for r in pages.values())
        frames = convert.catalog_frames(rows)
        owners = [ImageOwner(str(r["article"]), str(len(r.get("images") or [])), r) for r in rows if r.get("images")]
        return CatalogPage(frames, size, [str(r["article"]) for r in rows if r.get("article")], owners)

    async def pictures(self, owners: Sequence[ImageOwner]) -> pd.DataFrame:
        return convert.images([o.ref for o in owners if isinstance(o.ref, dict)])
