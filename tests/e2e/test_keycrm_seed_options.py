"""The Ordage seed's two options on the keyCRM pair, end to end on the sandboxes:

* **payment transactions**: keyCRM's order payments become MoySklad incoming payments (``paymentin``)
  or cash receipts (``cashin``, by ``mappings.payment_documents``) linked to the order, through the
  same order-upload and order-documents flows as retailCRM's: one document per keyCRM payment,
  posted when paid, updated when edited, never doubled on a re-run;
* **do not change product information** (``options.orders.keep_lines``): an order MoySklad has is
  received again with other lines; its positions stay as they were, its other fields follow.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from deployments.demo.keycrm_pair import INTEGRATION, KeyCRMWorld, keycrm_world
from tests.run_results import summary_of

pytestmark = pytest.mark.usefixtures("prefect_backend")

CASH_ON_DELIVERY, CARD = 1, 2  # the sandbox account's payment methods (examples/keycrm.yaml maps them)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeyCRMWorld]:
    from flows.stock_sync import stock_sync

    with keycrm_world(tmp_path_factory.mktemp("keycrm-options"), 20) as running:
        running.keycrm.state.apply_delay = 0.0
        stock_sync(INTEGRATION, config_path=str(running.config_path))  # the hub's copy of MoySklad's catalog
        upload(running)  # the cursor: from now on
        yield running


def configure(world: KeyCRMWorld, **orders: Any) -> None:
    config = yaml.safe_load(world.config_path.read_text(encoding="utf-8"))
    config["integrations"][INTEGRATION]["options"]["orders"].update(orders)
    world.config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")


def upload(world: KeyCRMWorld) -> dict[str, Any]:
    from flows.order_upload import order_upload

    return summary_of(order_upload(INTEGRATION, config_path=str(world.config_path), trigger="test"))


def documents(world: KeyCRMWorld) -> dict[str, Any]:
    from flows.order_documents import order_documents

    return summary_of(order_documents(INTEGRATION, config_path=str(world.config_path), trigger="test"))


def place(world: KeyCRMWorld, quantities: list[int]) -> dict[str, Any]:
    used = {line["sku"] for o in world.keycrm.state.orders.values() for line in o["products"]}
    skus = [o["sku"] for o in world.keycrm.state.offers.values() if o["sku"] not in used][: len(quantities)]
    return world.keycrm.place_order(
        {
            "buyer": {"full_name": "Олена Коваль", "phone": "+380501234567"},
            "products": [{"sku": s, "quantity": q, "price": 100} for s, q in zip(skus, quantities, strict=True)],
        }
    )


def erp_order(world: KeyCRMWorld, order_id: int) -> dict[str, Any]:
    found = [o for o in world.moysklad.store.of_type("customerorder").values() if o["externalCode"] == str(order_id)]
    assert len(found) == 1, f"keyCRM order {order_id} is in MoySklad {len(found)} times"
    return found[0]


def paid(world: KeyCRMWorld, erp_id: str, kind: str) -> list[dict[str, Any]]:
    """MoySklad payment documents of ``kind`` linked to the order."""
    return [
        p
        for p in world.moysklad.store.of_type(kind).values()
        if any(str(op["meta"]["href"]).endswith(erp_id) for op in p.get("operations") or [])
    ]


def test_keycrm_payments_become_moysklad_payments_once_posted_when_paid_and_updated_when_edited(
    world: KeyCRMWorld,
) -> None:
    kc = world.keycrm
    order = place(world, [1, 2])
    card = kc.add_payment(order["id"], 150.5, CARD, "not_paid", description="Передплата")
    cash = kc.add_payment(order["id"], 20, CASH_ON_DELIVERY, "paid")
    upload(world)
    ordered = erp_order(world, order["id"])
    first = documents(world)
    assert first["made"] == {"bank": 1, "cash": 1} and not first["refused"]
    (bank,), (till,) = paid(world, ordered["id"], "paymentin"), paid(world, ordered["id"], "cashin")
    assert (bank["sum"], bank["applicable"], bank["name"]) == (15050.0, False, str(card["id"]))
    assert (till["sum"], till["applicable"], till["name"]) == (2000.0, True, str(cash["id"]))
    assert erp_order(world, order["id"])["payedSum"] == 2000.0  # only the posted one counts

    upload(world)
    again = documents(world)  # a re-run: nothing new, nothing doubled
    assert again.get("made", {}) == {} and again.get("updated", 0) == 0

    kc.edit_payment(order["id"], card["id"], status="paid")  # the card payment came through
    kc.edit_payment(order["id"], card["id"], amount=160)  # and was corrected
    upload(world)
    assert documents(world)["updated"] == 1
    (bank_now,), (till_now,) = paid(world, ordered["id"], "paymentin"), paid(world, ordered["id"], "cashin")
    assert bank_now["id"] == bank["id"] and (bank_now["sum"], bank_now["applicable"]) == (16000.0, True)
    assert till_now["id"] == till["id"]
    assert erp_order(world, order["id"])["payedSum"] == 18000.0
    assert len(world.moysklad.store.of_type("paymentin")) == 1 and len(world.moysklad.store.of_type("cashin")) == 1


def test_a_payment_of_an_unmapped_method_or_cancelled_makes_no_posted_document(world: KeyCRMWorld) -> None:
    kc = world.keycrm
    kc.state.payment_methods.append({"id": 3, "name": "Бонуси"})
    order = place(world, [1])
    kc.add_payment(order["id"], 5, 3, "paid")  # not in mappings.payment_documents: no document
    refund = kc.add_payment(order["id"], 30, CARD, "canceled")
    upload(world)
    ordered = erp_order(world, order["id"])
    assert documents(world)["made"] == {"bank": 1}
    (doc,) = paid(world, ordered["id"], "paymentin")
    assert doc["applicable"] is False and doc["name"] == str(refund["id"])
    assert paid(world, ordered["id"], "cashin") == []


def positions(world: KeyCRMWorld, order_id: int) -> list[tuple[str, float, float]]:
    """The MoySklad order's positions: (item id, quantity, price in kopecks), sorted."""
    rows = erp_order(world, order_id)["_positions"]
    return sorted((str(p["assortment"]["meta"]["href"]).rsplit("/", 1)[1], p["quantity"], p["price"]) for p in rows)


