"""Two-way sync end to end: customers both ways, "accept changes from MoySklad", retail sales.

Real flows, real HTTP to the sandboxes on loopback, the real hub store. MoySklad's changes are made
through its API as any user's app makes them, and the sandbox posts its webhooks (``requestId``,
retries) to the receiver served by uvicorn, which runs the real ``two-way-sync`` flow.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from connectors.moysklad.client import MoySkladClient
from connectors.sandboxing import LoopbackServer, free_port
from deployments.cli import app as cli
from deployments.demo import DemoWorld, demo_world
from deployments.service.webhooks import hook_url, webhook_app
from hub.config import load_config
from tasks.hub_tasks import open_hub_store
from tasks.two_way.cycle import two_way_cycle, two_way_outcome
from tasks.two_way.run import plan_two_way_run
from tests.e2e.test_full_import import run_import
from tests.run_results import summary_of

pytestmark = pytest.mark.usefixtures("prefect_backend")

TOKEN_VAR = "SKLADBRIDGE_TEST_TWO_WAY_TOKEN"
TOKEN = "two-way-webhook-token-0123456789abcdef"
PORT = free_port()
MAIN = "Основной склад"


def edit_config(world: DemoWorld, change: Callable[[dict[str, Any]], None]) -> None:
    config = yaml.safe_load(world.config_path.read_text(encoding="utf-8"))
    change(config["integrations"]["demo"])
    world.config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")


def upload(world: DemoWorld) -> dict[str, Any]:
    from flows.order_upload import order_upload

    return summary_of(order_upload("demo", config_path=str(world.config_path), trigger="test"))


def two_way_flow(world: DemoWorld) -> dict[str, Any]:
    from flows.two_way_sync import two_way_sync

    return summary_of(two_way_sync("demo", config_path=str(world.config_path), trigger="test"))


def two_way(world: DemoWorld, integration: str = "demo") -> dict[str, Any]:
    """One cycle's body without Prefect's run overhead (the flow itself runs in the first test and in
    the fixture): the config read afresh, the plan, the cycle, its summary."""
    config = load_config(world.config_path)
    store = open_hub_store(config)
    try:
        run = plan_two_way_run(config, integration, store)
        return two_way_outcome(asyncio.run(two_way_cycle(run)), integration).summary
    finally:
        store.close()


def url() -> str:
    return hook_url(f"http://127.0.0.1:{PORT}", "moysklad", "demo", TOKEN)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoWorld]:
    with demo_world(tmp_path_factory.mktemp("two-way"), 6) as running:

        def setup(demo: dict[str, Any]) -> None:
            demo["flows"]["orders"] = {"from": "crm", "to": "ms"}
            demo["mappings"].update({"order_stores": {"msk": MAIN}, "delivery_types": {"self-delivery": None}})
            demo["options"]["two_way"] = {
                "accept_erp_changes": True,
                "retail_increase": True,
                "retail_decrease": True,
                "retail_add": True,
                "webhook_secret": "${" + TOKEN_VAR + "}",
            }

        edit_config(running, setup)
        os.environ[TOKEN_VAR] = TOKEN
        try:
            run_import(running, wait=10)
            upload(running)  # the first reads only set the cursors
            two_way(running)
            registered = CliRunner().invoke(
                cli,
                [
                    "webhooks",
                    "register-changes",
                    "-c",
                    str(running.config_path),
                    "--integration",
                    "demo",
                    "--public-url",
                    f"http://127.0.0.1:{PORT}",
                ],
            )
            assert registered.exit_code == 0, registered.output
            assert "created counterparty UPDATE" in registered.output and TOKEN not in registered.output
            assert "created retaildemand CREATE" in registered.output
            yield running
        finally:
            os.environ.pop(TOKEN_VAR, None)


def serve_receiver(world: DemoWorld, *, real: bool) -> Iterator[Any]:
    app = webhook_app(world.config_path, run_change_cycle=None if real else lambda name: two_way(world, name))
    with LoopbackServer(app, port=PORT):
        yield app.state.receiver
    app.state.receiver.close()


@pytest.fixture
def receiver(world: DemoWorld) -> Iterator[Any]:
    """The receiver on its port, its cycles the flow's body (no Prefect run overhead)."""
    yield from serve_receiver(world, real=False)


@pytest.fixture
def flow_receiver(world: DemoWorld) -> Iterator[Any]:
    """The receiver as deployed: its cycles are ``two-way-sync`` flow runs."""
    yield from serve_receiver(world, real=True)


