"""The Horoshop pair's archive end to end: historic shop orders through the archive-backfill flow,
resumable from the page a run stopped at, orders the CRM already holds linked by ``externalId``
rather than created again, and a second pass creating nothing.

Real flows, real HTTP to the sandboxes on loopback, the real hub store.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from deployments.demo.horoshop_pair import INTEGRATION, HoroshopWorld, catalog_loaded, horoshop_world

pytestmark = [pytest.mark.usefixtures("prefect_backend"), pytest.mark.slow]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HoroshopWorld]:
    with horoshop_world(tmp_path_factory.mktemp("horoshop-archive"), 40) as running:
        from flows.full_import import full_import

        assert full_import(INTEGRATION, config_path=str(running.config_path))
        assert catalog_loaded(running) == 40
        yield running


def archive(world: HoroshopWorld, **window: Any) -> dict[str, Any]:
    from flows.archive_backfill import archive_backfill

    return archive_backfill(INTEGRATION, config_path=str(world.config_path), trigger="test", **window)


def test_the_archive_is_resumable_and_links_what_the_crm_has(world: HoroshopWorld) -> None:
    from datetime import UTC, datetime, timedelta

    from connectors.retailcrm.sandbox.orders import create_order

    past = world.shop.seed_orders(120, seed=3, days=40)  # two pages of 100
    old = world.shop.orders[past[0]]
    # an order the CRM got before the hub (another module): same externalId, no link in the hub
    article = old["products"][0]["article"]
    create_order(
        world.retailcrm.state,
        {"externalId": str(past[0]), "firstName": "Давнє", "items": [{"offer": {"xmlId": article}, "quantity": 1}]},
        INTEGRATION,
        None,
    )
    before = len(world.retailcrm.orders)
    today = datetime.now(UTC).date()
    first = archive(world, date_from=today - timedelta(days=45), date_to=today, max_pages=1)
    assert first["pages"] == 1 and not first["done"]
    rest = archive(world)  # the scheduled run goes on from the next page
    assert rest["done"] and rest["pages"] >= 1
    assert first["linked"] + rest["linked"] >= 1  # found in the CRM by externalId: linked, not created
    externals = [o.get("externalId") for o in world.retailcrm.orders.values() if o.get("externalId")]
    assert len(externals) == len(set(externals))  # no order twice
    assert all(str(oid) in externals for oid in past)
    assert len(world.retailcrm.orders) == before + len(past) - 1
    again = archive(world, date_from=today - timedelta(days=45), date_to=today)
    assert again["created"] == 0 and len(world.retailcrm.orders) == before + len(past) - 1
