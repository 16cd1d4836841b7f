"""Orders keyCRM → MoySklad end to end: keyCRM's trigger webhook (POST or GET) reaches the receiver,
which answers at once, deduplicates on (order, change time) and runs the order-upload flow; lines are
matched by SKU; a burst of events within keyCRM's 60 a minute, none lost, none doubled."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from deployments.demo.keycrm_pair import INTEGRATION, KeyCRMWorld, keycrm_world
from tests.run_results import summary_of

pytestmark = pytest.mark.usefixtures("prefect_backend")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeyCRMWorld]:
    from deployments.service.webhooks import webhook_app
    from flows.order_upload import order_upload
    from flows.stock_sync import stock_sync

    with keycrm_world(tmp_path_factory.mktemp("keycrm-orders"), 30) as running:
        running.keycrm.state.apply_delay = 0.05
        stock_sync(INTEGRATION, config_path=str(running.config_path))  # the hub's copy of MoySklad's catalog
        order_upload(INTEGRATION, config_path=str(running.config_path))  # the cursor: from now on
        app = webhook_app(running.config_path)
        running.keycrm.webhooks.transport = httpx.ASGITransport(app=app)
        token = running.env["SKLADBRIDGE_KC_HOOK_TOKEN"]
        running.keycrm.add_order_trigger(f"http://hub.test/hooks/keycrm/{INTEGRATION}/{token}")
        running.servers["receiver"] = "http://hub.test"
        running.env["app"] = app  # type: ignore[assignment]
        yield running
        app.state.receiver.close()


def receiver(world: KeyCRMWorld) -> Any:
    return world.env["app"].state.receiver  # type: ignore[attr-defined]


def erp_orders(world: KeyCRMWorld) -> dict[str, dict[str, Any]]:
    return {str(o["externalCode"]): o for o in world.moysklad.store.of_type("customerorder").values()}


def sku_of_ms(world: KeyCRMWorld, position: dict[str, Any]) -> str:
    href = str(position["assortment"]["meta"]["href"])
    kind, oid = href.rsplit("/", 2)[-2:]
    item = world.moysklad.store.get(kind, oid)
    assert item is not None, f"no {kind} {oid} in MoySklad"
    return str(item["code"])


def place(world: KeyCRMWorld, skus: list[str], **extra: Any) -> dict[str, Any]:
    order = world.keycrm.place_order(
        {
            "buyer": {"full_name": "Олена Коваль", "phone": "+380501234567"},
            **extra,
            "products": [{"sku": s, "quantity": 2} for s in skus],
        }
    )
    asyncio.run(world.keycrm.flush())
    return order


def settle(world: KeyCRMWorld) -> None:
    assert receiver(world).orders.trigger.wait_idle(120)


def test_a_webhook_order_reaches_moysklad_matched_by_sku(world: KeyCRMWorld) -> None:
    skus = [o["sku"] for o in list(world.keycrm.state.offers.values())[:2]]
    order = place(world, skus)
    sent = world.keycrm.webhooks.sent[-1]
    assert sent.status == 200 and sent.body["context"]["id"] == order["id"]
    settle(world)
    erp = erp_orders(world)[str(order["id"])]
    assert sorted(sku_of_ms(world, p) for p in erp["_positions"]) == sorted(skus)


def test_a_repeated_and_a_get_delivery_of_one_change_count_once(world: KeyCRMWorld) -> None:
    order = place(world, [next(iter(world.keycrm.state.offers.values()))["sku"]])
    settle(world)
    before, duplicates = len(erp_orders(world)), receiver(world).orders.duplicates
    hook = world.keycrm.state.order_hooks[0][0]
    body = world.keycrm.webhooks.sent[-1].body
    world.keycrm.webhooks.send_now = None  # type: ignore[attr-defined]

    async def again() -> list[int]:
        async with httpx.AsyncClient(transport=world.keycrm.webhooks.transport) as http:
            post = await http.post(hook, json=body)
            from connectors.keycrm.sandbox.webhooks import flattened

            get = await http.get(hook, params=[("event", body["event"]), *flattened("context", body["context"])])
            return [post.status_code, get.status_code]

    assert asyncio.run(again()) == [200, 200]
    settle(world)
    assert receiver(world).orders.duplicates == duplicates + 2
    assert len(erp_orders(world)) == before and str(order["id"]) in erp_orders(world)


def test_strangers_get_a_bare_404(world: KeyCRMWorld) -> None:
    async def knock() -> list[tuple[int, str]]:
        async with httpx.AsyncClient(transport=world.keycrm.webhooks.transport) as http:
            out = []
            for path in (f"/hooks/keycrm/{INTEGRATION}/wrong-token-wrong-token", "/hooks/keycrm/nobody/x" * 1):
                for answer in (
                    await http.post(f"http://hub.test{path}", json={}),
                    await http.get(f"http://hub.test{path}"),
                ):
                    out.append((answer.status_code, answer.text))
            return out

    assert set(asyncio.run(knock())) == {(404, "not found\n")}


def test_a_burst_of_300_order_events_within_the_budget_none_lost_none_doubled(world: KeyCRMWorld) -> None:
    skus = [o["sku"] for o in world.keycrm.state.offers.values()]
    before_log = len(world.keycrm.log)
    started = time.monotonic()
    placed = [
        world.keycrm.place_order({"buyer": {"full_name": f"Покупець {n}"}, "products": [{"sku": skus[n % len(skus)]}]})
        for n in range(300)
    ]
    asyncio.run(world.keycrm.flush())
    assert sum(1 for s in world.keycrm.webhooks.sent[-300:] if s.status == 200) == 300
    settle(world)
    took = time.monotonic() - started
    erp = erp_orders(world)
    assert all(str(o["id"]) in erp for o in placed)
    codes = [o["externalCode"] for o in world.moysklad.store.of_type("customerorder").values()]
    assert len(codes) == len(set(codes))  # none doubled
    requests = [r for r in list(world.keycrm.log)[before_log:]]
    assert not [r for r in requests if r.status == 429]
    print(f"300 events: {len(requests)} keyCRM requests, {took:.1f} s")
    assert len(requests) <= 30


def test_a_state_set_in_moysklad_comes_back_as_the_keycrm_status(world: KeyCRMWorld) -> None:
    from flows.order_status_sync import order_status_sync

    order = place(world, [next(iter(world.keycrm.state.offers.values()))["sku"]])
    settle(world)
    erp_id = erp_orders(world)[str(order["id"])]["id"]
    order_status_sync(INTEGRATION, config_path=str(world.config_path), trigger="test")  # Новый maps back to 1
    assert world.keycrm.state.orders[order["id"]]["status_id"] == 1
    confirmed = next(s for s in world.moysklad.store.states if s["name"] == "Подтвержден")
    world.moysklad.writer.update("customerorder", erp_id, {"state": {"meta": confirmed["meta"]}})
    result = summary_of(order_status_sync(INTEGRATION, config_path=str(world.config_path), trigger="test"))
    assert result["sent"] == 1 and world.keycrm.state.orders[order["id"]]["status_id"] == 2
    asyncio.run(world.keycrm.flush())  # keyCRM's trigger fires on our change too: the receiver takes it
    settle(world)
    assert len([o for o in erp_orders(world) if o == str(order["id"])]) == 1


def test_one_time_products_become_moysklad_items_once(world: KeyCRMWorld) -> None:
    shirt = {
        "name": "Сорочка",
        "price": 450,
        "quantity": 1,
        "properties": [{"name": "Колір", "value": "біла"}, {"name": "Розмір", "value": "M"}],
    }  # no SKU: one is generated
    own_sku = {"name": "Подарункова коробка", "sku": "BOX-1", "price": 50, "quantity": 1}
    first = world.keycrm.place_order({"buyer": {"full_name": "Іван Петренко"}, "products": [shirt, own_sku]})
    asyncio.run(world.keycrm.flush())
    settle(world)
    made = {
        p["name"]: p
        for p in world.moysklad.store.of_type("product").values()
        if p.get("code", "").startswith(("auto-", "BOX-"))
    }
    assert set(made) == {"Сорочка, біла, M", "Подарункова коробка"}
    assert made["Подарункова коробка"]["code"] == "BOX-1"
    erp = erp_orders(world)[str(first["id"])]
    assert {p["assortment"]["meta"]["href"].rsplit("/", 1)[1] for p in erp["_positions"]} == {
        p["id"] for p in made.values()
    }
    second = world.keycrm.place_order({"buyer": {"full_name": "Іван Петренко"}, "products": [shirt]})
    asyncio.run(world.keycrm.flush())
    settle(world)
    again = [p for p in world.moysklad.store.of_type("product").values() if p["name"] == "Сорочка, біла, M"]
    assert len(again) == 1  # the same product, the same generated SKU: linked, not made again
    assert str(second["id"]) in erp_orders(world)


def test_an_order_reaching_an_archive_status_is_closed_in_moysklad(world: KeyCRMWorld) -> None:
    order = place(world, [next(iter(world.keycrm.state.offers.values()))["sku"]])
    settle(world)
    erp = erp_orders(world)[str(order["id"])]
    assert all(p.get("reserve") for p in erp["_positions"])  # options.orders.reserve: held back while open
    world.keycrm.change_status(order["id"], 6)  # canceled: an archive status of examples/keycrm.yaml
    asyncio.run(world.keycrm.flush())
    settle(world)
    erp = erp_orders(world)[str(order["id"])]
    cancelled = next(s for s in world.moysklad.store.states if s["name"] == "Отменен")
    assert erp["state"]["meta"]["href"] == cancelled["meta"]["href"]
    assert not any(p.get("reserve") for p in erp["_positions"])
