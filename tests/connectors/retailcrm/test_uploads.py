"""Inventories and prices uploads: absolute values, zero included, unknown offers reported."""

from __future__ import annotations

import asyncio

import pytest

from connectors.retailcrm.client import RetailCRMClient
from connectors.retailcrm.convert.catalog import prices_to_upload, stock_to_inventories
from connectors.retailcrm.sandbox import RetailCRMSandbox
from hub.model import frame

from .conftest import MakeClient


def test_stock_is_uploaded_absolute_with_zeros_and_unknown_offers_reported(
    sandbox: RetailCRMSandbox, make_client: MakeClient
) -> None:
    first, second = sandbox.offers[1], sandbox.offers[2]
    sandbox.inventories[1] = {"main": {"available": 9.0, "purchasePrice": None}}
    stock = frame(
        "stock",
        [
            {"offer_id": first["xmlId"], "store_id": "ms-main", "available": 0.0, "stock_type": "stock"},
            {"offer_id": second["xmlId"], "store_id": "ms-main", "available": 3.0, "stock_type": "stock"},
            {"offer_id": second["xmlId"], "store_id": "ms-annex", "available": 2.0, "stock_type": "stock"},
            {"offer_id": "not-in-crm", "store_id": "ms-main", "available": 1.0, "stock_type": "stock"},
        ],
    )
    payload = stock_to_inventories(stock, store_map={"ms-main": "main", "ms-annex": "main"})

    async def go() -> object:
        async with make_client() as client:
            return await client.upload_inventories(payload)

    result = asyncio.run(go())
    assert result.processed == 2  # type: ignore[attr-defined]
    assert result.not_found == [{"xmlId": "not-in-crm"}]  # type: ignore[attr-defined]
    assert sandbox.inventories[1]["main"]["available"] == 0.0  # the zero overwrote 9
    assert sandbox.inventories[2]["main"]["available"] == 5.0  # two MoySklad stores summed


def test_the_crm_keeps_a_store_left_out_which_is_why_zero_is_always_sent(sandbox: RetailCRMSandbox) -> None:
    """The Go client's omitempty bug, reproduced: no ``available`` = the old value stays."""
    from connectors.retailcrm.sandbox.catalog import inventories_upload
    from connectors.retailcrm.sandbox.wire import Call

    sandbox.inventories[1] = {"main": {"available": 9.0, "purchasePrice": None}}
    form = {"offers": '[{"id": 1, "stores": [{"code": "main"}]}]'}
    call = Call("POST", (), {}, form, "k", ("main",), {"site": "main"})
    inventories_upload(sandbox.state, call)
    assert sandbox.inventories[1]["main"]["available"] == 9.0

    async def go() -> None:
        async with RetailCRMClient("http://x", api_key="k") as client:
            await client.upload_inventories([{"id": 1, "stores": [{"code": "main"}]}])

    with pytest.raises(ValueError, match="available"):
        asyncio.run(go())


def test_batches_above_250_are_refused_before_sending(make_client: MakeClient) -> None:
    async def go() -> None:
        async with make_client() as client:
            await client.upload_inventories([{"xmlId": str(i), "stores": []} for i in range(251)])

    with pytest.raises(ValueError, match="250"):
        asyncio.run(go())


def test_prices_upload_in_currency_units(sandbox: RetailCRMSandbox, make_client: MakeClient) -> None:
    xml_id = sandbox.offers[3]["xmlId"]
    prices = frame(
        "prices",
        [
            {"offer_id": xml_id, "price_type_id": "ms-retail", "amount": 123456, "currency_id": "rub"},
            {"offer_id": xml_id, "price_type_id": "ms-opt", "amount": 99900, "currency_id": "rub"},
            {"offer_id": xml_id, "price_type_id": "ms-unmapped", "amount": 1, "currency_id": "rub"},
            {"offer_id": "unknown", "price_type_id": "ms-retail", "amount": 100, "currency_id": "rub"},
        ],
    )
    payload = prices_to_upload(prices, price_type_map={"ms-retail": "base", "ms-opt": "wholesale"}, site="main")
    assert next(p for p in payload if p["xmlId"] == xml_id) == {
        "xmlId": xml_id,
        "site": "main",
        "prices": [{"code": "base", "price": 1234.56}, {"code": "wholesale", "price": 999}],
    }

    async def go() -> object:
        async with make_client() as client:
            return await client.upload_prices(payload)

    result = asyncio.run(go())
    assert result.processed == 1 and result.not_found == [{"xmlId": "unknown"}]  # type: ignore[attr-defined]
    assert sandbox.prices[3] == {"base": 1234.56, "wholesale": 999.0}


def test_inventories_read_back_per_store(sandbox: RetailCRMSandbox, make_client: MakeClient) -> None:
    sandbox.inventories[1] = {
        "main": {"available": 2.0, "purchasePrice": None},
        "msk": {"available": 3.0, "purchasePrice": None},
    }

    async def go() -> list[dict]:
        rows: list[dict] = []
        async with make_client() as client:
            async for page in client.inventories({"offerXmlId": sandbox.offers[1]["xmlId"]}, details=True):
                rows.extend(page)
        return rows

    (row,) = asyncio.run(go())
    assert row["quantity"] == 5.0 and {s["store"] for s in row["stores"]} == {"main", "msk"}
