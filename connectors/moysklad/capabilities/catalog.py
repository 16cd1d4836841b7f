"""MoySklad as the hub sees it: a catalog source and a stock source, in canonical frames.

A thin layer over :class:`~connectors.moysklad.client.MoySkladClient` and :mod:`.convert`: the
tasks ask for pages, pictures and stock; the wire (1000-row ``entity/assortment`` pages, images
by ``expand`` or per owner, one ``report/stock/bystore/current``) stays here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Self

import pandas as pd

import connectors.moysklad.convert.catalog as convert
from connectors.moysklad.client import MoySkladClient
from connectors.moysklad.settings import MoySkladSettings
from hub.capabilities import CatalogPage, ImageOwner, Picture
from hub.systems import SecretResolver

#: rows per assortment page: the most the API gives (fewer requests)
PAGE = 1000


def _has_images(row: Mapping[str, Any]) -> bool:
    return int(((row.get("images") or {}).get("meta") or {}).get("size", 0) or 0) > 0


class OverClient:
    """What every MoySklad capability holds: the account's client, None while a task only plans."""

    def __init__(self, client: MoySkladClient | None) -> None:
        self._client = client  # None while a task only plans

    @classmethod
    def over(cls, client: MoySkladClient | None, settings: MoySkladSettings) -> Self:
        return cls(client)

    @property
    def client(self) -> MoySkladClient:
        if self._client is None:
            raise RuntimeError("this MoySklad capability was opened for planning: it cannot read or send")
        return self._client


class MoySkladSide(OverClient):
    """One account, opened for one task: implements ``CatalogSource`` (and ``PictureSource``),
    ``StockSource`` and ``Reachable``."""

    page_size = PAGE
    pictures_hint = "MoySklad gives permanent image links on paid tariffs only"

    #: ``changedSince`` may reach 24 hours back (a margin kept for clock skew)
    changes_window = timedelta(hours=23, minutes=50)

    async def reference(self) -> dict[str, pd.DataFrame]:
        ms = self.client
        folders: list[dict[str, Any]] = []
        async for page in ms.iter_product_folders():
            folders.extend(page)
        currencies = await ms.list_currencies()
        price_types = await ms.list_price_types()
        stores = await ms.list_stores()
        organizations = await ms.list_organizations()
        characteristics = await ms.variant_characteristics()
        return {
            "currencies": convert.currencies_to_frame(currencies),
            "price_types": convert.price_types_to_frame(price_types),
            "stores": convert.stores_to_frame(stores),
            "organizations": convert.organizations_to_frame(organizations),
            "characteristics": convert.characteristics_to_frame(characteristics),
            "categories": convert.folders_to_frame(folders),
        }

    async def catalog_page(self, offset: int) -> CatalogPage:
        rows, size = await self.client.assortment_page(offset, PAGE)
        owners = [ImageOwner(str(r["id"]), str(r.get("updated")), r) for r in rows if _has_images(r)]
        return CatalogPage(convert.assortment_to_frames(rows), size, [str(r.get("id")) for r in rows], owners)

    async def pictures(self, owners: Sequence[ImageOwner]) -> pd.DataFrame:
        return convert.images_to_frame(await self.client.fetch_images([o.ref for o in owners]))

    async def picture(self, download_url: str) -> Picture:
        # any tariff: the authenticated download answers a temporary link (one request, weight 1)
        content, media_type = await self.client.download_image(download_url)
        return Picture(content, media_type)

    async def bundle_components(self) -> pd.DataFrame:
        # once per full import: a bundle's make-up changes rarely, and the read is cheap (100 a page)
        return convert.bundle_components_to_frame(await self.client.bundle_components())

    async def check_access(self) -> str:
        # the sale price types: one light request every account and role may make
        price_types = await self.client.list_price_types()
        return f"signed in; {len(price_types)} price types"

    async def current_stock(self, measure: str, changed_since: datetime | None = None) -> pd.DataFrame:
        # a whole read asks for non-zero rows only: every published offer gets every mapped
        # warehouse, zero by default, so zero lines would only make the one big (unpaged) response
        # bigger. A changed-since read always has its zeros (a sold-out item must reach the channel).
        levels = await self.client.stock_levels(
            "bystore", stock_type=measure, changed_since=changed_since, include_zero=False
        )
        return convert.stock_levels_to_frame(levels, measure)


def moysklad_client(settings: MoySkladSettings, secret: SecretResolver) -> MoySkladClient:
    """A client for the account (its budget is shared per credential); secrets resolved here."""
    return MoySkladClient(
        str(settings.base_url).rstrip("/"),
        token=secret(settings.token),
        login=settings.login,
        password=secret(settings.password),
        token_kind=settings.token_kind,
    )
