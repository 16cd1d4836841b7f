"""The staged catalog read a slice at a time, and the stock and price entries of each slice.

The catalog is read from the hub a slice of offers at a time (with that slice's own prices), so
memory does not grow with the catalog. What is sent and how it is batched is the publish
pipeline's (:mod:`tasks.publish`); what the channel's entries look like is the sink's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from hub.capabilities import Entry, PriceSink, StockSink
from hub.store import Store
from tasks.catalog.run import CatalogRun
from tasks.mapping_check import CatalogMappings
from tasks.stock.rules import STOCKED_KINDS, StockRules, channel_stock

#: offers per slice of the staged catalog: what one planning and feed step holds in memory. 2500,
#: not more: a slice's rows, frames and entries take about 5 MB of RSS per 1000 offers at their
#: peak, and the pass of a 100 000-item catalog must stay under 200 MB with the imports and the
#: stock report (bench/yml_feed.py memory); halving it from 5000 took about the same time there.
SLICE_ROWS = 2500


@dataclass(frozen=True)
class CatalogSlice:
    """Published offers of one slice of the staged catalog (key order), with their prices."""

    offers: pd.DataFrame  # archived offers only when the integration publishes them
    prices: pd.DataFrame

    @property
    def offer_ids(self) -> list[str]:
        return self.offers["offer_id"].astype(str).tolist()


def iter_catalog_slices(run: CatalogRun, rows: int = SLICE_ROWS) -> Iterator[CatalogSlice]:
    """The staged offers ``rows`` at a time, each slice read from the hub with its own prices."""
    for offers in run.store.records.iter_frames(run.name, "offers", rows):
        if not run.integ.options.catalog.include_archived:
            offers = offers[~offers["archived"].fillna(False).astype(bool)].reset_index(drop=True)
        if offers.empty:
            continue
        ids = offers["offer_id"].astype(str).tolist()
        yield CatalogSlice(offers, run.store.records.frame(run.name, "prices", parents=ids))


class StockRows(Protocol):
    """Source stock rows (by source store) of given offers: the current report, or the hub's copy."""

    def rows(self, offer_ids: Iterable[str]) -> pd.DataFrame: ...


class StockByOffer:
    """The current-stock report (one response for the whole catalog) indexed by offer, for slices.

    The index is the report's row numbers in offer order and the offer ids in that order (two flat
    arrays, searched by bisection), not a table of row numbers per offer: for a 100 000-item
    catalog that is 4 MB instead of 13. Rows without an offer id belong to no offer.
    """

    def __init__(self, stock: pd.DataFrame) -> None:
        self.stock = stock.reset_index(drop=True)
        ids = self.stock["offer_id"].to_numpy(dtype=object)  # the report's own strings, not copies
        named = np.flatnonzero(pd.notna(ids))
        self._order = named[np.argsort(ids[named], kind="stable")]  # an offer's rows keep their order
        self._ids = ids[self._order]

    def rows(self, offer_ids: Iterable[str]) -> pd.DataFrame:
        """The report's rows of these offers, offer after offer (none for an offer the report does not list)."""
        wanted = np.array(list(dict.fromkeys(str(o) for o in offer_ids)), dtype=object)  # each offer once
        first = np.searchsorted(self._ids, wanted, side="left")
        last = np.searchsorted(self._ids, wanted, side="right")
        found = [self._order[a:b] for a, b in zip(first, last, strict=True) if b > a]
        return self.stock.iloc[np.concatenate(found)] if found else self.stock.iloc[:0]


def inventory_entries(
    run: CatalogRun, part: CatalogSlice, stock: StockRows, mappings: CatalogMappings, sink: StockSink
) -> list[Entry]:
    """Every stocked offer (not services) of the slice with every mapped warehouse (the rules of
    :mod:`tasks.stock.rules`): zero where the source reports nothing, bundles from their components."""
    by_warehouse = warehouse_stock(run, part.offers, stock, mappings, whole_units=sink.whole_units)
    return sink.stock_entries(by_warehouse) if len(by_warehouse) else []


def warehouse_stock(
    run: CatalogRun, offers: pd.DataFrame, stock: StockRows, mappings: CatalogMappings, *, whole_units: bool
) -> pd.DataFrame:
    """Canonical ``stock`` of the stocked ``offers`` by channel warehouse code, after the stock rules."""
    stocked = offers[offers["kind"].isin(STOCKED_KINDS)]
    if not run.integ.options.stock.include_archived:
        stocked = stocked[~stocked["archived"].fillna(False).astype(bool)]
    components, unavailable = bundle_parts(run.store, run.name, stocked)
    # once each: an offer that is also a component of a bundle of the slice must not count twice
    wanted = sorted({*stocked["offer_id"].astype(str), *components["component_id"].astype(str)})
    rules = StockRules.of(run.integ.options.stock, mappings.store_map, whole_units=whole_units)
    return channel_stock(stocked, stock.rows(wanted), rules, components, unavailable).stock


def bundle_parts(store: Store, integration: str, offers: pd.DataFrame) -> tuple[pd.DataFrame, set[str]]:
    """The staged components of the bundles among ``offers``, and which components may not be used
    (archived, or no longer in the catalog)."""
    bundles = offers.loc[offers["kind"] == "bundle", "offer_id"].astype(str).tolist()
    components = (
        store.records.frame(integration, "bundle_components", parents=bundles)
        if bundles
        else store.records.frame(integration, "bundle_components", keys=[])
    )
    ids = sorted(set(components["component_id"].astype(str)))
    staged = store.records.frame(integration, "offers", keys=ids)
    live = set(staged.loc[~staged["archived"].fillna(False).astype(bool), "offer_id"].astype(str))
    return components, set(ids) - live


def price_entries(part: CatalogSlice, mappings: CatalogMappings, sink: PriceSink) -> list[Entry]:
    """Mapped prices of every published offer of the slice."""
    return sink.price_entries(part.prices, mappings.price_type_map)
