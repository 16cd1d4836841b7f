"""The Horoshop pair end to end, through the same flow modules as the MoySklad pair: the shop's catalog
becomes the CRM's feed, new shop orders reach retailCRM once (customers by phone, lines by article,
delivery through its mapping), an order whose delivery is not mapped waits and goes through once
mapped, and a CRM status comes back to the shop without echo.

Real flows, real HTTP to the sandboxes on loopback, the real hub store.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from deployments.demo.horoshop_pair import INTEGRATION, HoroshopWorld, catalog_loaded, horoshop_world
from tests.run_results import summary_of

pytestmark = [pytest.mark.usefixtures("prefect_backend"), pytest.mark.slow]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HoroshopWorld]:
    with horoshop_world(tmp_path_factory.mktemp("horoshop-pair"), 40) as running:
        from flows.full_import import full_import

        summary = full_import(INTEGRATION, config_path=str(running.config_path))
        assert summary
        assert catalog_loaded(running) == 40
        yield running


def upload(world: HoroshopWorld) -> dict[str, Any]:
    from flows.order_upload import order_upload

    return summary_of(order_upload(INTEGRATION, config_path=str(world.config_path), trigger="test"))


def status_sync(world: HoroshopWorld) -> dict[str, Any]:
    from flows.order_status_sync import order_status_sync

    return summary_of(order_status_sync(INTEGRATION, config_path=str(world.config_path), trigger="test"))


def crm_order(world: HoroshopWorld, shop_id: int) -> dict[str, Any] | None:
    return next((o for o in world.retailcrm.orders.values() if o.get("externalId") == str(shop_id)), None)


def test_shop_orders_reach_the_crm_once_and_statuses_come_back(world: HoroshopWorld) -> None:
    first = upload(world)
    assert first["first_read"] and first["orders_read"] == 0
    articles = list(world.shop.state.products)
    one = world.shop.place_order(
        phone="+380671234567", name="Олена Коваленко", lines=[(articles[0], 1.0), (articles[1], 2.0)], delivery=1
    )
    two = world.shop.place_order(
        phone="067 123 45 67", name="Олена Коваленко", lines=[(articles[2], 1.0)], delivery=2, delivery_price=70
    )
    second = upload(world)
    assert (second["orders_read"], second["accepted"], second["created"]) == (2, 2, 2)
    a, b = crm_order(world, one["order_id"]), crm_order(world, two["order_id"])
    assert a is not None and b is not None
    assert a["status"] == "new" and a["delivery"]["code"] == "courier" and b["delivery"]["code"] == "self-delivery"
    assert "cost" not in a["delivery"] or a["delivery"]["cost"] in (0, None)  # −1: not calculated, not sent
    assert b["delivery"]["cost"] == 70
    assert sorted(i["offer"]["xmlId"] for i in a["items"]) == sorted(articles[:2])
    assert a["customer"]["id"] == b["customer"]["id"]  # one buyer, found by phone
    assert [(p["type"], p["status"]) for p in a["payments"].values()] == [("cash", "not-paid")]
    assert len(world.retailcrm.customers) == 1

    before = len(world.retailcrm.orders)
    third = upload(world)  # the overlap reads them again: nothing new
    assert (third["accepted"], third["created"]) == (0, 0) and len(world.retailcrm.orders) == before

    world.retailcrm.user_edit_order(a["id"], {"status": "assembling"})
    synced = status_sync(world)
    assert synced["sent"] == 1
    assert world.shop.orders[one["order_id"]]["stat_status"] == 2  # mapped back: assembling -> 2
    assert world.shop.orders[two["order_id"]]["stat_status"] == 1
    again = status_sync(world)
    assert again["sent"] == 0  # nothing set twice, nothing echoed

    world.retailcrm.user_edit_order(b["id"], {"status": "prepayed"})  # maps to the shop's own status 7
    assert status_sync(world)["sent"] == 1
    assert world.shop.orders[two["order_id"]]["stat_status"] == 7

    # the shop cancels order two (read-only there); the CRM moves both on: one WARNING, one order refused
    world.shop.orders[two["order_id"]]["stat_status"] = 4
    world.retailcrm.user_edit_order(a["id"], {"status": "complete"})
    world.retailcrm.user_edit_order(b["id"], {"status": "assembling"})
    warned = status_sync(world)
    assert warned["sent"] == 1 and list(warned["refused"]) == [str(two["order_id"])]
    assert "read-only" in warned["refused"][str(two["order_id"])]
    assert world.shop.orders[one["order_id"]]["stat_status"] == 3


def test_an_order_waits_for_its_delivery_mapping_then_goes_through(world: HoroshopWorld) -> None:
    upload(world)
    world.shop.state.deliveries[5] = {"id": 5, "title": {"ua": "Укрпошта"}}
    article = list(world.shop.state.products)[5]
    world.shop.state.payments[3] = {"id": 3, "title": {"ua": "Оплата частинами"}}
    held = world.shop.place_order(phone="+380501112233", name="Ірина Мельник", lines=[(article, 1.0)], delivery=5)
    unpaid = world.shop.place_order(phone="+380501112244", name="Оксана Бондар", lines=[(article, 1.0)], payment=3)
    ran = upload(world)
    assert ran["parked"] == 2 and crm_order(world, held["order_id"]) is None
    assert crm_order(world, unpaid["order_id"]) is None

    config = yaml.safe_load(world.config_path.read_text(encoding="utf-8"))
    config["integrations"][INTEGRATION]["mappings"]["delivery_types"]["5"] = "courier"
    config["integrations"][INTEGRATION]["mappings"]["payment_types"]["3"] = "bank-card"
    world.config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    after = upload(world)
    assert after["accepted"] == 2
    placed, paid = crm_order(world, held["order_id"]), crm_order(world, unpaid["order_id"])
    assert placed is not None and placed["delivery"]["code"] == "courier"
    assert paid is not None and [p["type"] for p in paid["payments"].values()] == ["bank-card"]
