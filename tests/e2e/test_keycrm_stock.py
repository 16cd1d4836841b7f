"""Stock MoySklad → keyCRM end to end through the stock-sync flow: on-hand stock per keyCRM warehouse
(several MoySklad stores summed), offers by SKU, one write per warehouse, 202 writes confirmed before
the cursor moves, totals-only read-backs, the reserve rule."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deployments.demo.keycrm_pair import INTEGRATION, KeyCRMWorld, keycrm_stock, keycrm_world
from tests.e2e.test_stock_sync import change_stock

pytestmark = pytest.mark.usefixtures("prefect_backend")
STORES = {"Основной склад": 1, "Склад 2": 1, "Склад 3": 2}  # as examples/keycrm.yaml maps them
#: the hub's receiver of each world, once a test made keyCRM post its stock webhook to it
RECEIVERS: dict[Path, Any] = {}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeyCRMWorld]:
    with keycrm_world(tmp_path_factory.mktemp("keycrm-stock"), 40) as running:
        running.keycrm.state.apply_delay = 0.2
        config = running.config_path.read_text(encoding="utf-8")
        # read a 202 write back for 1.5 s (default 15.5 s), so the not-applied case is quick
        running.config_path.write_text(
            config.replace("offer_key: code", "confirm_seconds: 1.5\n        offer_key: code")
        )
        yield running
        if running.workdir in RECEIVERS:
            RECEIVERS.pop(running.workdir).state.receiver.close()


def sync(world: KeyCRMWorld, **kwargs: Any) -> dict[str, Any]:
    from flows.stock_sync import stock_sync

    return stock_sync(INTEGRATION, config_path=str(world.config_path), **kwargs)


def expected(world: KeyCRMWorld) -> dict[str, dict[int, float]]:
    """MoySklad's on-hand stock by keyCRM warehouse and SKU (= code), negatives as 0 per store."""
    ms = world.moysklad
    names = {s["id"]: s["name"] for s in ms.store.entities["store"].values()}
    code_of = {
        oid: str(obj["code"])
        for kind in ("product", "variant")
        for oid, obj in ms.store.entities[kind].items()
        if not obj.get("archived") and not (kind == "product" and obj.get("variantsCount"))
    }
    out: dict[str, dict[int, float]] = {code: {1: 0.0, 2: 0.0} for code in code_of.values()}
    for row in ms.ledger.report(by_store=True, stock_type="stock", include_zero=True):
        wid = STORES.get(names.get(row.get("storeId"), ""))
        if wid and row["assortmentId"] in code_of:
            out[code_of[row["assortmentId"]]][wid] += max(float(row["stock"]), 0.0) // 1
    return out


def puts(world: KeyCRMWorld) -> int:
    return sum(1 for r in world.keycrm.log if r.path == "/offers/stocks" and r.method == "PUT")


def test_the_first_cycle_writes_on_hand_stock_per_warehouse_once_each(world: KeyCRMWorld) -> None:
    first = sync(world)
    assert first["full"] and first["offers_sent"] > 0
    assert puts(world) == 2  # one request per keyCRM warehouse: far under 10 000 offers
    assert keycrm_stock(world) == expected(world)  # confirmed (read back) before the cycle ended
    again = sync(world)
    assert again["offers_changed"] == 0 and puts(world) == 2


def test_a_change_at_a_summed_store_reaches_its_keycrm_warehouse(world: KeyCRMWorld) -> None:
    sync(world)
    ms = world.moysklad
    offer = next(oid for oid, p in ms.store.entities["product"].items() if not p.get("variantsCount"))
    sku = str(ms.store.entities["product"][offer]["code"])
    before = keycrm_stock(world).get(sku, {}).get(1, 0.0)
    change_stock(ms, offer, "Склад 2", +5)  # Склад 2 is summed into warehouse 1 with Основной склад
    writes = puts(world)
    result = sync(world)
    assert result["offers_changed"] == 1 and puts(world) - writes == 2  # both warehouses of the offer
    assert keycrm_stock(world)[sku][1] == before + 5


def test_a_write_keycrm_has_not_applied_keeps_the_cursor_and_is_sent_again(world: KeyCRMWorld) -> None:
    from hub.config import load_config
    from tasks.hub_tasks import open_hub_store

    sync(world)
    ms = world.moysklad
    offer = next(oid for oid, p in ms.store.entities["product"].items() if not p.get("variantsCount"))
    sku = str(ms.store.entities["product"][offer]["code"])
    store = open_hub_store(load_config(world.config_path))
    cursor = store.cursors.get(INTEGRATION, "stock-sync")
    world.keycrm.state.apply_delay = 3600  # accepted (202), applied much later
    change_stock(ms, offer, "Основной склад", +3)
    with pytest.raises(Exception, match="not applied"):
        sync(world)
    assert store.cursors.get(INTEGRATION, "stock-sync") == cursor  # not moved: the next cycle reads again
    world.keycrm.state.apply_delay = 0.2
    world.keycrm.state.pending.clear()  # keyCRM lost it
    time.sleep(store.queue.backoff(1))  # the batch waits its backoff in the queue; the next cycle sends it
    again = sync(world)
    assert again["batches_sent"] >= 1
    assert keycrm_stock(world)[sku] == expected(world)[sku]
    assert store.cursors.get(INTEGRATION, "stock-sync") != cursor