def test_by_default_an_order_received_again_takes_its_new_lines(world: KeyCRMWorld) -> None:
    configure(world, keep_product_info=False)
    order = place(world, [1, 2])
    upload(world)
    first = positions(world, order["id"])
    sku = order["products"][0]["sku"]
    world.keycrm.edit_lines(order["id"], [{"sku": sku, "quantity": 5, "price": 90}], buyer_comment="Дзвоніть")
    upload(world)
    now = positions(world, order["id"])
    assert now != first and sorted(q for _, q, _ in now) == [2.0, 5.0] and 9000.0 in {p for *_, p in now}
    assert erp_order(world, order["id"])["description"] == "Дзвоніть"


def test_with_keep_product_info_an_order_received_again_keeps_its_lines_and_takes_the_rest(
    world: KeyCRMWorld,
) -> None:
    configure(world, keep_product_info=True)
    try:
        order = place(world, [1, 2])
        upload(world)
        first, state_before = positions(world, order["id"]), erp_order(world, order["id"])["state"]["meta"]["href"]
        sku = order["products"][0]["sku"]
        world.keycrm.edit_lines(order["id"], [{"sku": sku, "quantity": 5, "price": 90}], buyer_comment="Після 18:00")
        world.keycrm.change_status(order["id"], 2)
        assert upload(world)["accepted"] == 1  # received again and sent
        held = erp_order(world, order["id"])
        assert positions(world, order["id"]) == first  # quantities and prices as first received
        assert held["description"] == "Після 18:00"  # the order's own fields follow keyCRM
        assert held["state"]["meta"]["href"] != state_before  # and its status (2 → Подтвержден)
        # a new order is taken as it is, option or not
        fresh = place(world, [3])
        upload(world)
        assert [q for _, q, _ in positions(world, fresh["id"])] == [3.0]
    finally:
        configure(world, keep_product_info=False)
