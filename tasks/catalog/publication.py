"""One pass over the staged catalog: the feed written and the changed stock and prices queued.

The catalog is read a slice of offers at a time (with the prices, products and images of that
slice alone), so the pass holds one slice and less than one upload batch per stream in memory,
whatever the catalog size. Only the current-stock report, one response for the whole catalog,
is held whole.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pandas as pd
from prefect import task
from prefect.cache_policies import NONE

from hub.capabilities import CatalogFeedSink, PriceSink, StockSink
from tasks.catalog.entries import SLICE_ROWS, StockByOffer, inventory_entries, iter_catalog_slices, price_entries
from tasks.catalog.feed import FeedResult, FeedStats, await_catalog_load, slice_offers, write_feed
from tasks.catalog.run import CatalogRun
from tasks.clients import capability_for_planning
from tasks.mapping_check import CatalogMappings
from tasks.publish import INVENTORIES, PRICES, Planned, UploadPlanner
from tasks.reporting import Progress


@dataclass(frozen=True)
class Publication:
    """What the pass queued per stream, and the feed it wrote."""

    planned: dict[str, Planned]
    feed: FeedResult
    feed_stats: FeedStats
    new_offers: list[str]  # a few feed offers the channel has never accepted (to tell when it loaded this feed)


#: how many new offers a wait for the channel's catalog load looks for
PROBES = 5


def _never_sent(run: CatalogRun, offer_ids: list[str], wanted: int) -> list[str]:
    """Up to ``wanted`` of these offers that have no link to the channel yet (it never accepted them)."""
    hub_keys = run.store.links.resolve(run.name, "offers", run.source_system, offer_ids)
    known = run.store.links.external_ids(run.name, "offers", run.target_system, list(hub_keys.values()))
    return [o for o in offer_ids if hub_keys.get(o) not in known][:wanted]


@task(name="publish-catalog", cache_policy=NONE)
def publish_catalog(
    run: CatalogRun, stock: pd.DataFrame, mappings: CatalogMappings, slice_rows: int = SLICE_ROWS
) -> Publication:
    """Write the feed and queue the stock and price batches that differ from what was last sent.

    Nothing is sent here: the feed must be in place before a channel accepts stock for new offers.
    """
    stock_by_offer = StockByOffer(stock)
    progress = Progress(f"{run.name}: catalog slices published")
    slices = max(1, math.ceil(run.store.records.count(run.name, "offers") / slice_rows))
    stats = FeedStats()
    new_offers: list[str] = []

    with ExitStack() as opened:
        feed = opened.enter_context(capability_for_planning(run.integ, run.target, CatalogFeedSink))
        stock_sink = (
            opened.enter_context(capability_for_planning(run.integ, run.target, StockSink)) if run.wants_stock else None
        )
        price_sink = (
            opened.enter_context(capability_for_planning(run.integ, run.target, PriceSink))
            if run.wants_prices
            else None
        )
        planners = {
            stream: UploadPlanner(run, stream, sink)
            for stream, sink in ((INVENTORIES, stock_sink), (PRICES, price_sink))
            if sink is not None
        }

        def items() -> Iterator[Any]:
            for done, part in enumerate(iter_catalog_slices(run, slice_rows), 1):
                if stock_sink is not None:
                    planners[INVENTORIES].add(inventory_entries(run, part, stock_by_offer, mappings, stock_sink))
                if price_sink is not None:
                    planners[PRICES].add(price_entries(part, mappings, price_sink))
                if len(new_offers) < PROBES:
                    new_offers.extend(_never_sent(run, part.offer_ids, PROBES - len(new_offers)))
                yield from slice_offers(run, part, stock_by_offer, mappings, stats, feed)
                progress.update(done, slices)

        written = write_feed(run, items(), mappings, feed)
        planned = {stream: planner.finish() for stream, planner in planners.items()}
    return Publication(planned, written, stats, new_offers)


def channel_loaded(run: CatalogRun, publication: Publication, stamp_before: str | None, wait_seconds: float) -> bool:
    """Whether the channel loaded this publication's feed within ``wait_seconds`` (True when there is
    nothing to wait for: no wait asked, nothing queued, or an unchanged feed of offers it knows).

    A feed this run did not change may still be unloaded (a re-run after a crash): offers the channel
    never accepted say so.
    """
    if wait_seconds <= 0 or not publication.planned or not (publication.feed.changed or publication.new_offers):
        return True
    return bool(
        await_catalog_load(
            run, stamp_before, wait_seconds, publication.new_offers, feed_changed=publication.feed.changed
        )
    )
