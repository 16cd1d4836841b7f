"""``skladbridge demo`` itself: two full imports, then a stock change and an order timed through the hub."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from deployments.demo.errors import DemoError
from deployments.demo.order_trip import OrderTrip, order_trip
from deployments.demo.order_trip import report as report_orders
from deployments.demo.stock_trip import ARRIVAL_SECONDS, Travelled, travel
from deployments.demo.stock_trip import report as report_trip
from deployments.demo.world import DEMO_INTEGRATION, DemoWorld, demo_world
from hub.exchanges import RunResult, ran, skipped_reason

__all__ = ["PAIRS", "DemoError", "run_demo", "run_pair"]


def _ran(result: RunResult) -> dict[str, Any]:
    """A demo run's summary; the demo's world is its own, so a skipped run is the demo failing."""
    if (summary := ran(result)) is None:
        raise DemoError(f"the full import did not run: {skipped_reason(result)}")
    return summary


def run_demo(workdir: Path, products: int = 3000, echo: Any = print) -> dict[str, Any]:
    """Run the demo and return both runs' summaries (``echo`` prints the readable report)."""
    from deployments.schedule.prefect_env import configure

    configure(workdir / ".prefect")
    started = time.monotonic()
    echo(f"Starting the sandboxes: MoySklad with {products} generated products, retailCRM, feed server ...")
    with demo_world(workdir, products) as world:
        from flows.full_import import full_import

        echo("Running the full import (the first Prefect run starts a local Prefect server: ~15 s) ...")
        first = _ran(full_import(DEMO_INTEGRATION, config_path=str(world.config_path), catalog_wait_seconds=60))
        echo("Running it again: nothing changed in MoySklad, so nothing should be written to the CRM ...")
        second = _ran(full_import(DEMO_INTEGRATION, config_path=str(world.config_path), catalog_wait_seconds=0))
        crm = world.retailcrm
        crm_state = {
            "offers": len(crm.offers),
            "offers with stock": sum(1 for stores in crm.inventories.values() if stores),
            "offers with prices": sum(1 for prices in crm.prices.values() if prices),
        }
        echo("Shipping a product in MoySklad: its webhook should bring the new stock to the CRM in seconds ...")
        trip = travel(world, DEMO_INTEGRATION)
        echo(
            "Placing an order on the shop's site: the hub's order poll should bring it to MoySklad, and its "
            "state set there should come back ..."
        )
        order = order_trip(world, DEMO_INTEGRATION)
        banned = world.moysklad.banned
        report(echo, first, second, crm_state, world, time.monotonic() - started, banned, trip, order)
    if trip is not None and trip.seconds is None:  # the demo's own claim failed: so does the run
        raise DemoError(
            f"the shipped stock did not reach the CRM within {ARRIVAL_SECONDS:.0f} s through the "
            f"webhook path; see `skladbridge journal --config {world.config_path}`"
        )
    if order is not None and (order.to_erp_seconds is None or order.back_seconds is None):
        raise DemoError(
            f"the order or its state did not arrive within {ARRIVAL_SECONDS:.0f} s; "
            f"see `skladbridge journal --config {world.config_path}`"
        )
    return {"first": first, "second": second, "crm": crm_state, "webhook": trip, "order": order}


#: ``skladbridge demo --pair <name>``: each pair's demo, ``module:function(workdir, products, echo)``
#: ``skladbridge demo --pair NAME``: each pair's demo in a module of its own
#: (``module:function(workdir, products, echo=...)``, returning its report; ``failed`` says what it did not show)
PAIRS: dict[str, str] = {
    "moysklad": "deployments.demo.run:run_demo",
    "horoshop": "deployments.demo.horoshop_pair:run_horoshop_demo",
    "keycrm": "deployments.demo.keycrm_pair:run_keycrm_demo",
}


def run_pair(pair: str, workdir: Path, products: int | None = None, echo: Any = print) -> dict[str, Any]:
    """Run the demo of ``pair`` (a key of :data:`PAIRS`) with ``products`` (None: the pair's own default).

    Raises:
        DemoError: no such pair, or the pair's demo did not show what it says it shows.
    """
    import importlib

    if pair not in PAIRS:
        raise DemoError(f"unknown pair {pair!r}: {', '.join(sorted(PAIRS))}")
    module, _, function = PAIRS[pair].partition(":")
    size = {} if products is None else {"products": products}
    result: dict[str, Any] = getattr(importlib.import_module(module), function)(workdir, echo=echo, **size)
    if result.get("failed"):
        raise DemoError(f"{pair}: {result['failed']}")
    return result


def report(
    echo: Any,
    first: dict[str, Any],
    second: dict[str, Any],
    crm: dict[str, int],
    world: DemoWorld,
    seconds: float,
    banned: bool,
    trip: Travelled | None,
    order: OrderTrip | None = None,
) -> None:
    """Print what was imported, what the CRM now has, requests spent and where the feed is."""
    echo("")
    echo("== Full import, first run " + "=" * 50)
    for row in first["rows"]:
        weight = f" (weight {row['weight']})" if "weight" in row else ""
        echo(f"  {row['what']:<45} {row['count']}{weight}")
    echo("== What the CRM now has " + "=" * 52)
    for what, count in crm.items():
        echo(f"  {what:<45} {count}")
    echo("== Second run (nothing changed) " + "=" * 44)
    crm_writes = sum(v.get("batches", 0) for v in second["uploaded"].values())
    echo(f"  upload batches sent to the CRM                {crm_writes}")
    rewritten = any("feed updated" in str(row["what"]) for row in second["rows"])
    echo(f"  {'feed rewritten':<45} {'yes' if rewritten else 'no'}")
    for row in second["rows"]:
        if str(row["what"]).startswith("requests"):
            echo(f"  {row['what']:<45} {row['count']} (weight {row['weight']})")
    report_trip(echo, trip)
    report_orders(echo, order)
    echo("== Where things are " + "=" * 56)
    echo(f"  config        {world.config_path}")
    echo(f"  feed file     {first['feed_path']}")
    feed_secret = os.environ.get("SKLADBRIDGE_DEMO_FEED_SECRET", "")
    shown = world.feed_url.replace(feed_secret, "<path_secret>") if feed_secret else world.feed_url
    echo(f"  feed URL      {shown} (stops with the demo; `skladbridge feed serve` serves it)")
    echo(f"  hub database  {world.workdir / 'skladbridge.db'}")
    echo(f"  MoySklad would have banned us: {'YES' if banned else 'no'}; warnings: {len(first['warnings'])}")
    for warning in first["warnings"]:
        echo(f"    - {warning}")
    echo(f"Done in {seconds:.0f} s. Inspect the hub with: skladbridge journal --config {world.config_path}")
