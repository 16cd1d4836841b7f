"""The demo's last act: a stock change travelling through the webhook path, timed.

After the full import, the demo runs one scheduled stock-sync cycle (it sets the cursor), starts the
hub's webhook receiver on a loopback port, subscribes MoySklad to it exactly as
``skladbridge webhooks register`` does, then ships a few units of a stocked product through
MoySklad's API as any shop's app would. MoySklad (the sandbox) notifies the receiver, which runs a
changed-since stock cycle in this process; the demo watches the retailCRM sandbox until it holds the
new quantity and prints how long that took (the seed modules: up to 10 minutes).
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from connectors.moysklad.client import MoySkladClient
from connectors.sandboxing import LoopbackServer

if TYPE_CHECKING:
    from deployments.demo.world import DemoWorld

#: how long the demo waits for the CRM before it says the change did not arrive
ARRIVAL_SECONDS = 60.0


@dataclass(frozen=True)
class Travelled:
    """One change's trip: what moved, where it was seen, how long it took (None: it never arrived)."""

    offer: str
    name: str
    store: str
    warehouse: str
    before: float
    after: float
    seconds: float | None
    notices: int


def crm_available(world: DemoWorld, offer: str, code: str) -> float | None:
    """What the retailCRM sandbox holds for ``offer`` (the MoySklad id, its xmlId) at warehouse ``code``."""
    crm = world.retailcrm
    for crm_id, stores in list(crm.inventories.items()):
        if crm.offers.get(crm_id, {}).get("xmlId") == offer and code in stores:
            return float(stores[code]["available"])
    return None


def pick_offer(world: DemoWorld, store_name: str, code: str, units: int) -> tuple[str, str] | None:
    """A plain product with at least ``units`` free at ``store_name`` that the CRM shows at ``code``."""
    ms = world.moysklad
    in_bundles = {
        str(row["assortment"]["meta"]["href"]).rsplit("/", 1)[1]
        for bundle in ms.store.of_type("bundle").values()
        for row in bundle.get("_components", [])
    }
    store = next(s for s in ms.store.of_type("store").values() if s["name"] == store_name)
    for row in ms.ledger.report(by_store=True, stock_type="freeStock", include_zero=False):
        oid = str(row["assortmentId"])
        product = ms.store.get("product", oid)
        if (
            row.get("storeId") == store["id"]
            and float(row["freeStock"]) >= units
            and product
            and not product.get("variantsCount")
            and not product.get("archived")
            and oid not in in_bundles
            and crm_available(world, oid, code) is not None
        ):
            return oid, str(product["name"])
    return None


async def ship(world: DemoWorld, offer: str, store_name: str, units: float) -> None:
    """A shipment (demand) from ``store_name``, made through MoySklad's API with the demo's login."""
    ms = world.moysklad
    org = next(iter(ms.store.of_type("organization")))
    store = next(s for s in ms.store.of_type("store").values() if s["name"] == store_name)
    async with MoySkladClient(
        os.environ["SKLADBRIDGE_DEMO_MS_URL"], login=ms.login, password=os.environ["SKLADBRIDGE_DEMO_MS_PASSWORD"]
    ) as client:
        agent = (await client.create_counterparty({"name": "Покупатель демо"}))["id"]
        await client.create_demand(
            {
                "organization": client.ref(f"entity/organization/{org}", "organization"),
                "agent": client.ref(f"entity/counterparty/{agent}", "counterparty"),
                "store": client.ref(f"entity/store/{store['id']}", "store"),
                "positions": [
                    {"quantity": units, "price": 100.0, "assortment": client.ref(f"entity/product/{offer}", "product")}
                ],
            }
        )


async def subscribe(world: DemoWorld, integration: str, public_url: str) -> list[str]:
    """What ``skladbridge webhooks register`` does: subscribe the stock source to the receiver."""
    from deployments.service.webhooks import hook_url, receiving_hooks
    from hub.capabilities import StockEvents
    from hub.config import load_config
    from tasks.clients import open_capability

    config = load_config(world.config_path)
    hook = next(h for h in receiving_hooks(config).values() if h.integration == integration)
    url = hook_url(public_url, hook.system, integration, hook.token.decode())
    ours = hook_url(public_url, hook.system, integration, "")
    async with open_capability(config.integrations[integration], hook.alias, StockEvents) as events:
        return await events.subscribe(url, ours=ours)


def travel(
    world: DemoWorld, integration: str, *, store_name: str = "Основной склад", code: str = "msk", units: int = 2
) -> Travelled | None:
    """Ship ``units`` of a stocked product in MoySklad and time its arrival in the CRM via the webhook."""
    from deployments.service.webhooks import webhook_app
    from flows.stock_sync import stock_sync

    stock_sync(integration, config_path=str(world.config_path))  # the schedule's cycle: sets the cursor
    picked = pick_offer(world, store_name, code, units)
    if picked is None:
        return None
    offer, name = picked
    app = webhook_app(world.config_path)
    receiver = app.state.receiver
    try:
        with LoopbackServer(app) as server:
            asyncio.run(subscribe(world, integration, server.url))
            before = crm_available(world, offer, code) or 0.0
            started = time.monotonic()
            asyncio.run(ship(world, offer, store_name, units))
            seconds: float | None = None
            while time.monotonic() - started < ARRIVAL_SECONDS:
                if crm_available(world, offer, code) == before - units:
                    seconds = time.monotonic() - started
                    break
                time.sleep(0.02)
            receiver.trigger.wait_idle(ARRIVAL_SECONDS)
    finally:
        receiver.close()
    notices = len({d.request_id for d in world.moysklad.webhooks.deliveries})
    return Travelled(offer, name, store_name, code, before, before - units, seconds, notices)


def report(echo: Any, trip: Travelled | None) -> None:
    echo("== A stock change through the webhook path " + "=" * 32)
    if trip is None:
        echo("  no plain product with free stock to ship: skipped")
        return
    echo(f"  shipped {trip.before - trip.after:g} of {trip.name!r} from {trip.store} in MoySklad")
    echo(f"  MoySklad notified the hub's receiver ({trip.notices} webhook(s)); it ran a stock cycle of what changed")
    if trip.seconds is None:
        echo(
            f"  the CRM did NOT show {trip.after:g} at {trip.warehouse} within {ARRIVAL_SECONDS:.0f} s: "
            "see `skladbridge journal`"
        )
    else:
        echo(
            f"  the CRM showed {trip.after:g} (was {trip.before:g}) at {trip.warehouse} "
            f"{trip.seconds:.1f} s after the shipment (the seed modules poll every 10 minutes)"
        )