def ms_api(world: DemoWorld) -> MoySkladClient:
    """MoySklad's API as another app or user of the account uses it."""
    return MoySkladClient(
        os.environ["SKLADBRIDGE_DEMO_MS_URL"],
        login=world.moysklad.login,
        password=os.environ["SKLADBRIDGE_DEMO_MS_PASSWORD"],
    )


def wait_for(condition: Callable[[], bool], seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def ref(value: dict[str, Any]) -> str:
    return str(value["meta"]["href"]).rsplit("/", 1)[1]


def place(world: DemoWorld, quantities: list[int], **extra: Any) -> tuple[dict[str, Any], list[str]]:
    """An order of catalog offers (one per quantity) placed by a manager; its offers' ERP ids."""
    offers = sorted(world.retailcrm.offers.values(), key=lambda o: o["id"])
    used = {int(i["offer"]["id"]) for o in world.retailcrm.orders.values() for i in o.get("items") or []}
    chosen = [o for o in offers if o["id"] not in used and o.get("xmlId")][: len(quantities)]
    order = world.retailcrm.place_order(
        {
            "status": "new",
            "firstName": "Ада",
            "lastName": "Лавлейс",
            "phone": "+7 999 111-22-33",
            "email": "ada@example.com",
            "shipmentStore": "msk",
            "items": [
                {"offer": {"id": o["id"]}, "quantity": q, "initialPrice": 100 + 10 * n}
                for n, (o, q) in enumerate(zip(chosen, quantities, strict=True))
            ],
            **extra,
        }
    )
    return order, [str(o["xmlId"]) for o in chosen]


#: the orders the tests start from (quantities of distinct offers), each of its own customer
ORDERS = {"crm customer": [1], "erp customer": [1], "accept": [2, 1], "retail": [2, 3, 1]}


@pytest.fixture(scope="module")
def placed(world: DemoWorld) -> dict[str, tuple[dict[str, Any], list[str]]]:
    """The tests' orders, placed in the CRM and uploaded by one cycle."""
    out = {
        name: place(world, quantities, phone=f"+7 999 000-00-{n:02d}", email=f"buyer{n}@example.com")
        for n, (name, quantities) in enumerate(ORDERS.items())
    }
    upload(world)
    return out


def erp_order(world: DemoWorld, crm_id: int) -> dict[str, Any]:
    return next(o for o in world.moysklad.store.of_type("customerorder").values() if o["externalCode"] == str(crm_id))


def crm_lines(world: DemoWorld, crm_id: int) -> dict[str, float]:
    return {str(i["offer"]["xmlId"]): float(i["quantity"]) for i in world.retailcrm.orders[crm_id]["items"]}


def test_a_customer_changed_in_the_crm_reaches_moysklad_and_does_not_bounce(
    world: DemoWorld, placed: Any, flow_receiver: Any
) -> None:
    receiver = flow_receiver
    order, _ = placed["crm customer"]
    customer_id = int(world.retailcrm.orders[order["id"]]["customer"]["id"])
    counterparty = ref(erp_order(world, order["id"])["agent"])
    world.retailcrm.user_edit_customer(
        customer_id, {"email": "ada.lovelace@example.com", "phones": [{"number": "8 (999) 555-66-77"}]}
    )
    first = two_way_flow(world)
    assert first["customers"]["to_erp"] == 1 and first["customers"]["to_channel"] == 0
    saved = world.moysklad.store.get("counterparty", counterparty)
    assert saved is not None
    assert (saved["email"], saved["phone"]) == ("ada.lovelace@example.com", "8 (999) 555-66-77")
    # MoySklad posts the update the hub made; the cycle it starts finds nothing to bring back
    assert wait_for(lambda: receiver.changes.deliveries >= 1)
    assert receiver.changes.trigger.wait_idle(30)
    again = two_way(world)
    assert again["customers"]["to_erp"] == 0 and again["customers"]["to_channel"] == 0
    assert world.retailcrm.customers[customer_id]["email"] == "ada.lovelace@example.com"


def test_a_counterparty_changed_in_moysklad_reaches_the_crm_once(world: DemoWorld, placed: Any, receiver: Any) -> None:
    order, _ = placed["erp customer"]
    customer_id = int(world.retailcrm.orders[order["id"]]["customer"]["id"])
    counterparty = ref(erp_order(world, order["id"])["agent"])
    history = len(world.retailcrm.state.customer_history)

    async def change() -> None:
        async with ms_api(world) as ms:
            await ms._put(
                f"/entity/counterparty/{counterparty}",
                {"email": "lovelace@analytical.engine", "actualAddress": "Лондон, Сент-Джеймс-сквер, 12"},
            )

    asyncio.run(change())
    customer = world.retailcrm.customers[customer_id]
    assert wait_for(lambda: customer.get("email") == "lovelace@analytical.engine"), (
        customer,
        [(d.status, d.error, d.body["events"][0]["meta"]["type"]) for d in world.moysklad.webhooks.deliveries],
        receiver.changes.deliveries,
        two_way(world),
    )
    assert (customer.get("address") or {}).get("notes") == "Лондон, Сент-Джеймс-сквер, 12"
    assert receiver.changes.trigger.wait_idle(30)
    delivery = next(
        d for d in world.moysklad.webhooks.deliveries if d.body["events"][0]["meta"]["type"] == "counterparty"
    )
    # MoySklad's retry of that delivery (same requestId), and an older one arriving late: nothing twice
    edits = len(world.retailcrm.state.customer_history)
    for request_id in (delivery.request_id, "0f1e2d3c-older-delivery"):
        answer = httpx.post(url(), params={"requestId": request_id}, json=delivery.body, timeout=5)
        assert answer.status_code == 204
    assert receiver.changes.trigger.wait_idle(30)
    assert len(world.retailcrm.state.customer_history) == edits > history
    quiet = two_way(world)
    assert quiet["customers"]["to_erp"] == 0 and quiet["customers"]["to_channel"] == 0


def test_accept_changes_brings_back_the_comment_and_lines_and_nothing_when_off(world: DemoWorld, placed: Any) -> None:
    order, offers = placed["accept"]
    ordered = erp_order(world, order["id"])
    rows = ordered["_positions"]
    kept = next(p for p in rows if ref(p["assortment"]) == offers[0])

    async def edit(description: str, quantity: float) -> None:
        async with ms_api(world) as ms:
            await ms._put(
                f"/entity/customerorder/{ordered['id']}",
                {
                    "description": description,
                    "positions": [
                        {
                            "id": kept["id"],
                            "quantity": quantity,
                            "price": kept["price"],
                            "assortment": kept["assortment"],
                        }
                    ],
                },
            )

    edit_config(world, lambda demo: demo["options"]["two_way"].update(accept_erp_changes=False))
    asyncio.run(edit("Позвонить перед доставкой", 5))
    off = two_way(world)
    assert off["orders"] is None and crm_lines(world, order["id"]) == {offers[0]: 2, offers[1]: 1}

    edit_config(world, lambda demo: demo["options"]["two_way"].update(accept_erp_changes=True))
    asyncio.run(edit("Позвонить перед доставкой", 5))
    on = two_way(world)
    assert on["orders"]["changed"] == 1 and on["orders"]["lines"] == 1 and on["orders"]["comments"] == 1
    crm = world.retailcrm.orders[order["id"]]
    assert crm["managerComment"] == "Позвонить перед доставкой"
    assert crm_lines(world, order["id"]) == {offers[0]: 5}  # the removed line is gone

    upload(world)  # the hub's edit comes back through the upload: nothing is changed twice
    settled = two_way(world)
    assert settled["orders"]["changed"] == 0
    assert crm_lines(world, order["id"]) == {offers[0]: 5}


def kind(world: DemoWorld, offer: str) -> str:
    """Whether a catalog offer is a product or a variant (what a position's assortment reference says)."""
    found = world.moysklad.store.find(offer, ("product", "variant"))
    assert found is not None
    return str(found["meta"]["type"])


def retail_sale(world: DemoWorld, lines: dict[str, float], order_id: str | None = None) -> None:
    """A sale at MoySklad's point of sale (a shift of a retail store), as its cash register app makes it."""
    ms_store = world.moysklad.store
    org = next(iter(ms_store.of_type("organization")))
    store = next(s for s in ms_store.of_type("store").values() if s["name"] == MAIN)["id"]

    async def sell() -> None:
        async with ms_api(world) as ms:
            org_ref = ms.ref(f"entity/organization/{org}", "organization")
            store_ref = ms.ref(f"entity/store/{store}", "store")
            shops = ms_store.of_type("retailstore")
            shop = (
                next(iter(shops))
                if shops
                else (
                    await ms._post(
                        "/entity/retailstore", {"name": "Касса 1", "organization": org_ref, "store": store_ref}
                    )
                )["id"]
            )
            shop_ref = ms.ref(f"entity/retailstore/{shop}", "retailstore")
            shift = (
                await ms._post(
                    "/entity/retailshift", {"retailStore": shop_ref, "organization": org_ref, "store": store_ref}
                )
            )["id"]
            agent = (await ms.create_counterparty({"name": "Розничный покупатель", "phone": "+79990001122"}))["id"]
            body: dict[str, Any] = {
                "organization": org_ref,
                "store": store_ref,
                "retailStore": shop_ref,
                "retailShift": ms.ref(f"entity/retailshift/{shift}", "retailshift"),
                "agent": ms.ref(f"entity/counterparty/{agent}", "counterparty"),
                "positions": [
                    {
                        "quantity": q,
                        "price": 12_000.0,
                        "assortment": ms.ref(f"entity/{kind(world, offer)}/{offer}", kind(world, offer)),
                    }
                    for offer, q in lines.items()
                ],
            }
            if order_id:
                body["customerOrder"] = ms.ref(f"entity/customerorder/{order_id}", "customerorder")
            await ms._post("/entity/retaildemand", body)

    asyncio.run(sell())


def test_a_retail_sale_with_fewer_and_extra_items_changes_the_order_once(
    world: DemoWorld, placed: Any, receiver: Any
) -> None:
    order, offers = placed["retail"]
    extra = next(
        str(o["xmlId"])
        for o in sorted(world.retailcrm.offers.values(), key=lambda o: o["id"])
        if o.get("xmlId") and str(o["xmlId"]) not in offers
    )
    ordered = erp_order(world, order["id"])
    # sold: the first as ordered, fewer of the second, none of the third, two of one not ordered
    retail_sale(world, {offers[0]: 2, offers[1]: 1, extra: 2}, ordered["id"])
    expected = {offers[0]: 2, offers[1]: 1, offers[2]: 1, extra: 2}  # retail_remove is off: the third stays
    assert wait_for(lambda: crm_lines(world, order["id"]) == expected), crm_lines(world, order["id"])
    assert receiver.changes.trigger.wait_idle(30)
    sale = next(d for d in world.moysklad.webhooks.deliveries if d.body["events"][0]["meta"]["type"] == "retaildemand")
    assert httpx.post(url(), params={"requestId": sale.request_id}, json=sale.body, timeout=5).status_code == 204
    assert httpx.post(url(), params={"requestId": "late-copy-1"}, json=sale.body, timeout=5).status_code == 204
    assert receiver.changes.trigger.wait_idle(30)
    assert crm_lines(world, order["id"]) == expected
    quiet = two_way(world)
    assert quiet["retail"]["orders_changed"] == 0 and quiet["orders"]["changed"] == 0


def test_a_retail_sale_without_an_order_creates_one_in_the_mapped_shop(world: DemoWorld, receiver: Any) -> None:
    offer = next(str(o["xmlId"]) for o in world.retailcrm.offers.values() if o.get("xmlId"))
    before, heard = set(world.retailcrm.orders), receiver.changes.deliveries
    retail_sale(world, {offer: 3})
    assert wait_for(lambda: receiver.changes.deliveries > heard)
    assert receiver.changes.trigger.wait_idle(30)
    assert set(world.retailcrm.orders) == before  # its legal entity has no shop yet: it waits
    organization = next(iter(world.moysklad.store.of_type("organization").values()))["name"]
    edit_config(world, lambda demo: demo["mappings"].update(retail_shops={organization: "demo"}))
    made = two_way(world)
    assert made["retail"]["orders_created"] == 1
    (new,) = set(world.retailcrm.orders) - before
    assert crm_lines(world, new) == {offer: 3}
    assert world.retailcrm.orders[new]["externalId"].startswith("demo-sale-")
    orders_in_ms = len(world.moysklad.store.of_type("customerorder"))
    upload(world)  # the order the hub made is the ERP's sale already: it is not uploaded back
    assert len(world.moysklad.store.of_type("customerorder")) == orders_in_ms
    assert two_way(world)["retail"]["orders_created"] == 0


def test_a_sale_whose_webhook_was_lost_is_found_by_the_poll(world: DemoWorld) -> None:
    # no receiver listens: MoySklad tries four times and drops the notice, as it does
    offer = next(str(o["xmlId"]) for o in world.retailcrm.offers.values() if o.get("xmlId"))
    before, dropped = set(world.retailcrm.orders), len(world.moysklad.webhooks.dropped)
    retail_sale(world, {offer: 1})
    assert wait_for(lambda: len(world.moysklad.webhooks.dropped) > dropped)
    found = two_way(world)
    assert found["polled"] >= 1 and found["retail"]["orders_created"] == 1
    (new,) = set(world.retailcrm.orders) - before
    assert crm_lines(world, new) == {offer: 1}
    assert two_way(world)["retail"]["orders_created"] == 0  # read again by the overlap: made once
