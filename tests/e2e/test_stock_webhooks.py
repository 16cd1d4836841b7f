"""Stock sync end to end, webhook path: a shipment made in MoySklad reaches retailCRM within seconds,
and a receiver stopped before its cycle ran carries the change when it starts again.

Everything on loopback sockets, as in production: the MoySklad sandbox posts its webhook (with its
``requestId``) to the receiver served by uvicorn, the receiver records it and runs the real
``stock-sync`` flow in its own process, which reads the MoySklad sandbox and writes the retailCRM one.
The subscriptions are made by ``skladbridge webhooks register``, as a merchant makes them.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

import deployments.demo.stock_trip as demo_webhook
from connectors.sandboxing import LoopbackServer, free_port
from deployments.cli import app as cli
from deployments.demo import DemoWorld, demo_world
from deployments.service.webhooks import webhook_app
from tests.e2e.test_full_import import crm_inventory, expected_inventory, run_import

pytestmark = pytest.mark.usefixtures("prefect_backend")

TOKEN_VAR = "SKLADBRIDGE_TEST_WEBHOOK_TOKEN"
TOKEN = "e2e-webhook-token-0123456789abcdef"


#: where the receiver listens in every test of the module (MoySklad is subscribed to it once)
PORT = free_port()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoWorld]:
    from flows.stock_sync import stock_sync

    with demo_world(tmp_path_factory.mktemp("stock-webhooks"), 40) as running:
        # the demo's config, taking stock webhooks: the token is a secret reference like any other
        config = yaml.safe_load(running.config_path.read_text(encoding="utf-8"))
        config["integrations"]["demo"]["options"]["stock"]["webhook_secret"] = "${" + TOKEN_VAR + "}"
        running.config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        os.environ[TOKEN_VAR] = TOKEN
        try:
            run_import(running)
            stock_sync("demo", config_path=str(running.config_path))  # the schedule's cycle: the cursor is set
            registered = CliRunner().invoke(
                cli,
                [
                    "webhooks",
                    "register",
                    "-c",
                    str(running.config_path),
                    "--integration",
                    "demo",
                    "--public-url",
                    f"http://127.0.0.1:{PORT}",
                ],
            )
            assert registered.exit_code == 0, registered.output
            assert "created demand CREATE" in registered.output and TOKEN not in registered.output
            yield running
        finally:
            os.environ.pop(TOKEN_VAR, None)


def stocked_product(world: DemoWorld) -> str:
    """A product (no variants, not a bundle's component) with at least 3 free at the CRM's msk."""
    bundles = world.moysklad.store.of_type("bundle").values()
    in_bundles = {
        str(row["assortment"]["meta"]["href"]).rsplit("/", 1)[1]
        for bundle in bundles
        for row in bundle.get("_components", [])
    }
    return next(
        o
        for o, per in sorted(expected_inventory(world).items())
        if per["msk"] >= 3 and world.moysklad.store.get("product", o) and o not in in_bundles
    )


def ship(world: DemoWorld, offer_id: str, quantity: float) -> None:
    """A shipment from Основной склад, made through MoySklad's API as any user's app would (so it notifies)."""
    asyncio.run(demo_webhook.ship(world, offer_id, "Основной склад", quantity))


def wait_for(condition: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return bool(condition())


def test_a_shipment_in_moysklad_reaches_the_crm_through_the_webhook(world: DemoWorld) -> None:
    receiver_app = webhook_app(world.config_path)  # the default cycle: the stock-sync flow
    receiver = receiver_app.state.receiver
    try:
        with LoopbackServer(receiver_app, port=PORT):
            offer = stocked_product(world)
            expected = expected_inventory(world)[offer]["msk"]
            assert crm_inventory(world)[offer]["msk"] == expected
            started = time.monotonic()
            ship(world, offer, 2)
            assert wait_for(lambda: crm_inventory(world)[offer]["msk"] == expected - 2, 60), crm_inventory(world)[offer]
            latency = time.monotonic() - started
            assert receiver.trigger.wait_idle(60)
    finally:
        receiver.close()

    deliveries = world.moysklad.webhooks.deliveries
    assert deliveries and all(d.status == 204 for d in deliveries), deliveries
    assert {d.body["events"][0]["meta"]["type"] for d in deliveries} == {"demand"}
    assert 1 <= receiver.trigger.cycles("demo") <= 2
    assert receiver.store.notices.integrations_pending() == []
    assert latency < 30  # the seed modules' poll: 10 minutes
    summary = receiver.store.journal.list(integration="demo", level="info", limit=5)
    by_webhook = [e for e in summary if e.event == "stock-sync.done" and (e.data or {}).get("trigger") == "webhook"]
    assert by_webhook and all((e.data or {}).get("full") is False for e in by_webhook)  # only what changed
    print(f"webhook path: {latency:.2f} s from the shipment to the CRM")


def test_a_receiver_stopped_before_its_cycle_ran_carries_the_change_when_started_again(world: DemoWorld) -> None:
    gate = threading.Event()

    def killed(integration: str, noticed_at: Any) -> object:  # the process dies before its cycle gets anywhere
        gate.wait(30)
        raise RuntimeError("killed")

    first_app = webhook_app(world.config_path, killed)
    first = first_app.state.receiver
    offer = stocked_product(world)
    expected = expected_inventory(world)[offer]["msk"]
    with LoopbackServer(first_app, port=PORT):
        ship(world, offer, 1)
        assert wait_for(lambda: first.store.notices.integrations_pending() == ["demo"], 10)
    gate.set()
    first.close()
    assert crm_inventory(world)[offer]["msk"] == expected  # nothing carried the change yet

    second = webhook_app(world.config_path).state.receiver  # the real cycle again
    try:
        assert second.resume() == ["demo"]  # what the app's startup does
        assert second.trigger.wait_idle(60)
    finally:
        second.close()
    assert crm_inventory(world)[offer]["msk"] == expected - 1
    assert second.store.notices.integrations_pending() == []


def test_returns_in_moysklad_reach_the_crm_through_the_webhook(world: DemoWorld) -> None:
    """A customer return brings stock back and a return to the supplier takes it out: both notify."""
    from connectors.moysklad.client import MoySkladClient

    ms = world.moysklad
    offer = stocked_product(world)
    expected = expected_inventory(world)[offer]["msk"]
    org = next(iter(ms.store.of_type("organization")))
    store = next(s for s in ms.store.of_type("store").values() if s["name"] == "Основной склад")
    seen = len(ms.webhooks.deliveries)

    async def returned(kind: str, quantity: float) -> None:
        async with MoySkladClient(
            os.environ["SKLADBRIDGE_DEMO_MS_URL"], login=ms.login, password=os.environ["SKLADBRIDGE_DEMO_MS_PASSWORD"]
        ) as client:
            agent = (await client.create_counterparty({"name": "Покупатель с возвратом"}))["id"]
            body = {
                "organization": client.ref(f"entity/organization/{org}", "organization"),
                "agent": client.ref(f"entity/counterparty/{agent}", "counterparty"),
                "store": client.ref(f"entity/store/{store['id']}", "store"),
                "positions": [
                    {
                        "quantity": quantity,
                        "price": 100.0,
                        "assortment": client.ref(f"entity/product/{offer}", "product"),
                    }
                ],
            }
            await (client.create_salesreturn if kind == "salesreturn" else client.create_purchasereturn)(body)

    receiver_app = webhook_app(world.config_path)  # the default cycle: the stock-sync flow
    receiver = receiver_app.state.receiver
    try:
        with LoopbackServer(receiver_app, port=PORT):
            asyncio.run(returned("salesreturn", 3))  # the customer brings 3 back
            assert wait_for(lambda: crm_inventory(world)[offer]["msk"] == expected + 3, 60), crm_inventory(world)[offer]
            asyncio.run(returned("purchasereturn", 1))  # 1 goes back to the supplier
            assert wait_for(lambda: crm_inventory(world)[offer]["msk"] == expected + 2, 60), crm_inventory(world)[offer]
            assert receiver.trigger.wait_idle(60)
    finally:
        receiver.close()
    returns = ms.webhooks.deliveries[seen:]
    # the returns' own notices (the periodic stock report may have come as well: a slower path)
    assert {d.body["events"][0]["meta"]["type"] for d in returns if "events" in d.body} == {
        "salesreturn",
        "purchasereturn",
    }
    assert all(d.status == 204 for d in returns) and receiver.store.notices.integrations_pending() == []
