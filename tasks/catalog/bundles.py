"""What the source's bundles are made of, read once per full import and kept in the hub.

A bundle (a stock system's kit, комплект) has no stock of its own: stock sync derives it from its components
(:mod:`tasks.stock.rules`), so the components must be in the hub before any stock is sent. They
are read only when the catalog has bundles, and only from a source that can list them.
"""

from __future__ import annotations

import asyncio

import pandas as pd
from prefect import task
from prefect.cache_policies import NONE

from hub.capabilities import BundleSource
from hub.systems import connector
from tasks.catalog.run import CatalogRun
from tasks.clients import open_capability
from tasks.retrying import TRANSIENT_RETRIES

KEY = ["offer_id", "component_id"]


@task(name="pull-bundle-components", cache_policy=NONE, **TRANSIENT_RETRIES)
def pull_bundle_components(run: CatalogRun, bundles_seen: int) -> int | None:
    """Stage every bundle's components (replacing what the hub had); the rows staged.

    None when the source cannot list components (its bundles are then left untouched by stock
    uploads: see :mod:`tasks.stock.rules`). With no bundle in the catalog nothing is read.
    """
    records = run.store.records
    if not bundles_seen:
        records.delete_missing(run.name, "bundle_components", ())
        return 0
    if not connector(run.source_system).can(BundleSource):
        return None

    async def read() -> pd.DataFrame:
        async with open_capability(run.integ, run.source, BundleSource) as source:
            return await source.bundle_components()

    components = asyncio.run(read())
    staged = records.upsert_frame(run.name, "bundle_components", run.source_system, components, KEY)
    keys = [f"{b}|{c}" for b, c in zip(components["offer_id"], components["component_id"], strict=True)]
    records.delete_missing(run.name, "bundle_components", keys)
    return staged.inserted + staged.updated + staged.unchanged
