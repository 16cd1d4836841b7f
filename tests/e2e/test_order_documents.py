"""Order documents end to end: orders placed in the retailCRM sandbox are uploaded, then move through
statuses and payments; the documents flow makes their shipments, returns and payments in the MoySklad
sandbox, each exactly once, with MoySklad's consequences (reserve released, stock taken and put back,
paid sums), and the shipments' cost prices come back to the CRM's order lines.

Real flows, real HTTP to the sandboxes on loopback, the real hub store.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

import connectors.moysklad.sandbox.dictionaries as dictionaries
from connectors.moysklad.sandbox.staff import add_employee
from connectors.retailcrm.sandbox.custom_fields import add_dictionary as add_crm_dictionary
from connectors.retailcrm.sandbox.custom_fields import add_field as add_crm_field
from connectors.retailcrm.sandbox.users import add_user
from deployments.demo import DemoWorld, demo_world
from tests.e2e.test_full_import import run_import
from tests.run_results import summary_of

pytestmark = pytest.mark.usefixtures("prefect_backend")

SECOND_ACCOUNT = "40702810500000000002"  # the sandbox organization's second settlement account


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoWorld]:
    with demo_world(tmp_path_factory.mktemp("order-documents"), 30) as running:
        config = yaml.safe_load(running.config_path.read_text(encoding="utf-8"))
        demo = config["integrations"]["demo"]
        demo["flows"]["orders"] = {"from": "crm", "to": "ms"}
        demo["mappings"].update(
            {
                "order_stores": {"msk": "Основной склад"},
                "delivery_types": {"self-delivery": None},
                "payment_documents": {"bank-card": "bank", "cash": "cash"},
                "payment_accounts": {"bank-card": SECOND_ACCOUNT},
                # two MoySklad fields take the CRM's `source`: coming back, the last one wins
                "custom_fields": {
                    "Канал продаж": "channel",
                    "Комментарий склада": "warehouse_note",
                    "Источник": "source",
                    "Источник заказа": "source",
                },
                "managers": {},  # managers are exchanged, matched by e-mail or name
            }
        )
        demo["options"]["orders"] = {"reserve": True}
        demo["options"]["documents"] = {
            "shipment_statuses": ["send-to-delivery"],
            "shipment_cancel_statuses": ["cancel-other"],
            "moves": True,  # only orders whose lines name another warehouse get one
        }
        running.config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        crm_channels = [("site", "Сайт"), ("market", "Маркетплейс")]  # the CRM's field holds the code
        add_crm_dictionary(running.retailcrm.state, "channels", "Каналы", crm_channels)
        add_crm_field(running.retailcrm.state, "channel", "Канал продаж", "dictionary", "channels")
        channels = dictionaries.add_dictionary(running.moysklad, "Каналы продаж")
        dictionaries.add_entry(running.moysklad, channels["id"], {"name": "Сайт"})
        dictionaries.add_custom_field(running.moysklad, "customerorder", "Канал продаж", dictionary=channels)
        for name in ("Комментарий склада", "Источник", "Источник заказа"):
            dictionaries.add_custom_field(running.moysklad, "customerorder", name)
        run_import(running)
        upload(running)  # the first read only sets the cursor
        yield running


def upload(world: DemoWorld) -> dict[str, Any]:
    from flows.order_upload import order_upload

    return summary_of(order_upload("demo", config_path=str(world.config_path), trigger="test"))


def documents(world: DemoWorld) -> dict[str, Any]:
    from flows.order_documents import order_documents

    return summary_of(order_documents("demo", config_path=str(world.config_path), trigger="test"))


def ms(world: DemoWorld, kind: str) -> dict[str, dict[str, Any]]:
    return dict(world.moysklad.store.of_type(kind))


def ref(value: dict[str, Any]) -> str:
    return str(value["meta"]["href"]).rsplit("/", 1)[1]


def place(world: DemoWorld, quantities: list[int], **extra: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """An order placed by a manager, of stocked catalog offers (one per quantity), shipped from msk."""
    main = next(s["id"] for s in ms(world, "store").values() if s["name"] == "Основной склад")
    ledger = world.moysklad.ledger.totals
    stocked = {aid for (aid, store), m in ledger.items() if store == main and m["stock"] - m["reserve"] >= 10}
    offers = sorted((o for o in world.retailcrm.offers.values() if o.get("xmlId") in stocked), key=lambda o: o["id"])
    used = {int(i["offer"]["id"]) for o in world.retailcrm.orders.values() for i in o.get("items") or []}
    chosen = [o for o in offers if o["id"] not in used][: len(quantities)]
    order = world.retailcrm.place_order(
        {
            "status": "new",
            "firstName": "Ада",
            "lastName": "Лавлейс",
            "shipmentStore": "msk",
            "items": [
                {"offer": {"id": o["id"]}, "quantity": q, "initialPrice": 100 + 10 * n}
                for n, (o, q) in enumerate(zip(chosen, quantities, strict=True))
            ],
            **extra,
        }
    )
    return order, chosen


def erp_order(world: DemoWorld, crm_id: int) -> dict[str, Any]:
    return next(o for o in ms(world, "customerorder").values() if o["externalCode"] == str(crm_id))


def docs_of(world: DemoWorld, kind: str, field: str, target_id: str) -> list[dict[str, Any]]:
    return [d for d in ms(world, kind).values() if d.get(field) and ref(d[field]) == target_id]


def test_an_order_that_passed_a_shipment_status_is_shipped_once_with_its_lines(world: DemoWorld) -> None:
    order, offers = place(world, [2, 1])
    upload(world)
    ordered = erp_order(world, order["id"])
    ledger = world.moysklad.ledger.totals
    store = ref(ordered["store"])
    before = {o["xmlId"]: dict(ledger[(o["xmlId"], store)]) for o in offers}
    world.retailcrm.user_edit_order(order["id"], {"status": "send-to-delivery"})
    world.retailcrm.user_edit_order(order["id"], {"status": "delivering"})  # passed it between two reads
    upload(world)

    first = documents(world)
    assert first["made"] == {"shipment": 1} and first["settled"] == first["looked_at"] >= 1
    (shipment,) = docs_of(world, "demand", "customerOrder", ordered["id"])
    assert shipment["applicable"] is True and shipment["name"] == order["number"]
    assert ref(shipment["store"]) == store and ref(shipment["agent"]) == ref(ordered["agent"])
    lines = sorted((ref(p["assortment"]), p["quantity"], p["price"]) for p in shipment["_positions"])
    assert lines == sorted((ref(p["assortment"]), p["quantity"], p["price"]) for p in ordered["_positions"])
    for offer, qty in zip(offers, (2, 1), strict=True):
        now = ledger[(offer["xmlId"], store)]
        assert now["stock"] == before[offer["xmlId"]]["stock"] - qty  # taken from stock
        assert now["reserve"] == before[offer["xmlId"]]["reserve"] - qty  # and the reserve released
    items = world.retailcrm.orders[order["id"]]["items"]
    products = {o["xmlId"]: world.moysklad.store.get("product", o["xmlId"]) for o in offers}
    buy = {k: p["buyPrice"]["value"] for k, p in products.items() if p is not None}
    assert len(buy) == len(offers)
    assert {i["offer"]["xmlId"]: i["purchasePrice"] for i in items} == {k: v / 100 for k, v in buy.items()}

    again = documents(world)  # nothing moved: nothing read, nothing made
    upload(world)  # the cost prices we wrote come back in the history: still nothing due
    third = documents(world)
    assert again.get("made", {}) == {} and third.get("made", {}) == {}
    assert len(docs_of(world, "demand", "customerOrder", ordered["id"])) == 1


def test_a_cancel_after_two_shipments_makes_two_returns(world: DemoWorld) -> None:
    order, offers = place(world, [3])
    upload(world)
    ordered = erp_order(world, order["id"])
    position = ordered["_positions"][0]
    # the warehouse ships one unit by hand in MoySklad; the hub's shipment takes the rest
    world.moysklad.writer.create(
        "demand",
        {
            "organization": ordered["organization"],
            "agent": ordered["agent"],
            "store": ordered["store"],
            "customerOrder": {"meta": ordered["meta"]},
            "positions": [{"assortment": position["assortment"], "quantity": 1, "price": position["price"]}],
        },
    )
    world.retailcrm.user_edit_order(order["id"], {"status": "send-to-delivery"})
    upload(world)
    assert documents(world)["made"] == {"shipment": 1}
    shipments = docs_of(world, "demand", "customerOrder", ordered["id"])
    assert sorted(s["_positions"][0]["quantity"] for s in shipments) == [1, 2]
    stock_before = world.moysklad.ledger.totals[(offers[0]["xmlId"], ref(ordered["store"]))]["stock"]

    world.retailcrm.user_edit_order(order["id"], {"status": "cancel-other"})
    upload(world)
    assert documents(world)["made"] == {"return": 2}
    returns = [r for s in shipments for r in docs_of(world, "salesreturn", "demand", s["id"])]
    assert len(returns) == 2 and {ref(r["demand"]) for r in returns} == {s["id"] for s in shipments}
    assert world.moysklad.ledger.totals[(offers[0]["xmlId"], ref(ordered["store"]))]["stock"] == stock_before + 3
    world.retailcrm.user_edit_order(order["id"], {"managerComment": "отменён клиентом"})
    upload(world)
    documents(world)
    assert len([r for s in shipments for r in docs_of(world, "salesreturn", "demand", s["id"])]) == 2


def test_a_payment_edited_twice_is_one_document_updated(world: DemoWorld) -> None:
    order, _ = place(world, [1])
    crm = world.retailcrm
    card = crm.user_add_payment(order["id"], {"type": "bank-card", "amount": 110, "status": "not-paid"})
    cash = crm.user_add_payment(order["id"], {"type": "cash", "amount": 5, "status": "paid"})
    upload(world)
    ordered = erp_order(world, order["id"])
    assert documents(world)["made"] == {"bank": 1, "cash": 1}

    def paid() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        def linked(kind: str) -> list[dict[str, Any]]:
            return [p for p in ms(world, kind).values() if any(ref(op) == ordered["id"] for op in p["operations"])]

        return linked("paymentin"), linked("cashin")

    (bank,), (till,) = paid()
    assert (bank["sum"], bank["applicable"], bank["name"]) == (11000.0, False, str(card))
    assert bank["organizationAccount"]["meta"]["href"].endswith(
        next(
            a["id"]
            for a in next(iter(ms(world, "organization").values()))["_accounts"]
            if a["accountNumber"] == SECOND_ACCOUNT
        )
    )
    assert (till["sum"], till["applicable"], till["name"]) == (500.0, True, str(cash))
    assert erp_order(world, order["id"])["payedSum"] == 500.0  # only the posted one counts

    crm.user_edit_payment(card, {"status": "paid"})
    upload(world)
    assert documents(world)["updated"] == 1
    crm.user_edit_payment(card, {"amount": 120})
    upload(world)
    assert documents(world)["updated"] == 1
    (bank_now,), (till_now,) = paid()
    assert bank_now["id"] == bank["id"] and (bank_now["sum"], bank_now["applicable"]) == (12000.0, True)
    assert till_now["id"] == till["id"]
    assert erp_order(world, order["id"])["payedSum"] == 12500.0


def test_an_order_deleted_in_the_crm_is_journaled_or_with_force_delete_deleted_with_its_documents(
    world: DemoWorld,
) -> None:
    from hub.config import load_config
    from tasks.hub_tasks import open_hub_store

    kept, _ = place(world, [1])
    dropped, offers = place(world, [2])
    upload(world)
    for order in (kept, dropped):
        world.retailcrm.user_edit_order(order["id"], {"status": "send-to-delivery"})
    upload(world)
    documents(world)
    kept_erp, dropped_erp = erp_order(world, kept["id"]), erp_order(world, dropped["id"])
    store = ref(dropped_erp["store"])
    stock = world.moysklad.ledger.totals[(offers[0]["xmlId"], store)]["stock"]

    world.retailcrm.user_delete_order(kept["id"])
    upload(world)
    assert documents(world)["kept_deleted"] == 1
    assert kept_erp["id"] in ms(world, "customerorder") and docs_of(world, "demand", "customerOrder", kept_erp["id"])
    hub = open_hub_store(load_config(world.config_path))
    try:
        warned = [e for e in hub.journal.list(integration="demo") if e.event == "documents.deleted-kept"]
    finally:
        hub.close()
    assert len(warned) == 1 and kept_erp["id"] in warned[0].message

    text = world.config_path.read_text(encoding="utf-8")
    config = yaml.safe_load(text)
    config["integrations"]["demo"]["options"]["documents"]["force_delete"] = True
    world.config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    try:
        world.retailcrm.user_delete_order(dropped["id"])
        upload(world)
        assert documents(world)["deleted"] == 1
        again = documents(world)  # nothing left to do, nothing deleted twice
    finally:
        world.config_path.write_text(text, encoding="utf-8")
    assert again.get("deleted", 0) == 0
    assert dropped_erp["id"] not in ms(world, "customerorder")
    assert not docs_of(world, "demand", "customerOrder", dropped_erp["id"])
    assert world.moysklad.ledger.totals[(offers[0]["xmlId"], store)]["stock"] == stock + 2  # the shipment undone


def test_a_payment_posted_and_changed_in_moysklad_comes_back_to_the_crm_once(world: DemoWorld) -> None:
    order, _ = place(world, [1])
    card = world.retailcrm.user_add_payment(order["id"], {"type": "bank-card", "amount": 50, "status": "not-paid"})
    upload(world)
    assert documents(world)["made"] == {"bank": 1}
    (doc,) = [p for p in ms(world, "paymentin").values() if p.get("externalCode", "").endswith(f":payment:{card}")]
    assert doc["applicable"] is False
    link = [{"meta": erp_order(world, order["id"])["meta"], "linkedSum": 4000.0}]
    # the accountant posts it for the sum that came in
    world.moysklad.writer.update("paymentin", doc["id"], {"applicable": True, "sum": 4000.0, "operations": link})
    back = documents(world)
    assert back["payments_back"] == 1 and back.get("updated", 0) == 0
    payment = world.retailcrm.state.payments[card]
    assert (payment["status"], payment["amount"]) == ("paid", 40.0)
    upload(world)  # the CRM's history of our edit: nothing to send back to MoySklad, nothing to set again
    quiet = documents(world)
    assert quiet.get("updated", 0) == 0 and quiet.get("payments_back", 0) == 0
    assert ms(world, "paymentin")[doc["id"]]["sum"] == 4000.0


def test_a_line_reserved_at_another_warehouse_moves_to_the_shipment_store_once(world: DemoWorld) -> None:
    stores = {s["name"]: s["id"] for s in ms(world, "store").values()}
    main, third = stores["Основной склад"], stores["Склад 3"]  # msk ships from main; spb is Склад 3's
    ledger = world.moysklad.ledger.totals
    both = {
        aid
        for (aid, store), m in ledger.items()
        if store == third and m["stock"] >= 5 and ledger[(aid, main)]["stock"] - ledger[(aid, main)]["reserve"] >= 5
    }
    used = {int(i["offer"]["id"]) for o in world.retailcrm.orders.values() for i in o.get("items") or []}
    here, there = sorted(
        (o for o in world.retailcrm.offers.values() if o.get("xmlId") in both and o["id"] not in used),
        key=lambda o: o["id"],
    )[:2]
    order = world.retailcrm.place_order(
        {
            "status": "new",
            "firstName": "Грейс",
            "lastName": "Хоппер",
            "shipmentStore": "msk",
            "items": [
                {"offer": {"id": here["id"]}, "quantity": 1, "initialPrice": 100},
                {"offer": {"id": there["id"]}, "quantity": 2, "initialPrice": 200, "store": {"code": "spb"}},
            ],
        }
    )
    upload(world)
    ordered = erp_order(world, order["id"])
    before = {k: dict(ledger[k]) for k in ((there["xmlId"], main), (there["xmlId"], third), (here["xmlId"], main))}
    world.retailcrm.user_edit_order(order["id"], {"status": "send-to-delivery"})
    upload(world)

    made = documents(world)
    assert made["made"] == {"move": 1, "shipment": 1}
    (move,) = docs_of(world, "move", "customerOrder", ordered["id"])
    assert (ref(move["sourceStore"]), ref(move["targetStore"]), move["applicable"]) == (third, main, True)
    assert [(ref(p["assortment"]), p["quantity"]) for p in move["_positions"]] == [(there["xmlId"], 2.0)]
    assert [ref(m) for m in erp_order(world, order["id"])["moves"]] == [move["id"]]
    # the posted move put the goods at the shipment store, and the shipment took them from there
    assert ledger[(there["xmlId"], third)]["stock"] == before[(there["xmlId"], third)]["stock"] - 2
    assert ledger[(there["xmlId"], main)]["stock"] == before[(there["xmlId"], main)]["stock"]
    assert ledger[(here["xmlId"], main)]["stock"] == before[(here["xmlId"], main)]["stock"] - 1
    report = {(r["assortmentId"], r["storeId"]): r["stock"] for r in world.moysklad.ledger.report(by_store=True)}
    assert report[(there["xmlId"], third)] == before[(there["xmlId"], third)]["stock"] - 2  # what stock sync reads

    world.retailcrm.user_edit_order(order["id"], {"status": "delivering"})  # looked at again: nothing due
    upload(world)
    again = documents(world)
    assert again["looked_at"] >= 1 and again.get("made", {}) == {}
    assert len(docs_of(world, "move", "customerOrder", ordered["id"])) == 1


def attributes(order: dict[str, Any]) -> dict[str, Any]:
    """An ERP order's custom fields by name (a dictionary value by its entry's name)."""
    return {
        a["name"]: a["value"]["name"] if isinstance(a["value"], dict) else a["value"]
        for a in order.get("attributes") or []
    }


def field_meta(world: DemoWorld, name: str) -> dict[str, Any]:
    return next(a["meta"] for a in world.moysklad.store.attributes["customerorder"] if a["name"] == name)


def test_custom_fields_and_the_manager_go_both_ways_a_missing_dictionary_value_made_once_no_employee_made(
    world: DemoWorld,
) -> None:
    from hub.config import load_config
    from tasks.hub_tasks import open_hub_store

    (channels,) = [d for d in ms(world, "customentity").values() if d["name"] == "Каналы продаж"]

    def entries() -> list[str]:
        return sorted(e["name"] for e in ms(world, f"customentity/{channels['id']}").values())

    anna = add_employee(world.moysklad, "Анна", "Петрова", "anna@shop.example")
    ivan = add_employee(world.moysklad, "Иван", "Сидоров", "ivan@shop.example")
    staff = len(ms(world, "employee"))
    by_mail = add_user(world.retailcrm.state, "Анна", "Петрова", "ANNA@shop.example")
    by_name = add_user(world.retailcrm.state, "Иван", "Сидоров", "sidorov@crm.example")
    ghost = add_user(world.retailcrm.state, "Пётр", "Неизвестный", "petr@crm.example")
    fields = {"channel": "market", "warehouse_note": "хрупкое", "source": "реклама"}
    first, _ = place(world, [1], customFields=fields, managerId=by_mail["id"])
    second, _ = place(world, [1], customFields={"channel": "market"}, managerId=by_name["id"])  # same new value
    third, _ = place(world, [1], managerId=ghost["id"])
    upload(world)
    assert entries() == ["Маркетплейс", "Сайт"]  # made once for both orders
    assert attributes(erp_order(world, first["id"])) == {
        "Канал продаж": "Маркетплейс",
        "Комментарий склада": "хрупкое",
        "Источник": "реклама",
        "Источник заказа": "реклама",
    }
    assert attributes(erp_order(world, second["id"])) == {"Канал продаж": "Маркетплейс"}
    owners = [erp_order(world, o["id"]).get("owner") for o in (first, second, third)]
    assert [ref(o) if o else None for o in owners] == [anna["id"], ivan["id"], None]  # the unknown one still goes
    assert len(ms(world, "employee")) == staff  # nobody was made
    hub = open_hub_store(load_config(world.config_path))
    try:
        unknown = [e for e in hub.journal.list(integration="demo") if e.event == "orders.manager-unknown"]
    finally:
        hub.close()
    assert [(e.data or {}).get("manager_id") for e in unknown] == [str(ghost["id"])]
    world.retailcrm.user_edit_order(first["id"], {"customFields": {"warehouse_note": "стекло"}})
    upload(world)  # a re-run with the entry in MoySklad makes nothing
    assert entries() == ["Маркетплейс", "Сайт"]
    assert attributes(erp_order(world, first["id"]))["Комментарий склада"] == "стекло"
    assert documents(world).get("fields_back", 0) == 0  # our own uploads are no change made in MoySklad

    erp_id = erp_order(world, first["id"])["id"]
    (site,) = [e for e in ms(world, f"customentity/{channels['id']}").values() if e["name"] == "Сайт"]
    world.moysklad.writer.update(  # a MoySklad user edits the order and hands it to Ivan
        "customerorder",
        erp_id,
        {
            "owner": {"meta": ivan["meta"]},
            "attributes": [
                {"meta": field_meta(world, "Канал продаж"), "value": {"meta": site["meta"]}},
                {"meta": field_meta(world, "Комментарий склада"), "value": "в коробке"},
                {"meta": field_meta(world, "Источник"), "value": "звонок"},  # not the last field of `source`
            ],
        },
    )
    assert documents(world)["fields_back"] == 1
    crm_order = world.retailcrm.orders[first["id"]]
    assert {k: crm_order["customFields"][k] for k in ("channel", "warehouse_note", "source")} == {
        "channel": "site",  # the CRM's dictionary element of that name, by its code
        "warehouse_note": "в коробке",
        "source": "реклама",  # `Источник` is not the last MoySklad field of `source`
    }
    assert crm_order["managerId"] == by_name["id"]
    world.moysklad.writer.update(
        "customerorder", erp_id, {"attributes": [{"meta": field_meta(world, "Источник заказа"), "value": "партнёр"}]}
    )
    assert documents(world)["fields_back"] == 1
    assert world.retailcrm.orders[first["id"]]["customFields"]["source"] == "партнёр"  # the last one wins
    upload(world)  # the CRM's history of our edits: uploaded, and nothing comes back again
    assert documents(world).get("fields_back", 0) == 0
    assert entries() == ["Маркетплейс", "Сайт"] and ref(erp_order(world, first["id"])["owner"]) == ivan["id"]
