"""retailCRM as the hub sees it: a channel that loads the catalog from an ICML feed and takes stock
and prices in batches of 250 offers, referenced by ``xmlId`` (= the source's offer id).

A thin layer over :class:`~connectors.retailcrm.client.RetailCRMClient`, :mod:`.convert` and
:mod:`.catalog_feed`. It also checks the account's own settings before anything is written: a
``site`` the account does not have would make every upload fail with HTTP 400.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

import connectors.retailcrm.convert.catalog as convert
from connectors.retailcrm.client import RetailCRMClient
from connectors.retailcrm.convert.catalog_feed import icml_categories, icml_offers
from connectors.retailcrm.convert.icml import IcmlOffer, write_icml
from connectors.retailcrm.settings import RetailCRMSettings
from hub.capabilities import ChannelReference, Delivery, Entry, FeedSlice
from hub.systems import SecretResolver


def offer_ref(entry: Mapping[str, Any]) -> str:
    """The offer an upload entry (or a ``notFoundOffers`` item) names: ``xmlId``, else ``externalId``/``id``."""
    return str(entry.get("xmlId") or entry.get("externalId") or entry.get("id"))


def _active(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [r for r in rows if r.get("active", True)]


def _site(sites: Mapping[str, Any], code: str | None) -> Mapping[str, Any]:
    """The integration's site (the only one when the key covers one)."""
    found: Mapping[str, Any] = sites.get(code or next(iter(sites), ""), {})
    return found


def site_problems(configured: str | None, sites: Mapping[str, Any]) -> list[str]:
    """What is wrong with the ``site`` setting for an account with these sites."""
    if configured is not None and configured not in sites:
        return [f"site {configured!r} is not a site of this retailCRM account; its sites: {sorted(sites)}"]
    if configured is None and len(sites) > 1:
        return [f"the API key covers several sites {sorted(sites)}: set site to the one to publish to"]
    return []


class _Channel:
    """What every retailCRM capability shares: the client, the batch size, how entries are named."""

    def __init__(self, client: RetailCRMClient | None, settings: RetailCRMSettings) -> None:
        self._client = client  # None while a task only plans
        self.settings = settings
        self.max_batch = settings.batch_size

    @property
    def client(self) -> RetailCRMClient:
        if self._client is None:
            raise RuntimeError("this retailCRM capability was opened for planning: it cannot send")
        return self._client

    @classmethod
    def over(cls, client: RetailCRMClient | None, settings: RetailCRMSettings) -> Any:
        return cls(client, settings)

    def ref(self, entry: Entry) -> str:
        return offer_ref(entry)

    async def channel_reference(self, *, with_catalog_stamp: bool = False) -> ChannelReference:
        crm = self.client
        stores, price_types, sites = await asyncio.gather(
            crm.reference("stores"), crm.reference("price-types"), crm.sites()
        )
        types = list(price_types.values()) if isinstance(price_types, dict) else list(price_types)
        site = _site(sites, crm.site)
        return ChannelReference(
            warehouses=[str(s["code"]) for s in _active(stores if isinstance(stores, list) else [])],
            price_types={str(p["code"]): bool(p.get("default")) for p in _active(types)},
            catalog_stamp=site.get("catalogUpdatedAt") if with_catalog_stamp else None,
            problems=site_problems(crm.site, sites),
        )

    async def check_access(self) -> str:
        # the sites the key covers: one request, and the configured site checked with it
        sites = await self.client.sites()
        problems = site_problems(self.client.site, sites)
        if problems:
            raise ValueError(problems[0])
        return f"signed in; sites {sorted(sites)}"

    @staticmethod
    def _delivery(processed: int, not_found: Iterable[Mapping[str, Any]]) -> Delivery:
        return Delivery(processed, frozenset(offer_ref(o) for o in not_found))


class RetailCRMStock(_Channel):
    """``StockSink``: ``store/inventories/upload``, absolute quantities per warehouse code."""

    whole_units = False  # ``available`` is a number: weighed goods keep their fraction

    def stock_entries(self, stock: pd.DataFrame) -> list[Entry]:
        codes = {str(code): str(code) for code in stock["store_id"].dropna().unique()}
        return convert.stock_to_inventories(stock, store_map=codes)

    async def send(self, entries: Sequence[Entry]) -> Delivery:
        answer = await self.client.upload_inventories(entries)
        return self._delivery(answer.processed, answer.not_found)


class RetailCRMPrices(_Channel):
    """``PriceSink``: ``store/prices/upload``, per price type code, for the configured site."""

    def price_entries(self, prices: pd.DataFrame, price_types: Mapping[str, str]) -> list[Entry]:
        return convert.prices_to_upload(prices, price_type_map=price_types, site=self.settings.site)

    async def send(self, entries: Sequence[Entry]) -> Delivery:
        answer = await self.client.upload_prices(entries)
        return self._delivery(answer.processed, answer.not_found)


class RetailCRMFeed(_Channel):
    """``CatalogFeedSink``: the ICML feed the CRM loads from its site's catalog URL."""

    def feed_items(self, part: FeedSlice) -> Iterator[IcmlOffer]:
        return icml_offers(
            part.offers,
            products=part.products,
            prices=part.prices,
            price_type_id=part.main_price_type,
            purchase_prices=part.purchase_prices,
            stock=part.stock,
            images=part.images,
        )

    def write_feed(
        self, path: Path, *, shop_name: str, company: str, categories: pd.DataFrame, items: Iterable[Any]
    ) -> int:
        return write_icml(
            path, shop_name=shop_name, company=company, categories=icml_categories(categories), offers=items
        )

    async def catalog_stamp(self) -> str | None:
        return _site(await self.client.sites(), self.client.site).get("catalogUpdatedAt")

    async def knows_offers(self, offer_ids: Sequence[str]) -> bool:
        filters: dict[str, Any] = {"xmlIds": list(offer_ids)}
        if self.client.site:
            filters["sites"] = [self.client.site]
        async for page in self.client.iter_offers(filters):
            return bool(page)
        return False


def retailcrm_client(settings: RetailCRMSettings, secret: SecretResolver) -> RetailCRMClient:
    """A client for the account (10 rps shared per key); the key resolved here."""
    api_key = secret(settings.api_key)
    assert api_key is not None  # the settings require it
    return RetailCRMClient(str(settings.base_url).rstrip("/"), api_key=api_key, site=settings.site)
