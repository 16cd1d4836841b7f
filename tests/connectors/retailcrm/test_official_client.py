"""The official ``retailcrm`` Python client (PyPI, MIT), unchanged, against the sandbox on a socket."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors.retailcrm.sandbox import RetailCRMSandbox
from connectors.sandboxing import LoopbackServer

retailcrm = pytest.importorskip("retailcrm")


@pytest.fixture(scope="module")
def official() -> Iterator[tuple[RetailCRMSandbox, Any]]:
    # The official client does not pace itself; a generous rps keeps this test about the wire.
    sandbox = RetailCRMSandbox(api_key="official-key", rps=1000)
    sandbox.seed_catalog(30)
    sandbox.seed_orders(25)
    with LoopbackServer(sandbox.app) as server:
        yield sandbox, retailcrm.v5(server.url, "official-key")


def test_reference_books(official: tuple[RetailCRMSandbox, Any]) -> None:
    _, client = official
    for method, key in (
        ("statuses", "statuses"),
        ("stores", "stores"),
        ("sites", "sites"),
        ("price_types", "priceTypes"),
        ("delivery_types", "deliveryTypes"),
        ("payment_types", "paymentTypes"),
    ):
        response = getattr(client, method)()
        assert response.is_successful(), (method, response.get_response())
        assert key in response.get_response()
    assert isinstance(client.stores().get_response()["stores"], list)


def test_orders_list_get_create_edit(official: tuple[RetailCRMSandbox, Any]) -> None:
    sandbox, client = official
    listed = client.orders({"extendedStatus": ["new", "complete", "assembling"]}, 50, 1)
    assert listed.is_successful() and listed.get_response()["pagination"]["limit"] == 50
    created = client.order_create({"externalId": "official-1", "items": [{"offer": {"id": 1}, "quantity": 1}]}, "main")
    assert created.get_status_code() == 201 and created.get_response()["id"] in sandbox.orders
    assert client.order("official-1").get_response()["order"]["externalId"] == "official-1"
    edited = client.order_edit({"externalId": "official-1", "status": "complete"})
    assert edited.is_successful() and sandbox.orders[created.get_response()["id"]]["status"] == "complete"
    by_id = client.order(created.get_response()["id"], "id")
    assert by_id.get_response()["order"]["status"] == "complete"
    bad = client.order_create({"items": [{"offer": {"id": 424242}}]})
    assert not bad.is_successful() and "items[0].offer.id" in bad.get_errors()


def test_orders_history(official: tuple[RetailCRMSandbox, Any]) -> None:
    _, client = official
    first = client.orders_history({"sinceId": 0}, 20, 1).get_response()
    assert len(first["history"]) == 20 and first["pagination"]["totalCount"] >= 25
    last = first["history"][-1]["id"]
    nxt = client.orders_history({"sinceId": last}, 20, 1).get_response()
    assert nxt["history"][0]["id"] == last + 1
    assert client.orders_history(None, 20, 1).is_successful()  # the client sends filter=None


def test_inventories_and_prices_upload(official: tuple[RetailCRMSandbox, Any]) -> None:
    sandbox, client = official
    xml_id = sandbox.offers[2]["xmlId"]
    inv = client.inventories_upload(
        [
            {"xmlId": xml_id, "stores": [{"code": "msk", "available": 0}]},
            {"xmlId": "ghost", "stores": [{"code": "msk", "available": 1}]},
        ],
        "main",
    )
    assert inv.get_response() == {"success": True, "processedOffersCount": 1, "notFoundOffers": [{"xmlId": "ghost"}]}
    assert sandbox.inventories[2]["msk"]["available"] == 0.0
    prices = client.prices_upload([{"xmlId": xml_id, "site": "main", "prices": [{"code": "wholesale", "price": 10.5}]}])
    assert prices.get_response()["processedOffersCount"] == 1 and sandbox.prices[2]["wholesale"] == 10.5
    stock = client.inventories({"offerXmlId": xml_id, "details": 1}, 20, 1).get_response()
    assert stock["offers"][0]["xmlId"] == xml_id
