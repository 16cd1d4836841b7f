"""The hub's copy of the source catalog for a stock edge that has no catalog edge.

Stock sync works out a channel's stock over the hub's catalog (which offers carry stock, bundles,
the stores to map). When the integration publishes a catalog, the full import keeps that copy.
A channel that keeps a catalog of its own and matches offers by the merchant's key (an SKU) gets no
catalog from the hub, so the stock-sync cycle keeps the copy itself: on every whole read of the
stock (the first cycle and each reconciliation) it also reads the source's reference books, its
assortment page by page and its bundles' components, and stages them the way the full import
does. Nothing is published; images are not read. Offers the source no longer has stay staged
until the next whole pass removes them (below), so a deleted offer is simply not sent again.
"""

from __future__ import annotations

import asyncio

import pandas as pd

from hub.capabilities import BundleSource, CatalogSource
from hub.model import ID_COLUMN
from hub.systems import connector
from tasks.clients import open_capability
from tasks.exchange import ExchangeRun

#: the page kinds staged, with their keys
PAGE_KINDS = (("products", "product_id"), ("offers", "offer_id"), ("prices", ["offer_id", "price_type_id"]))


def needs_own_copy(run: ExchangeRun) -> bool:
    """The integration has no catalog edge from the stock source, and the source can read a catalog."""
    edge = run.integ.edge("catalog")
    return (edge is None or edge.source != run.source) and connector(run.source_system).can(CatalogSource)


def stage_source_catalog(run: ExchangeRun) -> int:
    """Read and stage the source's reference books, assortment and bundle components; offers staged."""

    async def read() -> tuple[dict[str, pd.DataFrame], list[dict[str, pd.DataFrame]], pd.DataFrame | None, bool]:
        async with open_capability(run.integ, run.source, CatalogSource) as source:
            reference = await source.reference()
            first = await source.catalog_page(0)
            rest = await asyncio.gather(
                *(source.catalog_page(o) for o in range(source.page_size, first.size, source.page_size))
            )
        pages = [first, *rest]
        complete = len({p.size for p in pages}) == 1 and len({r for p in pages for r in p.row_ids}) == first.size
        bundles = any((p.frames["offers"]["kind"] == "bundle").any() for p in pages)
        components = None
        if bundles and connector(run.source_system).can(BundleSource):
            async with open_capability(run.integ, run.source, BundleSource) as kits:
                components = await kits.bundle_components()
        return reference, [p.frames for p in pages], components, complete

    reference, pages, components, complete = asyncio.run(read())
    records, links = run.store.records, run.store.links
    for kind, df in reference.items():
        records.upsert_frame(run.name, kind, run.source_system, df, ID_COLUMN[kind])
    seen: dict[str, set[str]] = {"products": set(), "offers": set()}
    for frames in pages:
        for kind, key in PAGE_KINDS:
            records.upsert_frame(run.name, kind, run.source_system, frames[kind], key)
        for kind in seen:
            ids = frames[kind][ID_COLUMN[kind]].astype(str).tolist()
            seen[kind].update(ids)
            links.ensure(run.name, kind, run.source_system, ids)
    if complete and seen["offers"]:  # a pass over a catalog edited mid-read forgets nothing
        for kind, keys in seen.items():
            records.delete_missing(run.name, kind, sorted(keys))
    if components is not None:
        records.upsert_frame(run.name, "bundle_components", run.source_system, components, ["offer_id", "component_id"])
    return len(seen["offers"])
