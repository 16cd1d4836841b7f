"""The full import flow runs unchanged between any two systems that implement the capabilities.

A made-up stock system and a made-up shop, each a few dozen lines over in-memory data, registered
as connectors: the real flow, the real store and the real publish pipeline move the catalog, stock
and prices between them, re-send what the shop did not know once it loaded the feed, and send
nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pytest

from hub import model
from hub.capabilities import (
    CatalogFeedSink,
    CatalogPage,
    CatalogSource,
    ChannelReference,
    Delivery,
    FeedSlice,
    ImageOwner,
    PriceSink,
    StockSink,
    StockSource,
)
from hub.systems import Connector, SystemSettings, register, unregister
from tests.run_results import summary_of

pytestmark = pytest.mark.usefixtures("prefect_backend")
ITEMS = 25  # three pages of 10


class Warehouse:
    """The made-up stock system's data: items with a price and stock in two stores."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {
            f"i{n:02d}": {"name": f"Item {n}", "price": 100 * n, "stock": {"w1": n % 4, "w2": 2}} for n in range(ITEMS)
        }


class Shop:
    """The made-up shop's data: what it loaded from our feed, and what it was sent."""

    def __init__(self) -> None:
        self.catalog: set[str] = set()
        self.stock: dict[str, dict[str, float]] = {}
        self.prices: dict[str, dict[str, float]] = {}
        self.requests = 0

    def load(self, feed: Path) -> None:
        self.catalog = {json.loads(line)["id"] for line in feed.read_text().splitlines()[1:]}


WAREHOUSE, SHOP = Warehouse(), Shop()


class ErpSettings(SystemSettings):
    system: Literal["fake-erp"]


class ShopSettings(SystemSettings):
    system: Literal["fake-shop"]


class FakeErp:  # CatalogSource, StockSource
    page_size, pictures_hint, changes_window = 10, "never", None  # no changed-since read: always whole

    async def reference(self) -> dict[str, pd.DataFrame]:
        return {
            "currencies": model.frame("currencies", []),
            "organizations": model.frame("organizations", []),
            "characteristics": model.frame("characteristics", []),
            "categories": model.frame("categories", []),
            "price_types": model.frame("price_types", [{"price_type_id": "retail", "name": "Retail"}]),
            "stores": model.frame("stores", [{"store_id": s, "name": s} for s in ("w1", "w2")]),
        }

    async def catalog_page(self, offset: int) -> CatalogPage:
        ids = sorted(WAREHOUSE.items)[offset : offset + self.page_size]
        rows = [{"product_id": i, "kind": "product", "name": WAREHOUSE.items[i]["name"]} for i in ids]
        prices = [{"offer_id": i, "price_type_id": "retail", "amount": WAREHOUSE.items[i]["price"]} for i in ids]
        frames = {
            "products": model.frame("products", rows),
            "offers": model.frame("offers", [{**r, "offer_id": r["product_id"]} for r in rows]),
            "prices": model.frame("prices", prices),
            "purchase_prices": model.frame("purchase_prices", []),
        }
        return CatalogPage(frames, len(WAREHOUSE.items), ids)

    async def pictures(self, owners: Sequence[ImageOwner]) -> pd.DataFrame:
        return model.frame("images", [])

    async def current_stock(self, measure: str, changed_since: datetime | None = None) -> pd.DataFrame:
        return model.frame(
            "stock",
            [
                {"offer_id": i, "store_id": s, "available": q, "stock_type": measure}
                for i, item in WAREHOUSE.items.items()
                for s, q in item["stock"].items()
                if q
            ],
        )


