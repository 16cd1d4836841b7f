"""The Horoshop pair's demo: a Horoshop shop and retailCRM on loopback, an order and a status timed.

``skladbridge demo --pair horoshop`` runs it offline: the shop's catalog becomes the CRM's ICML feed
(the full import flow, Horoshop as the catalog source), an order a buyer places on the shop reaches
the CRM through the order-upload flow, and a status a manager sets in the CRM reaches the shop
through the status-sync flow — the same flow modules as the MoySklad pair. ``skladbridge sandbox
serve --world horoshop`` starts the same world and prints the config's variables.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from connectors.horoshop.sandbox import HoroshopSandbox
from connectors.retailcrm.sandbox import RetailCRMSandbox
from connectors.sandboxing import LoopbackServer
from deployments.demo.errors import DemoError
from deployments.service.feed_server import FeedServer, feed_app, feed_url

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
INTEGRATION = "shop"
SECRET_VARS = frozenset({"SKLADBRIDGE_HS_PASSWORD", "SKLADBRIDGE_HS_CRM_KEY", "SKLADBRIDGE_HS_FEED_SECRET"})


@dataclass
class HoroshopWorld:
    """The running shop and CRM, the feed, and the config written for them."""

    workdir: Path
    config_path: Path
    shop: HoroshopSandbox
    retailcrm: RetailCRMSandbox
    feed_url: str
    env: dict[str, str] = field(default_factory=dict)


def template() -> Path:
    found = EXAMPLES / "horoshop.yaml"
    if not found.exists():
        raise FileNotFoundError(f"{found} is missing: run from a source checkout (pip install -e .)")
    return found


@contextmanager
def horoshop_world(workdir: Path, products: int = 200, *, orders: int = 0, seed: int = 0) -> Iterator[HoroshopWorld]:
    """Start the shop, the CRM (site ``shop``, its catalog timer at 1 s) and the feed server; write the
    config (secrets as references, set in this process's environment); stop on exit."""
    workdir.mkdir(parents=True, exist_ok=True)
    for stale in [*workdir.glob("skladbridge.db*"), *(workdir / "feeds").glob("*.xml")]:
        stale.unlink()
    password, crm_key, feed_secret = (secrets.token_urlsafe(n) for n in (12, 16, 24))
    shop = HoroshopSandbox(login="apiadmin", password=password)
    shop.seed_catalog(products, seed=seed)
    shop.seed_statuses()
    if orders:
        shop.seed_orders(orders, seed=seed)
    crm = RetailCRMSandbox(api_key=crm_key, sites=(INTEGRATION,), catalog_refresh_seconds=1.0)
    feed_path = workdir / "feeds" / f"{INTEGRATION}.xml"
    with ExitStack() as stack:
        shop_server = stack.enter_context(LoopbackServer(shop.app))
        crm_server = stack.enter_context(LoopbackServer(crm.app))
        feeds = stack.enter_context(FeedServer(feed_app({INTEGRATION: feed_path}, {INTEGRATION: feed_secret}), port=0))
        url = feed_url(feeds.url, INTEGRATION, feed_secret)
        crm.state.sites[INTEGRATION].update({"ymlUrl": url, "loadFromYml": True})
        env = {
            "SKLADBRIDGE_HS_DATABASE_URL": f"sqlite:///{(workdir / 'skladbridge.db').resolve()}",
            "SKLADBRIDGE_HS_SHOP_URL": shop_server.url,
            "SKLADBRIDGE_HS_PASSWORD": password,
            "SKLADBRIDGE_HS_CRM_URL": crm_server.url,
            "SKLADBRIDGE_HS_CRM_KEY": crm_key,
            "SKLADBRIDGE_HS_FEED_SECRET": feed_secret,
        }
        text = template().read_text(encoding="utf-8")
        for key, value in env.items():
            if key not in SECRET_VARS:
                text = text.replace("${" + key + "}", value)
        config_path = workdir / "skladbridge.yaml"
        config_path.write_text(text, encoding="utf-8")
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            yield HoroshopWorld(workdir, config_path, shop, crm, url, env)
        finally:
            for key, previous in saved.items():
                if previous is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = previous


@dataclass
class PairTrip:
    """How long the demo's order and status took, and what arrived."""

    order_id: int
    crm_order_id: int | None = None
    to_crm_seconds: float | None = None
    status_back_seconds: float | None = None
    shop_status: int | None = None
    requests: dict[str, int] = field(default_factory=dict)


def _crm_order(world: HoroshopWorld, order_id: int) -> dict[str, Any] | None:
    return next((o for o in world.retailcrm.orders.values() if o.get("externalId") == str(order_id)), None)


def catalog_loaded(world: HoroshopWorld, timeout: float = 30.0) -> int:
    """Have the CRM load the feed now (its admin call), as its timer would; returns offers loaded."""
    crm = world.env["SKLADBRIDGE_HS_CRM_URL"]
    answer = httpx.post(f"{crm}/sandbox/sites/{INTEGRATION}/load-catalog", timeout=timeout)
    answer.raise_for_status()
    return int(answer.json()["offersLoaded"])


def pair_trip(world: HoroshopWorld) -> PairTrip:
    """A buyer's order on the shop to the CRM (order upload), then a manager's status back (status sync)."""
    from flows.order_status_sync import order_status_sync
    from flows.order_upload import order_upload

    config = str(world.config_path)
    order_upload(INTEGRATION, config_path=config, trigger="demo")  # the first read sets the cursor only
    order_status_sync(INTEGRATION, config_path=config, trigger="demo")
    articles = list(world.shop.state.products)[:2]
    order = world.shop.place_order(
        phone="+380671234567",
        name="Олена Коваленко",
        lines=[(articles[0], 1.0), (articles[1], 2.0)],
        delivery=1,
        delivery_price=-1,  # the shop has not calculated it
        email="olena@example.com",
        address="Відділення №12",
    )
    trip = PairTrip(order_id=int(order["order_id"]))
    started = time.monotonic()
    order_upload(INTEGRATION, config_path=config, trigger="demo")
    crm_order = _crm_order(world, trip.order_id)
    if crm_order is None:
        return trip
    trip.to_crm_seconds = time.monotonic() - started
    trip.crm_order_id = int(crm_order["id"])
    world.retailcrm.user_edit_order(trip.crm_order_id, {"status": "assembling"})  # a manager, in the CRM's UI
    started = time.monotonic()
    order_status_sync(INTEGRATION, config_path=config, trigger="demo")
    trip.shop_status = int(world.shop.orders[trip.order_id]["stat_status"])
    if trip.shop_status == 2:
        trip.status_back_seconds = time.monotonic() - started
    return trip


def run_horoshop_demo(workdir: Path, products: int = 200, echo: Any = print) -> dict[str, Any]:
    """The pair's demo; returns the catalog run's summary and the trip."""
    from deployments.schedule.prefect_env import configure

    configure(workdir / ".prefect")
    echo(f"Starting the sandboxes: a Horoshop shop with {products} products, retailCRM, the feed server ...")
    with horoshop_world(workdir, products) as world:
        from flows.full_import import full_import

        echo("Publishing the shop's catalog as the CRM's ICML feed (the first run starts Prefect: ~15 s) ...")
        catalog = full_import(INTEGRATION, config_path=str(world.config_path))
        loaded = catalog_loaded(world)
        echo(f"The CRM loaded {loaded} offers from the feed.")
        echo("Placing an order on the shop: the order upload should bring it to the CRM ...")
        trip = pair_trip(world)
        report(echo, world, trip)
    if trip.to_crm_seconds is None or trip.status_back_seconds is None:
        raise PairDemoError("the order or its status did not arrive; see `skladbridge journal`")
    return {"catalog": catalog, "trip": trip, "offers_loaded": loaded}


class PairDemoError(DemoError):
    """The demo's own claim failed."""


def report(echo: Any, world: HoroshopWorld, trip: PairTrip) -> None:
    echo("")
    if trip.to_crm_seconds is not None:
        echo(
            f"Order {trip.order_id} placed on the shop reached the CRM as order {trip.crm_order_id} "
            f"in {trip.to_crm_seconds:.1f} s (one order-upload cycle)."
        )
    if trip.status_back_seconds is not None:
        echo(
            f"Status `assembling` set in the CRM reached the shop as status {trip.shop_status} "
            f"in {trip.status_back_seconds:.1f} s (one status-sync cycle)."
        )
    shop_calls = sum(1 for r in world.shop.log if r.path != "/auth")
    echo(f"Horoshop function calls in all: {shop_calls} (sign-ins not counted).")
    echo(f"config: {world.config_path}")


def serve_horoshop_world(workdir: Path, products: int = 200, echo: Any = print) -> None:
    """``skladbridge sandbox serve --world horoshop``: the pair's world with orders, until Ctrl-C."""
    with horoshop_world(workdir, products, orders=20) as world:
        echo(f"Horoshop sandbox:  {world.env['SKLADBRIDGE_HS_SHOP_URL']}  ({products} products, login apiadmin)")
        echo(f"retailCRM sandbox: {world.env['SKLADBRIDGE_HS_CRM_URL']}  (site {INTEGRATION})")
        echo(f"config:            {world.config_path}")
        echo("Set the config's variables in your shell (they hold secrets: keep them out of history files):")
        for key, value in world.env.items():
            echo(f"  export {key}='{value}'")
        echo(f"  export SKLADBRIDGE_CONFIG='{world.config_path.resolve()}'")
        echo(f"Then e.g.: skladbridge run full-import --integration {INTEGRATION}   (Ctrl-C stops the world)")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            echo("stopped")
