"""The client's parsing and the sandbox's answers, checked against the verbatim retailCRM samples."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qsl

import httpx
import pandas as pd

from connectors.retailcrm.convert.catalog import offers_from_crm, order_from_crm, prices_from_crm
from connectors.retailcrm.convert.icml import IcmlOffer
from connectors.retailcrm.sandbox import RetailCRMSandbox
from connectors.retailcrm.sandbox.catalog import upsert_catalog
from connectors.retailcrm.sandbox.customers import new_customer
from connectors.retailcrm.wire.conventions import error_summary, error_texts
from connectors.retailcrm.wire.history import is_own_echo
from hub.model import FRAMES
from tests.shared_apis import require

from .conftest import KEY, SAMPLES, sample


def test_reference_books_are_keyed_by_code_except_stores() -> None:
    assert isinstance(sample("retailcrm-reference-statuses.response.json")["statuses"], dict)
    assert isinstance(sample("retailcrm-reference-stores.response.json")["stores"], list)
    sb = RetailCRMSandbox()

    async def go() -> tuple[dict, dict]:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=sb.app), base_url="http://t/api/v5", headers={"X-API-KEY": "sandbox-key"}
        ) as http:
            return (await http.get("reference/statuses")).json(), (await http.get("reference/stores")).json()

    statuses, stores = asyncio.run(go())
    real_status = next(iter(sample("retailcrm-reference-statuses.response.json")["statuses"].values()))
    ours = statuses["statuses"]["new"]
    assert set(real_status) <= set(ours) and ours["code"] == "new"
    real_store = sample("retailcrm-reference-stores.response.json")["stores"][0]
    ours_store = set(stores["stores"][0])
    assert {"code", "name", "type", "inventoryType", "active"} <= ours_store <= set(real_store) | {"address", "phone"}


def test_errors_are_parsed_as_object_or_array() -> None:
    as_array = sample("retailcrm-error-460-errors-array.response.json")
    as_object = sample("retailcrm-error-460-errors-object.response.json")
    assert error_texts(as_array["errors"]) == ["items[0].offer.id: Offer with id 123123 not found."]
    assert error_texts(as_object["errors"]) == ["managerId: Something went wrong"]
    assert error_summary(sample("retailcrm-error-405.response.json")) == "Method Not Allowed"
    assert error_summary(as_object) == "Customers are loaded with errors: managerId: Something went wrong"


def test_history_echo_detection_on_the_customers_history_sample() -> None:
    history = sample("retailcrm-customers-history.response.json")["history"]
    flags = [is_own_echo(r) for r in history]
    assert not any(flags)  # every api record in the sample was made by another key (current: false)
    assert [r["id"] for r in history] == sorted(r["id"] for r in history)


def test_order_get_sample_converts_to_canonical_frames() -> None:
    frames = order_from_crm(sample("retailcrm-orders-get.response.json")["order"])
    order = frames["orders"].iloc[0]
    assert order["order_id"] == "6722" and order["external_id"] == "8123522898559160"
    assert order["status"] == "delivering" and order["site"] == "aliexpress"
    # 2020-12-29 17:35:08 Moscow time is 14:35:08 UTC
    assert order["created_at"] == pd.Timestamp("2020-12-29 14:35:08", tz="UTC")
    assert order["total"] == 100  # totalSumm 1 rouble
    assert len(frames["order_lines"]) >= 1 and frames["order_lines"]["price"].iloc[0] == 100
    assert frames["customers"]["customer_id"].tolist() == ["4976"]
    for kind in ("orders", "order_lines", "payments", "customers"):
        assert list(frames[kind].columns) == list(FRAMES[kind])


def test_store_offers_sample_converts_to_offers_and_prices() -> None:
    offers = sample("retailcrm-store-offers.response.json")["offers"]
    frame = offers_from_crm(offers)
    assert frame["offer_id"].tolist() == ["1941833"] and frame["external_code"].tolist() == ["38311"]
    prices = prices_from_crm(offers)
    assert prices[["price_type_id", "amount"]].values.tolist() == [["base", 62400]]


def test_sandbox_accepts_the_inventories_upload_form_as_sent_on_the_wire() -> None:
    request = require(SAMPLES / "retailcrm-store-inventories-upload.request.form.txt").read_text()
    body = request.split("\n\n", 1)[1].strip()
    decoded = sample("retailcrm-store-inventories-upload.request.decoded.json")
    assert json.loads(dict(parse_qsl(body))["offers"]) == decoded["offers"]
    sb = RetailCRMSandbox(sites=("aliexpress",), stores=[("main12", "Основной")])
    # the sample's offer: xmlId "1" in the "aliexpress" catalog
    offer = IcmlOffer(id="1", product_id="1", name="x", product_name="x", xml_id="1")
    upsert_catalog(sb.state, "aliexpress", [], [offer])

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sb.app), base_url="http://t") as http:
            return await http.post(
                "/api/v5/store/inventories/upload",
                content=body,
                headers={"X-API-KEY": KEY, "Content-Type": "application/x-www-form-urlencoded"},
            )

    response = asyncio.run(go())
    assert response.status_code == 200
    assert response.json() == sample("retailcrm-store-inventories-upload.response.json") | {"notFoundOffers": []}
    assert sb.inventories[1]["main12"] == {"available": 15.0, "purchasePrice": 15.0}


def test_sandbox_accepts_the_orders_create_form_as_sent_on_the_wire() -> None:
    request = require(SAMPLES / "retailcrm-orders-create.request.form.txt").read_text()
    body = request.split("\n\n", 1)[1].strip()
    decoded = sample("retailcrm-orders-create.request.decoded.json")
    sb = RetailCRMSandbox(sites=("moysklad",), stores=[("main12", "Основной")])
    xml_id = decoded["order"]["items"][0]["offer"]["xmlId"]
    offer = IcmlOffer(id="o1", product_id="p1", name="x", product_name="x", xml_id=xml_id)
    upsert_catalog(sb.state, "moysklad", [], [offer])
    sb.state._ids["customer"] = 4923
    new_customer(sb.state, {"firstName": "Test"}, "moysklad", None)  # id 4924, as the sample references
    sb.state.payment_types["bank-card"] = {"code": "bank-card", "name": "Карта", "active": True}

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sb.app), base_url="http://t") as http:
            return await http.post(
                "/api/v5/orders/create",
                content=body,
                headers={"X-API-KEY": KEY, "Content-Type": "application/x-www-form-urlencoded"},
            )

    response = asyncio.run(go())
    assert response.status_code == 201, response.text
    real = sample("retailcrm-orders-create.response.json")
    got = response.json()
    assert set(real) == set(got)  # success, id, order
    assert {"id", "number", "status", "items", "customer", "createdAt", "summ", "totalSumm"} <= set(got["order"])
    assert got["order"]["items"][0]["offer"]["xmlId"] == xml_id
    assert got["order"]["payments"] and isinstance(got["order"]["payments"], dict)  # keyed by id
