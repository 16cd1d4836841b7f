"""Order upload end to end: orders placed in the retailCRM sandbox after a full import reach the MoySklad
sandbox once, with their lines, customer, store and state; a re-run creates nothing; an order whose
offer the hub's catalog does not have is parked with its reason and listed by ``skladbridge queue list``;
a state changed in MoySklad comes back as the mapped status, and neither direction echoes the other.

Real flows, real HTTP to the sandboxes on loopback, the real hub store.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from connectors.retailcrm.client import RetailCRMClient
from connectors.retailcrm.sandbox.orders import create_order
from deployments.demo import DemoWorld, demo_world
from hub.config import load_config
from hub.store import open_store
from tests.e2e.test_full_import import run_import
from tests.run_results import summary_of

pytestmark = pytest.mark.usefixtures("prefect_backend")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoWorld]:
    with demo_world(tmp_path_factory.mktemp("order-upload"), 30) as running:
        config = yaml.safe_load(running.config_path.read_text(encoding="utf-8"))
        demo = config["integrations"]["demo"]
        demo["flows"]["orders"] = {"from": "crm", "to": "ms"}
        demo["flows"]["statuses"] = {"from": "ms", "to": "crm"}
        demo["mappings"].update(
            {
                "statuses": {"new": "Новый", "assembling": "Подтвержден"},
                "order_stores": {"msk": "Основной склад"},
                "delivery_types": {"self-delivery": None},
            }
        )
        demo["options"]["orders"] = {"upload_statuses": ["new", "assembling"]}
        running.config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        run_import(running)
        yield running


def upload(world: DemoWorld) -> dict[str, Any]:
    from flows.order_upload import order_upload

    return summary_of(order_upload("demo", config_path=str(world.config_path), trigger="test"))


def status_sync(world: DemoWorld) -> dict[str, Any]:
    from flows.order_status_sync import order_status_sync

    return summary_of(order_status_sync("demo", config_path=str(world.config_path), trigger="test"))


def ms(world: DemoWorld, kind: str) -> dict[str, dict[str, Any]]:
    return dict(world.moysklad.store.of_type(kind))


def ref(value: dict[str, Any]) -> str:
    return str(value["meta"]["href"]).rsplit("/", 1)[1]


def crm_offers(world: DemoWorld, n: int) -> list[dict[str, Any]]:
    """``n`` CRM offers our feed loaded (their xmlId is the MoySklad id of a product or variant)."""
    live = set(ms(world, "product")) | set(ms(world, "variant"))
    return sorted((o for o in world.retailcrm.offers.values() if o.get("xmlId") in live), key=lambda o: o["id"])[:n]


def place(world: DemoWorld, data: dict[str, Any]) -> dict[str, Any]:
    """An order placed as a manager does (history source ``user``, not our key)."""
    return create_order(world.retailcrm.state, data, "demo", None)


def test_orders_reach_the_erp_once_with_lines_customer_store_and_state(world: DemoWorld) -> None:
    first = upload(world)
    assert first["first_read"] and first["orders_read"] == 0  # only the cursor: the past is not uploaded
    a, b = crm_offers(world, 2)
    one = place(
        world,
        {
            "status": "new",
            "firstName": "Ада",
            "lastName": "Лавлейс",
            "phone": "8 (999) 111-22-33",
            "shipmentStore": "msk",
            "delivery": {"code": "self-delivery"},
            "items": [
                {"offer": {"id": a["id"]}, "quantity": 2, "initialPrice": 150},
                {"offer": {"id": b["id"]}, "quantity": 1, "initialPrice": 90},
            ],
        },
    )
    two = place(
        world,
        {
            "status": "assembling",
            "customer": {"id": one["customer"]["id"]},
            "items": [{"offer": {"id": b["id"]}, "quantity": 3, "initialPrice": 90}],
        },
    )
    draft = place(
        world, {"status": "cancel-other", "firstName": "Бэбидж", "items": [{"offer": {"id": a["id"]}, "quantity": 1}]}
    )  # not an upload status
    counterparties = len(ms(world, "counterparty"))

    second = upload(world)
    assert (second["orders_read"], second["eligible"], second["accepted"], second["created"]) == (3, 2, 2, 2)
    assert second["customers_created"] == 1 and len(ms(world, "counterparty")) == counterparties + 1
    orders = {o["externalCode"]: o for o in ms(world, "customerorder").values()}
    assert set(orders) == {str(one["id"]), str(two["id"])} and str(draft["id"]) not in orders
    states = {s["name"]: s["id"] for s in world.moysklad.store.states}
    stores = {s["name"]: s["id"] for s in ms(world, "store").values()}
    first_order, second_order = orders[str(one["id"])], orders[str(two["id"])]
    assert ref(first_order["state"]) == states["Новый"] and ref(second_order["state"]) == states["Подтвержден"]
    assert ref(first_order["store"]) == stores["Основной склад"] and "store" not in second_order
    assert ref(first_order["agent"]) == ref(second_order["agent"])  # one counterparty, found by its link
    agent = ms(world, "counterparty")[ref(first_order["agent"])]
    assert agent["phone"] == "+79991112233" and agent["name"] == "Лавлейс Ада"
    assert first_order["name"] == one["number"]
    positions = sorted((ref(p["assortment"]), p["quantity"], p["price"]) for p in first_order["_positions"])
    assert positions == sorted([(a["xmlId"], 2.0, 15000.0), (b["xmlId"], 1.0, 9000.0)])
    crm = world.retailcrm.orders
    assert crm[one["id"]]["externalId"] == first_order["id"] and crm[two["id"]]["externalId"] == second_order["id"]

    before = (len(ms(world, "customerorder")), len(ms(world, "counterparty")))
    third = upload(world)  # our own write-back is in the history under our key: nothing to upload
    assert (third["orders_read"], third["queued"], third["accepted"], third["created"]) == (0, 0, 0, 0)
    assert (len(ms(world, "customerorder")), len(ms(world, "counterparty"))) == before

    world.retailcrm.user_edit_order(one["id"], {"status": "assembling"})  # a later edit updates the same order
    fourth = upload(world)
    assert (fourth["accepted"], fourth["created"]) == (1, 0) and len(ms(world, "customerorder")) == before[0]
    assert ref(ms(world, "customerorder")[first_order["id"]]["state"]) == states["Подтвержден"]


def test_an_order_with_an_offer_unknown_to_the_hub_is_parked_and_listed(world: DemoWorld) -> None:
    from deployments.cli import app

    upload(world)  # the cursor is set (when this test runs alone)
    world.retailcrm.seed_catalog(1, site="demo")
    foreign = world.retailcrm.state.offers[max(world.retailcrm.state.offers)]
    foreign["xmlId"] = "not-a-moysklad-id"  # an offer another integration loaded into the CRM
    good = crm_offers(world, 1)[0]
    placed = place(
        world,
        {
            "status": "new",
            "firstName": "Грейс",
            "phone": "+7 999 555-00-11",
            "items": [{"offer": {"id": good["id"]}, "quantity": 1}, {"offer": {"id": foreign["id"]}, "quantity": 1}],
        },
    )
    count = len(ms(world, "customerorder"))
    result = upload(world)
    reason = result["parked_reasons"][str(placed["id"])]
    assert "line 2" in reason and "offer not-a-moysklad-id is not in the catalog — publish the catalog" in reason
    assert result["parked"] == 1 and len(ms(world, "customerorder")) == count
    # nothing moved: parked once, not again (run as the README shows it)
    again = CliRunner().invoke(
        app, ["run", "order-upload", "--integration", "demo", "--config", str(world.config_path)]
    )
    assert again.exit_code == 0, again.output
    for row in ("orders parked (see `skladbridge queue list`)", "orders queued", "orders accepted by the ERP"):
        assert re.search(rf"^\s*{re.escape(row)}:\s+0\s*$", again.output, re.M), again.output

    listed = CliRunner().invoke(app, ["queue", "list", "--config", str(world.config_path), "--status", "dead"])
    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.output.splitlines() if f"order {placed['number']} parked: line 2" in line)
    item_id, _, kind, status = row.split()[:4]
    assert (kind, status) == ("orders", "dead")
    shown = CliRunner().invoke(app, ["queue", "show", item_id, "--config", str(world.config_path)])
    assert shown.exit_code == 0 and "offer not-a-moysklad-id is not in the catalog" in shown.output, shown.output


def test_a_state_changed_in_the_erp_comes_back_as_the_status_and_nothing_echoes(world: DemoWorld) -> None:
    upload(world)  # the cursor is set (when this test runs alone)
    offer = crm_offers(world, 1)[0]
    placed = place(
        world,
        {
            "status": "new",
            "firstName": "Линус",
            "phone": "+7 999 777-00-11",
            "items": [{"offer": {"id": offer["id"]}, "quantity": 1}],
        },
    )
    assert upload(world)["created"] == 1
    erp_id = next(o["id"] for o in ms(world, "customerorder").values() if o["externalCode"] == str(placed["id"]))
    edit_path = f"/api/v5/orders/{placed['id']}/edit"
    first = status_sync(world)  # the state the upload set maps back to the status the order has
    assert first["sent"] == 0 and first["ours"] >= 1 and world.retailcrm.orders[placed["id"]]["status"] == "new"

    confirmed = next(s for s in world.moysklad.store.states if s["name"] == "Подтвержден")
    world.moysklad.writer.update("customerorder", erp_id, {"state": {"meta": confirmed["meta"]}})
    second = status_sync(world)
    assert second["sent"] == 1 and world.retailcrm.orders[placed["id"]]["status"] == "assembling"
    # read again inside the overlap: set once (run as a user does, from the command line)
    from deployments.cli import app

    again = CliRunner().invoke(
        app, ["run", "order-status-sync", "--integration", "demo", "--config", str(world.config_path)]
    )
    assert again.exit_code == 0, again.output
    assert re.search(r"statuses set on the channel:\s+0\s*$", again.output, re.M), again.output
    after = upload(world)  # our status edit is in the CRM's history under our key: not read, not sent back
    assert (after["orders_read"], after["accepted"]) == (0, 0)
    assert world.retailcrm.log.count(path_prefix=edit_path) == 1  # one edit over three cycles


def test_orders_a_site_module_creates_with_the_hubs_key_are_uploaded_and_named(world: DemoWorld) -> None:
    """A shop's site module that shares the hub's retailCRM key: its orders are not the hub's echo."""
    upload(world)  # the cursor is set (when this test runs alone)
    offer = crm_offers(world, 1)[0]

    async def site_module() -> list[str]:
        async with RetailCRMClient(
            os.environ["SKLADBRIDGE_DEMO_CRM_URL"], api_key=os.environ["SKLADBRIDGE_DEMO_CRM_KEY"]
        ) as crm:
            return [
                str(
                    (
                        await crm.create_order(
                            {
                                "status": "new",
                                "firstName": name,
                                "phone": phone,
                                "items": [{"offer": {"xmlId": offer["xmlId"]}, "quantity": 1}],
                            },
                            site="demo",
                        )
                    )["id"]
                )
                for name, phone in (("Сайт", "+7 999 300-00-01"), ("Скрипт", "+7 999 300-00-02"))
            ]

    placed = asyncio.run(site_module())

    result = upload(world)
    assert (result["orders_read"], result["accepted"], result["created"]) == (2, 2, 2)
    assert sorted(result["shared_credential_orders"]) == sorted(placed)
    assert {o["externalCode"] for o in ms(world, "customerorder").values()} >= set(placed)
    store = open_store(load_config(world.config_path).effective_database_url())
    try:
        warned = [
            e for e in store.journal.list(integration="demo", level="warning") if e.event == "orders.shared-credential"
        ]
    finally:
        store.close()
    assert warned and all(oid in warned[0].message for oid in placed) and "systems.crm" in warned[0].message
    after = upload(world)  # the ERP ids the hub wrote back are its own echo: nothing read, no warning
    assert (after["orders_read"], after["accepted"], after["shared_credential_orders"]) == (0, 0, [])
