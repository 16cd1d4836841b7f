"""Orders, payments and customers through the client, including safe retries of creates."""

from __future__ import annotations

import asyncio

from connectors.http import RetryPolicy
from connectors.retailcrm.client import RetailCRMClient
from connectors.retailcrm.convert.catalog import order_from_crm, order_to_crm
from connectors.retailcrm.sandbox import RetailCRMSandbox
from connectors.sandboxing import LoopbackServer
from hub.model import frame

from .conftest import KEY, MakeClient


def test_order_lifecycle(sandbox: RetailCRMSandbox, make_client: MakeClient) -> None:
    xml_id = sandbox.offers[1]["xmlId"]

    async def go() -> None:
        async with make_client() as c:
            created = await c.create_order(
                {
                    "externalId": "ms-1",
                    "firstName": "Анна",
                    "phone": "+79000000000",
                    "items": [{"offer": {"xmlId": xml_id}, "quantity": 2, "initialPrice": 100.5}],
                    "delivery": {"code": "courier", "cost": 300},
                    "payments": [{"type": "cash", "amount": 501}],
                }
            )
            assert created["number"] and created["totalSumm"] == 501
            assert (await c.get_order("ms-1"))["id"] == created["id"]
            assert (await c.get_order(created["id"], by="id"))["externalId"] == "ms-1"
            edited = await c.edit_order("ms-1", {"status": "assembling"})
            assert edited["status"] == "assembling"
            assert await c.order_statuses(external_ids=["ms-1"]) == [
                {"id": created["id"], "externalId": "ms-1", "status": "assembling", "group": "assembling"}
            ]
            page, pagination = await c.list_orders({"externalIds": ["ms-1"]})
            assert [o["id"] for o in page] == [created["id"]] and pagination["totalCount"] == 1
            pid = await c.create_payment(
                {"order": {"externalId": "ms-1"}, "type": "bank-card", "amount": 10, "externalId": "pay-1"}
            )
            assert await c.edit_payment("pay-1", {"status": "paid"}) == pid
            await c.fix_external_ids([{"id": created["id"], "externalId": "ms-1b"}])
            assert (await c.get_order("ms-1b"))["id"] == created["id"]

    asyncio.run(go())
    frames = order_from_crm(next(iter(sandbox.orders.values())))
    assert frames["order_lines"]["price"].tolist() == [10050]
    assert sorted(frames["payments"]["amount"].tolist()) == [1000, 50100]
    assert set(frames["payments"]["status"]) == {"not-paid", "paid"}


def test_upload_orders_reports_partial_failure_item_by_item(sandbox: RetailCRMSandbox, make_client: MakeClient) -> None:
    good = {"externalId": "u1", "items": [{"offer": {"id": 1}, "quantity": 1}]}
    bad = {"externalId": "u2", "items": [{"offer": {"id": 123123}, "quantity": 1}]}

    async def go() -> object:
        async with make_client() as c:
            return await c.upload_orders([good, bad])

    result = asyncio.run(go())
    assert sandbox.log.count(status=460) == 1
    assert [u["externalId"] for u in result.uploaded] == ["u1"]  # type: ignore[attr-defined]
    assert result.failed == [{"externalId": "u2"}]  # type: ignore[attr-defined]
    assert result.errors == ["items[0].offer.id: Offer with id 123123 not found."]  # type: ignore[attr-defined]


def test_create_retried_after_a_dropped_response_makes_no_duplicate() -> None:
    sandbox = RetailCRMSandbox(api_key=KEY)
    sandbox.seed_catalog(4)
    sandbox.faults.drop_after_write = 1
    order = {"externalId": "ms-7", "items": [{"offer": {"id": 1}, "quantity": 1}]}

    async def go(url: str) -> dict:
        async with RetailCRMClient(url, api_key=KEY, retry=RetryPolicy(base_delay=0.01)) as c:
            return await c.create_order(order)

    with LoopbackServer(sandbox.app) as server:
        created = asyncio.run(go(server.url))
    assert sandbox.log.count(status=0) == 1  # the first answer was really lost
    assert len(sandbox.orders) == 1 and created["id"] == next(iter(sandbox.orders))


def test_order_to_crm_round_trip(sandbox: RetailCRMSandbox, make_client: MakeClient) -> None:
    xml_id = sandbox.offers[2]["xmlId"]
    order = (
        frame(
            "orders",
            [
                {
                    "order_id": "ms-order-1",
                    "number": "0001",
                    "status": "ms-new",
                    "created_at": "2024-05-01T09:00:00Z",
                    "delivery_type": "ms-courier",
                    "delivery_cost": 30000,
                    "comment": "у двери",
                    "manager_comment": "звонить после 18",
                }
            ],
        )
        .iloc[0]
        .to_dict()
    )
    lines = frame(
        "order_lines",
        [
            {
                "order_id": "ms-order-1",
                "line_no": 1,
                "offer_id": xml_id,
                "name": "x",
                "quantity": 3.0,
                "price": 12345,
                "discount": 0,
            }
        ],
    )
    customer = (
        frame(
            "customers",
            [
                {
                    "customer_id": "ms-c1",
                    "first_name": "Ада",
                    "last_name": "Лавлейс",
                    "phone": "+7900",
                    "email": "ada@example.com",
                }
            ],
        )
        .iloc[0]
        .to_dict()
    )
    wire = order_to_crm(
        order, lines, status_map={"ms-new": "new"}, delivery_map={"ms-courier": "courier"}, customer=customer
    )
    assert wire["createdAt"] == "2024-05-01 12:00:00"  # Moscow is UTC+3
    assert wire["items"][0] == {
        "productName": "x",
        "quantity": 3.0,
        "initialPrice": 123.45,
        "offer": {"xmlId": xml_id},
        "discountManualAmount": 0,
    }

    async def go() -> dict:
        async with make_client() as c:
            return await c.create_order(wire)

    created = asyncio.run(go())
    back = order_from_crm(created)
    assert back["orders"]["external_id"].tolist() == ["ms-order-1"]
    assert back["orders"][["comment", "manager_comment"]].values.tolist() == [["у двери", "звонить после 18"]]
    assert back["orders"]["created_at"].iloc[0].isoformat() == "2024-05-01T09:00:00+00:00"
    assert back["orders"]["total"].tolist() == [3 * 12345 + 30000]
    assert back["customers"]["email"].tolist() == ["ada@example.com"]
    assert sandbox.customers[created["customer"]["id"]]["externalId"] == "ms-c1"


def test_customers_get_create_edit(make_client: MakeClient) -> None:
    async def go() -> dict:
        async with make_client() as c:
            cid = await c.create_customer({"externalId": "c-1", "firstName": "Ада"})
            assert await c.edit_customer("c-1", {"email": "ada@example.com"}) == cid
            return await c.get_customer(cid, by="id")

    assert asyncio.run(go())["email"] == "ada@example.com"
