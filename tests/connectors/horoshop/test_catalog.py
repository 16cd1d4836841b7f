"""Horoshop as the catalog source: the minimum of requests although the API gives no size, canonical frames."""

from __future__ import annotations

import asyncio

from connectors.horoshop.capabilities.catalog import HoroshopCatalog
from connectors.horoshop.sandbox import HoroshopSandbox
from connectors.horoshop.settings import HoroshopSettings
from tests.connectors.horoshop.conftest import PASSWORD, MakeClient

SETTINGS = HoroshopSettings.model_validate(
    {"system": "horoshop", "base_url": "http://shop.test", "login": "apiadmin", "password": "${HS_PASSWORD}"}
)


def test_the_first_page_reads_to_the_end_and_later_pages_cost_nothing(make_client: MakeClient) -> None:
    shop = HoroshopSandbox(login="apiadmin", password=PASSWORD)
    shop.seed_catalog(1200)

    async def go() -> tuple[int, list[int]]:
        async with make_client() as client:
            client._http._transport = __import__("httpx").ASGITransport(app=shop.app)
            first = await HoroshopCatalog.over(client, SETTINGS).catalog_page(0)
            later = HoroshopCatalog.over(client, SETTINGS)  # another task's capability
            pages = await asyncio.gather(later.catalog_page(500), later.catalog_page(1000))
            return first.size, [len(p.row_ids) for p in pages]

    size, rows = asyncio.run(go())
    assert size == 1200 and rows == [500, 200]
    assert [r.path for r in shop.log].count("/catalog/export") == 3  # ⌈1200 / 500⌉


def test_products_become_offers_by_article_with_the_base_price(shop: HoroshopSandbox, make_client: MakeClient) -> None:
    async def go() -> tuple[object, object]:
        async with make_client() as client:
            cap = HoroshopCatalog.over(client, SETTINGS)
            return await cap.reference(), await cap.catalog_page(0)

    reference, page = asyncio.run(go())
    offers = page.frames["offers"]  # type: ignore[attr-defined]
    prices = page.frames["prices"]  # type: ignore[attr-defined]
    article = next(iter(shop.state.products))
    assert set(offers["offer_id"]) == set(shop.state.products) and (offers["offer_id"] == offers["article"]).all()
    assert prices.set_index("offer_id").loc[article, "amount"] == shop.state.products[article]["price"] * 100
    assert set(reference["categories"]["name"]) == {"Сукні", "Взуття", "Аксесуари", "Сумки"}  # type: ignore[index]