# -- keyCRM's own stock webhook: the hub's echo ignored, a change made in keyCRM written back -------------


def receiving(world: KeyCRMWorld) -> tuple[Any, str]:
    """The hub's receiver as keyCRM's stock webhook target (the order webhook URL, same token)."""
    import httpx

    from deployments.service.webhooks import webhook_app

    app = RECEIVERS.get(world.workdir)
    if app is None:
        app = RECEIVERS[world.workdir] = webhook_app(world.config_path)
        world.keycrm.webhooks.transport = httpx.ASGITransport(app=app)
        url = f"http://hub.test/hooks/keycrm/{INTEGRATION}/{world.env['SKLADBRIDGE_KC_HOOK_TOKEN']}"
        world.keycrm.add_stock_webhook(url)
    return app, f"/hooks/keycrm/{INTEGRATION}/{world.env['SKLADBRIDGE_KC_HOOK_TOKEN']}"


def post(app: Any, path: str, body: bytes) -> int:
    import asyncio

    import httpx

    async def go() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
            answer = await http.post(path, content=body, headers={"Content-Type": "application/json"})
            return answer.status_code

    return asyncio.run(go())


def stock_hooks_sent(world: KeyCRMWorld) -> list[Any]:
    return [s for s in world.keycrm.webhooks.sent if isinstance(s.body, list)]


def wait_for(check: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "waited in vain"
        time.sleep(0.05)


def test_the_hubs_own_write_echoed_by_keycrms_stock_webhook_is_ignored_and_counted(world: KeyCRMWorld) -> None:
    app, _ = receiving(world)
    receiver = app.state.receiver
    world.keycrm.state.apply_delay = 0.2
    sync(world)
    ms = world.moysklad
    offer = next(oid for oid, p in ms.store.entities["product"].items() if not p.get("variantsCount"))
    before, echoes, cycles = len(stock_hooks_sent(world)), receiver.stock_echoes, receiver.trigger.cycles(INTEGRATION)
    change_stock(ms, offer, "Склад 3", +4)
    sync(world)  # keyCRM applies the write and posts it back through its stock webhook
    wait_for(lambda: len(stock_hooks_sent(world)) > before)
    assert stock_hooks_sent(world)[-1].status == 200
    assert receiver.stock_echoes == echoes + 1 and receiver.stock_changes == 0
    assert receiver.trigger.cycles(INTEGRATION) == cycles  # an echo asks for nothing


def test_a_stock_change_made_in_keycrm_is_journaled_and_written_back_once(world: KeyCRMWorld) -> None:
    import asyncio

    from hub.config import load_config
    from tasks.hub_tasks import open_hub_store

    app, path = receiving(world)
    receiver = app.state.receiver
    sync(world)
    sku = next(iter(expected(world)))
    truth = expected(world)[sku]
    world.keycrm.set_stock(sku, 1, truth[1] + 50)  # a manager edits it in keyCRM
    asyncio.run(world.keycrm.flush())
    assert receiver.stock_changes == 1
    assert receiver.trigger.wait_idle(60)  # the stock cycle it asked for wrote MoySklad's quantity back
    assert keycrm_stock(world)[sku] == truth
    store = open_hub_store(load_config(world.config_path))
    entries = [e for e in store.journal.list(integration=INTEGRATION) if e.event == "stock.changed-in-channel"]
    assert len(entries) == 1 and sku in entries[0].message
    # the same change delivered twice (keyCRM has no delivery id): marked once, journaled once
    body = f'[{{"offer_id": 1, "sku": "{sku}", "in_stock": 7777, "in_reserve": 0}}]'.encode()
    assert post(app, path, body) == 200 and post(app, path, body) == 200
    assert (receiver.stock_changes, receiver.stock_duplicates) == (2, 1)
    assert receiver.trigger.wait_idle(60)
    unknown = receiver.stock_unknown
    assert post(app, path, b'[{"offer_id": 5, "sku": "not-ours", "in_stock": 3, "in_reserve": 0}]') == 200
    assert receiver.stock_unknown == unknown + 1


@pytest.mark.parametrize(
    "body",
    [
        b'[{"sku": {"a": 1}, "in_stock": 1}]',
        b'[{"sku": "x", "in_stock": "NaN"}]',
        b'[{"sku": "x", "in_stock": [1]}]',
        b"[1, 2]",
        b"[" * 30000 + b"]" * 30000,
        b'[{"sku": "x", "in_stock": 1}',
    ],
)
def test_a_hostile_stock_webhook_body_gets_a_4xx_never_a_5xx(world: KeyCRMWorld, body: bytes) -> None:
    app, path = receiving(world)
    assert post(app, path, body) == 400
    assert post(app, path, b"[" + b" " * 70000 + b"]") == 413
    assert post(app, path.rsplit("/", 1)[0] + "/not-the-token", b"[]") == 404
