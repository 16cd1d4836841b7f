"""Waiting for the CRM to load our feed: a reload of the old feed must not end the wait.

The CRM loads the feed on its own schedule. If it reloads the previous feed after the run read
``catalogUpdatedAt`` and before our feed was in place, the stamp moves although the CRM still does
not know the new offers; stock uploaded then would come back as ``notFoundOffers``.
"""

from __future__ import annotations

import threading
from pathlib import Path

from connectors.retailcrm.convert.icml import IcmlOffer, write_icml
from deployments.demo import DemoWorld, demo_world
from hub.config import load_config
from tasks.catalog.feed import await_catalog_load
from tasks.catalog.run import plan_catalog_run
from tasks.hub_tasks import open_hub_store


def _load_feed(world: DemoWorld, path: Path, offer_ids: list[str]) -> None:
    """Have the CRM sandbox load a feed of these offers into the demo site (as its timer would)."""
    offers = [IcmlOffer(id=o, product_id=o, name=o, product_name=o, xml_id=o) for o in offer_ids]
    write_icml(path, shop_name="Shop", company="Company", categories=[], offers=offers)
    world.retailcrm.load_icml(path, "demo")


def test_a_reload_of_the_old_feed_does_not_end_the_wait(tmp_path: Path) -> None:
    with demo_world(tmp_path / "demo", 20) as world:
        config = load_config(world.config_path)
        store = open_hub_store(config)
        try:
            run = plan_catalog_run(config, "demo", store)
            stamp_before = world.retailcrm.state.sites["demo"]["catalogUpdatedAt"]
            _load_feed(world, tmp_path / "old.xml", ["old-1"])  # the CRM's timer reloads the old feed
            assert world.retailcrm.state.sites["demo"]["catalogUpdatedAt"] != stamp_before

            assert not await_catalog_load.fn(run, stamp_before, 2.5, ["new-1", "new-2"])

            # our feed lands a little later (stamps have one-second resolution)
            later = threading.Timer(1.5, _load_feed, (world, tmp_path / "new.xml", ["old-1", "new-2"]))
            later.start()
            try:
                assert await_catalog_load.fn(run, stamp_before, 30, ["new-1", "new-2"])
            finally:
                later.join()
            # a feed with no offer new to the CRM: a moved stamp is all there is to see
            assert await_catalog_load.fn(run, stamp_before, 5, [])
        finally:
            store.close()
