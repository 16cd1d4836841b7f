"""retailCRM receiving a storefront's orders: exactly once by externalId in bulk, one refused order not
failing the rest, customers found by phone and created once, status changes read without our own."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from connectors.http import RetryPolicy
from connectors.retailcrm.capabilities.customer_book import RetailCRMCustomers
from connectors.retailcrm.capabilities.order_sink import RetailCRMOrderSink
from connectors.retailcrm.client import RetailCRMClient
from connectors.retailcrm.sandbox import RetailCRMSandbox
from connectors.retailcrm.settings import RetailCRMSettings
from connectors.sandboxing import LoopbackServer
from hub import model
from hub.capabilities import OrderDraft
from tests.connectors.retailcrm.conftest import KEY, MakeClient

SETTINGS = RetailCRMSettings.model_validate(
    {"system": "retailcrm", "base_url": "http://crm.test", "api_key": "${CRM_KEY}", "site": "main"}
)


def draft(shop_id: str, customer: int, xml_id: str, *, state: str | None = "new", **extra: Any) -> OrderDraft:
    order = {"order_id": shop_id, "number": shop_id, "external_id": shop_id, "status": "1", "comment": "дзвоніть"}
    lines = [{"order_id": shop_id, "line_no": 1, "offer_id": xml_id, "name": "Сукня", "quantity": 2.0, "price": 62500}]
    kinds = {xml_id: "product"}
    if extra.get("delivery"):
        lines.append({"order_id": shop_id, "line_no": 2, "offer_id": extra["delivery"], "quantity": 1.0, "price": 7000})
        kinds[extra["delivery"]] = "service"
    return OrderDraft(
        key=f"shop:{shop_id}",
        order=order,
        lines=lines,
        line_kinds=kinds,
        customer_id=str(customer),
        organization_id="main",
        state_id=state,
        payments=extra.get("payments", ()),
    )


def _customer(sandbox: RetailCRMSandbox) -> int:
    async def go() -> int:
        async with RetailCRMClient("http://crm.test", api_key=KEY, transport=_asgi(sandbox)) as crm:
            return await crm.create_customer(
                {"externalId": "c1", "firstName": "Олена", "phones": [{"number": "0671234567"}]}
            )

    return asyncio.run(go())


def _asgi(sandbox: RetailCRMSandbox) -> Any:
    import httpx

    return httpx.ASGITransport(app=sandbox.app)


def test_a_batch_resent_after_its_answer_was_lost_creates_each_order_once() -> None:
    sandbox = RetailCRMSandbox(api_key=KEY)
    sandbox.seed_catalog(4)
    xml = sandbox.offers[1]["xmlId"]
    customer = _customer(sandbox)
    sandbox.faults.drop_after_write = 1
    drafts = [draft(str(i), customer, xml, delivery="courier" if i == 1 else None) for i in (1, 2, 3)]

    async def go(url: str) -> list[Any]:
        async with RetailCRMClient(url, api_key=KEY, site="main", retry=RetryPolicy(base_delay=0.01)) as crm:
            return await RetailCRMOrderSink.over(crm, SETTINGS).upsert_orders(drafts)

    with LoopbackServer(sandbox.app) as server:
        outcomes = asyncio.run(go(server.url))
    assert sandbox.log.count(status=0) == 1  # the first upload's answer was really lost
    assert len(sandbox.orders) == 3 and all(o.erp_id for o in outcomes)
    by_external = {o["externalId"]: o for o in sandbox.orders.values()}
    assert {o.erp_id for o in outcomes} == {str(o["id"]) for o in by_external.values()}
    first = by_external["1"]
    assert first["status"] == "new" and first["delivery"]["code"] == "courier" and first["delivery"]["cost"] == 70
    assert first["customer"]["id"] == customer and first["items"][0]["initialPrice"] == 625


def test_one_refused_order_does_not_fail_the_batch(sandbox: RetailCRMSandbox, make_client: MakeClient) -> None:
    xml = sandbox.offers[1]["xmlId"]
    customer = _customer(sandbox)

    async def go() -> list[Any]:
        async with make_client(site="main") as crm:
            sink = RetailCRMOrderSink.over(crm, SETTINGS)
            return await sink.upsert_orders([draft("a", customer, xml), draft("b", customer, "no-such-offer")])

    ok, refused = asyncio.run(go())
    assert ok.erp_id and refused.erp_id is None and "not found" in (refused.error or "")
    assert [o["externalId"] for o in sandbox.orders.values()] == ["a"]


def test_payments_go_with_their_mapped_type(sandbox: RetailCRMSandbox, make_client: MakeClient) -> None:
    xml = sandbox.offers[1]["xmlId"]
    customer = _customer(sandbox)
    paid = [{"payment_id": "p:1", "type": "bank-card", "amount": 125000, "status": "paid"}]

    async def go() -> None:
        async with make_client(site="main") as crm:
            await RetailCRMOrderSink.over(crm, SETTINGS).upsert_orders([draft("p", customer, xml, payments=paid)])

    asyncio.run(go())
    [order] = sandbox.orders.values()
    assert [(p["type"], p["amount"], p["status"]) for p in order["payments"].values()] == [("bank-card", 1250, "paid")]


def test_customers_are_found_by_phone_as_typed_and_created_once(
    sandbox: RetailCRMSandbox, make_client: MakeClient
) -> None:
    _customer(sandbox)
    frame = model.frame(
        "customers",
        [
            {"customer_id": "phone:380671234567", "name": "Олена", "phone": "+38 (067) 123-45-67"},
            {"customer_id": "phone:380501112233", "first_name": "Ірина", "phone": "+380501112233"},
        ],
    )

    async def go() -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        async with make_client(site="main") as crm:
            book = RetailCRMCustomers.over(crm, SETTINGS)
            found = await book.find_customers(frame, ["phone", "email"])
            rest = frame[~frame["customer_id"].isin(found)]
            made = await book.create_customers(rest, group=None, keys={"phone:380501112233": "k"})
            again = await book.create_customers(rest, group=None, keys={"phone:380501112233": "k"})
            return found, made, again

    found, made, again = asyncio.run(go())
    assert list(found) == ["phone:380671234567"]
    assert made["phone:380501112233"].erp_id == again["phone:380501112233"].erp_id  # not a second customer
    assert len(sandbox.customers) == 2


def test_status_changes_are_read_without_the_hubs_own(sandbox: RetailCRMSandbox, make_client: MakeClient) -> None:
    xml = sandbox.offers[1]["xmlId"]
    customer = _customer(sandbox)
    since = datetime.now(UTC) - timedelta(minutes=5)

    async def go() -> pd.DataFrame:
        async with make_client(site="main") as crm:
            sink = RetailCRMOrderSink.over(crm, SETTINGS)
            [made] = await sink.upsert_orders([draft("s1", customer, xml)])
            await crm.edit_order(str(made.erp_id), {"status": "complete"}, by="id")  # the hub's own key
            sandbox.user_edit_order(int(str(made.erp_id)), {"status": "assembling"})  # a manager
            return await sink.changed_states(since)

    states = asyncio.run(go())
    assert list(states["external_id"]) == ["s1"] and list(states["state"]) == ["assembling"]