class FakeShop:  # CatalogFeedSink, StockSink, PriceSink (one class: its `send` looks at the entries)
    max_batch, whole_units = 7, True

    async def channel_reference(self, *, with_catalog_stamp: bool = False) -> ChannelReference:
        return ChannelReference(warehouses=["main"], price_types={"price": True})

    def ref(self, entry: Mapping[str, Any]) -> str:
        return str(entry["sku"])

    def stock_entries(self, stock: pd.DataFrame) -> list[dict[str, Any]]:
        return [
            {"sku": o, "store": s, "qty": q}
            for o, s, q in zip(stock.offer_id, stock.store_id, stock.available, strict=True)
        ]

    def price_entries(self, prices: pd.DataFrame, price_types: Mapping[str, str]) -> list[dict[str, Any]]:
        return [
            {"sku": o, "type": price_types[t], "price": int(a)}
            for o, t, a in zip(prices.offer_id, prices.price_type_id, prices.amount, strict=True)
            if t in price_types
        ]

    async def send(self, entries: Sequence[Mapping[str, Any]]) -> Delivery:
        assert len(entries) <= self.max_batch
        SHOP.requests += 1
        known = [e for e in entries if e["sku"] in SHOP.catalog]
        for e in known:
            target = SHOP.stock if "qty" in e else SHOP.prices
            target.setdefault(e["sku"], {})[e.get("store") or e["type"]] = e.get("qty", e.get("price"))
        return Delivery(len(known), frozenset(e["sku"] for e in entries if e["sku"] not in SHOP.catalog))

    def feed_items(self, part: FeedSlice) -> Iterator[dict[str, Any]]:
        return ({"id": o, "name": n} for o, n in zip(part.offers.offer_id, part.offers.name, strict=True))

    def write_feed(
        self, path: Path, *, shop_name: str, company: str, categories: pd.DataFrame, items: Iterable[Any]
    ) -> int:
        lines = [json.dumps(i) for i in items]
        path.write_text("\n".join([shop_name, *lines]))
        return len(lines)

    async def catalog_stamp(self) -> str | None:
        return None

    async def knows_offers(self, offer_ids: Sequence[str]) -> bool:
        return bool(SHOP.catalog & set(offer_ids))


@asynccontextmanager
async def _client(settings: Any, secret: Any) -> AsyncIterator[None]:
    yield None


@pytest.fixture
def config(tmp_path: Path) -> Iterator[Path]:
    register(
        Connector(
            "fake-erp",
            "Fake ERP",
            ErpSettings,
            _client,
            {CatalogSource: lambda c, s: FakeErp(), StockSource: lambda c, s: FakeErp()},
        )
    )
    shop = lambda c, s: FakeShop()  # noqa: E731
    register(
        Connector(
            "fake-shop", "Fake Shop", ShopSettings, _client, {CatalogFeedSink: shop, StockSink: shop, PriceSink: shop}
        )
    )
    path = tmp_path / "skladbridge.yaml"
    path.write_text(
        """
integrations:
  pair:
    systems:
      erp:  {system: fake-erp, base_url: "http://erp.invalid"}
      shop: {system: fake-shop, base_url: "http://shop.invalid"}
    flows: {catalog: {from: erp, to: shop}, stock: {from: erp, to: shop}, prices: {from: erp, to: shop}}
    mappings: {stores: {w1: main, w2: main}, price_types: {Retail: price}}
""",
        encoding="utf-8",
    )
    yield path
    unregister("fake-erp")
    unregister("fake-shop")


def test_the_full_import_runs_between_two_made_up_systems(config: Path) -> None:
    from flows.full_import import full_import

    first = summary_of(full_import("pair", config_path=str(config)))  # the shop has not loaded the feed yet
    assert first["pages"]["pages"] == 3 and first["uploaded"]["inventories"]["not_found"] == ITEMS
    assert SHOP.stock == {}
    SHOP.load(config.parent / "feeds" / "pair.xml")

    second = summary_of(full_import("pair", config_path=str(config)))

    assert second["uploaded"]["inventories"]["entries"] == ITEMS  # exactly the ones not found before
    assert SHOP.stock == {i: {"main": float(sum(item["stock"].values()))} for i, item in WAREHOUSE.items.items()}
    assert SHOP.prices == {i: {"price": item["price"]} for i, item in WAREHOUSE.items.items()}
    requests = SHOP.requests
    WAREHOUSE.items["i03"]["stock"]["w2"] = 9

    third = summary_of(full_import("pair", config_path=str(config)))

    assert third["uploaded"]["inventories"]["entries"] == 1 and SHOP.requests == requests + 1
    assert SHOP.stock["i03"] == {"main": 12.0}
