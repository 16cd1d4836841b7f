"""The feed rewritten from the hub alone, for a channel whose stock and prices travel in the feed.

A stock-sync cycle of such a channel (:class:`hub.capabilities.FeedCarried`: a portal that loads a product feed)
has nothing to send: the changed stock reaches the channel when the feed it loads changes. So the
cycle rewrites the feed from what the hub holds — the staged catalog and the hub's copy of the
source's stock levels that the cycle has just brought up to date — with no request to either side,
before its batches count as accepted (a cycle killed in between sends them again: the feed is
simply written once more). The file is replaced atomically, and only when its content changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
from prefect import task
from prefect.cache_policies import NONE

from hub.capabilities import CatalogFeedSink
from tasks.catalog.entries import iter_catalog_slices
from tasks.catalog.feed import FeedResult, FeedStats, slice_offers, write_feed
from tasks.catalog.run import CatalogRun
from tasks.clients import capability_for_planning
from tasks.mapping_check import CatalogMappings, resolve_catalog_mappings
from tasks.stock.cycle import CycleResult, StockRun
from tasks.stock.levels import StockLevels


@dataclass(frozen=True)
class LevelRows:
    """The hub's copy of the source's stock, read as the current report is (``rows(offer_ids)``)."""

    levels: StockLevels
    measure: str

    def rows(self, offer_ids: Iterable[str]) -> pd.DataFrame:
        return self.levels.stock(offer_ids, self.measure)


def staged_mappings(run: CatalogRun, feed: CatalogFeedSink) -> CatalogMappings:
    """The config's mappings over the reference books the last full import staged (nothing is read)."""
    records = run.store.records
    return resolve_catalog_mappings(
        run.name,
        run.integ.mappings,
        stores=records.frame(run.name, "stores"),
        price_types=records.frame(run.name, "price_types"),
        folders=records.frame(run.name, "categories"),
        channel=asyncio.run(feed.channel_reference()).with_problems_of(run.target),
        need_stock=run.wants_stock,
        need_prices=run.wants_prices,
        source_title=run.source_title,
        channel_title=run.target_title,
    )


@task(name="rewrite-feed", cache_policy=NONE)
def rewrite_feed(run: StockRun, cycle: CycleResult) -> FeedResult | None:
    """Rewrite the feed of a channel whose stock travels in it, when the cycle changed any offer's
    stock; None for other channels (their stock is sent) and for a cycle that changed nothing."""
    if run.feed_path is None or not cycle.offers_changed:
        return None
    catalog = CatalogRun(run.name, run.integ, run.store, run.source, run.target, run.feed_path)
    stock = LevelRows(run.levels, run.integ.options.stock.measure)
    with capability_for_planning(run.integ, run.target, CatalogFeedSink) as feed:
        mappings = staged_mappings(catalog, feed)

        def items() -> Iterator[Any]:
            for part in iter_catalog_slices(catalog):
                yield from slice_offers(catalog, part, stock, mappings, FeedStats(), feed)

        return write_feed(catalog, items(), mappings, feed)
