"""The demo's order act: an order placed on the shop's site reaches MoySklad, and its state comes back.

After the stock trip, the demo runs one order-upload cycle (the first read only sets the cursor),
starts what ``skladbridge serve`` runs for orders — the few-second order poll
(:mod:`deployments.service.order_poll`) and the webhook receiver, whose ``customerorder`` notices start an
order-status-sync cycle — and subscribes MoySklad to the receiver. Then the shop's site creates an
order through the CRM's API with its own key, as a site module does; the demo times it until
MoySklad holds it. Then a manager moves the order to another state in MoySklad (through its API);
the demo times it until the CRM shows the mapped status.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from connectors.moysklad.client import MoySkladClient
from connectors.retailcrm.client import RetailCRMClient
from connectors.sandboxing import LoopbackServer
from deployments.demo.stock_trip import subscribe

if TYPE_CHECKING:
    from deployments.demo.world import DemoWorld

#: how long the demo waits for each leg before it says the order (or its state) did not arrive
ARRIVAL_SECONDS = 60.0


@dataclass(frozen=True)
class OrderTrip:
    """An order's trip to the ERP and its state's trip back (seconds None: it did not arrive)."""

    crm_id: str
    number: str
    offer: str
    erp_id: str | None
    to_erp_seconds: float | None
    state: str = ""
    status: str = ""
    back_seconds: float | None = None


def _wait(check: Callable[[], Any], started: float) -> tuple[Any, float | None]:
    while time.monotonic() - started < ARRIVAL_SECONDS:
        found = check()
        if found:
            return found, time.monotonic() - started
        time.sleep(0.02)
    return None, None


def pick_offer(world: DemoWorld) -> dict[str, Any] | None:
    """A CRM offer our feed loaded whose MoySklad product or variant is live."""
    store = world.moysklad.store
    live = {
        oid for kind in ("product", "variant") for oid, item in store.of_type(kind).items() if not item.get("archived")
    }
    return next((o for _, o in sorted(world.retailcrm.offers.items()) if o.get("xmlId") in live), None)


async def place_on_site(world: DemoWorld, site: str, offer: dict[str, Any]) -> dict[str, Any]:
    """The shop site's module creating an order through the CRM's API, with the site's own key."""
    async with RetailCRMClient(os.environ["SKLADBRIDGE_DEMO_CRM_URL"], api_key=world.site_key) as crm:
        return await crm.create_order(
            {
                "status": "new",
                "firstName": "Ада",
                "lastName": "Демо",
                "phone": "+7 999 000-12-34",
                "items": [{"offer": {"xmlId": offer["xmlId"]}, "quantity": 1}],
            },
            site=site,
        )


async def set_state(world: DemoWorld, erp_id: str, state_id: str) -> None:
    """A manager moving the order in MoySklad (its API, with the demo's login)."""
    async with MoySkladClient(
        os.environ["SKLADBRIDGE_DEMO_MS_URL"],
        login=world.moysklad.login,
        password=os.environ["SKLADBRIDGE_DEMO_MS_PASSWORD"],
    ) as client:
        await client.update_order_state(erp_id, state_id)


def order_trip(world: DemoWorld, integration: str) -> OrderTrip | None:
    """Place an order on the shop's site, time it to MoySklad; move its state there, time it back."""
    from deployments.service.order_poll import start_polls
    from deployments.service.webhooks import webhook_app
    from flows.order_upload import order_upload
    from hub.config import load_config
    from hub.store import open_store

    config = load_config(world.config_path)
    integ = config.integrations[integration]
    edge = integ.edge("orders")
    offer = pick_offer(world)
    if edge is None or offer is None:
        return None
    site = integ.systems[edge.source].model_dump().get("site") or integration
    order_upload(integration, config_path=str(world.config_path), trigger="demo")  # sets the cursor
    store = open_store(config.effective_database_url())
    app = webhook_app(world.config_path)
    receiver = app.state.receiver
    poller = start_polls(config, store, world.config_path)
    try:
        with LoopbackServer(app) as server:
            asyncio.run(subscribe(world, integration, server.url))
            started = time.monotonic()
            placed = asyncio.run(place_on_site(world, site, offer))
            crm_id = str(placed["id"])
            erp, to_erp = _wait(
                lambda: next(
                    (
                        o
                        for o in world.moysklad.store.of_type("customerorder").values()
                        if o.get("externalCode") == crm_id
                    ),
                    None,
                ),
                started,
            )
            trip = OrderTrip(
                crm_id,
                str(placed.get("number") or crm_id),
                str(offer.get("name") or offer["xmlId"]),
                str(erp["id"]) if erp else None,
                to_erp,
            )
            if erp is None:
                return trip
            # the first mapped status the order does not have, and its MoySklad state
            status, state = next(
                (s, st)
                for s, st in (integ.mappings.get("statuses") or {}).items()
                if st and s != world.retailcrm.orders[int(crm_id)]["status"]
            )
            state_id = next(s["id"] for s in world.moysklad.store.states if s["name"] == state)
            started = time.monotonic()
            asyncio.run(set_state(world, str(erp["id"]), state_id))
            _, back = _wait(lambda: world.retailcrm.orders[int(crm_id)]["status"] == status, started)
            receiver.status_trigger.wait_idle(ARRIVAL_SECONDS)
            return OrderTrip(
                trip.crm_id, trip.number, trip.offer, trip.erp_id, trip.to_erp_seconds, str(state), str(status), back
            )
    finally:
        if poller is not None:
            poller.close(ARRIVAL_SECONDS)
        receiver.close()
        store.close()


def report(echo: Any, trip: OrderTrip | None) -> None:
    echo("== An order from the shop's site to MoySklad, and its state back " + "=" * 10)
    if trip is None:
        echo("  no orders edge or no offer in the CRM: skipped")
        return
    echo(f"  the shop's site created order {trip.number} ({trip.offer}) through the CRM's API with its own key")
    if trip.to_erp_seconds is None:
        echo(f"  MoySklad did NOT get it within {ARRIVAL_SECONDS:.0f} s: see `skladbridge journal`")
        return
    echo(f"  MoySklad had it {trip.to_erp_seconds:.1f} s later (the hub's order poll asks the CRM every 2 s)")
    if trip.back_seconds is None:
        echo(
            f"  its state {trip.state!r} set in MoySklad did NOT reach the CRM within {ARRIVAL_SECONDS:.0f} s: "
            "see `skladbridge journal`"
        )
    else:
        echo(
            f"  its state {trip.state!r} set in MoySklad showed in the CRM as status {trip.status!r} "
            f"{trip.back_seconds:.1f} s later (MoySklad's webhook started a status sync)"
        )
