"""The catalog feed a channel loads on its own schedule, built from what the hub holds (no extra
request to the source), slice by slice; and the wait for the channel to load it.

The feed file is replaced only when its content changed, so a re-run with nothing new leaves the
file (and its Last-Modified, which a channel's loader looks at) as it was.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import task
from prefect.cache_policies import NONE

from hub.capabilities import CatalogFeedSink, CatalogSource, FeedCarried, FeedSlice
from tasks.catalog.entries import CatalogSlice, StockRows, warehouse_stock
from tasks.catalog.pictures import with_hub_links
from tasks.catalog.run import CatalogRun
from tasks.clients import capability_for_planning, feed_path_secret, open_capability
from tasks.mapping_check import CatalogMappings

_DATE_ATTR = re.compile(rb'<yml_catalog date="[^"]*">')


@dataclass(frozen=True)
class FeedResult:
    """Where the feed is, how many offers it has, and whether this run changed it."""

    path: Path
    offers: int
    changed: bool


def _translate(series: pd.Series, table: dict[str, str]) -> pd.Series:
    return series.map(lambda v: table.get(str(v), v) if not pd.isna(v) else v).astype("string")


def content_digest(path: Path) -> str:
    """The feed's digest without its generation date, read in blocks (a feed can be 100 MB+)."""
    digest = hashlib.sha1()
    with path.open("rb") as feed:
        digest.update(_DATE_ATTR.sub(b"", feed.read(1 << 16), count=1))  # the date is in the first lines
        while block := feed.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _same_content(a: Path, b: Path) -> bool:
    if not a.exists() or not b.exists():
        return False
    return content_digest(a) == content_digest(b)


@dataclass
class FeedStats:
    """What the feed had to leave out."""

    pictures_without_link: int = 0  # images with no public link (e.g. the source's tariff gives none)


def pictures_hint(run: CatalogRun) -> str:
    """Why the source gives pictures without a public link (its own words)."""
    with capability_for_planning(run.integ, run.source, CatalogSource) as source:
        return source.pictures_hint


def slice_offers(
    run: CatalogRun,
    part: CatalogSlice,
    stock: StockRows,
    mappings: CatalogMappings,
    stats: FeedStats,
    feed: CatalogFeedSink,
) -> Iterator[Any]:
    """The feed items of one catalog slice; its products, purchase prices and images read for it alone."""
    records = run.store.records
    offer_ids = part.offer_ids
    product_ids = sorted(set(part.offers["product_id"].dropna().astype(str)) | set(offer_ids))
    products = records.frame(run.name, "products", keys=product_ids)
    if mappings.category_map:
        products["category_id"] = _translate(products["category_id"], mappings.category_map)
    rows = stock.rows(offer_ids)
    images = records.frame(run.name, "images", parents=product_ids)
    images_url = run.integ.options.feed.images_url
    if images_url is not None:  # pictures with no public link: the hub serves them (any tariff)
        images = with_hub_links(images, str(images_url), run.name, feed_path_secret(run.integ))
    # a download link that needs our credentials could not be loaded by the channel: left out
    stats.pictures_without_link += int(images["url"].isna().sum())
    purchase_prices = records.frame(run.name, "purchase_prices", keys=offer_ids)
    if not run.integ.options.feed.purchase_prices:
        purchase_prices = purchase_prices.iloc[0:0]  # cost prices kept out of the file the CRM fetches
    carried = feed if isinstance(feed, FeedCarried) and feed.carried_by_feed else None
    yield from feed.feed_items(
        FeedSlice(
            offers=part.offers,
            products=products,
            prices=part.prices,
            purchase_prices=purchase_prices,
            stock=rows[rows["store_id"].isin(set(mappings.store_map))],
            images=images,
            main_price_type=mappings.feed_price_type_id or "",
            # a feed that carries stock gets it as a stock sink would: by warehouse, after the rules
            channel_stock=warehouse_stock(run, part.offers, stock, mappings, whole_units=carried.whole_units)
            if carried is not None
            else None,
            price_codes=mappings.price_type_map,
            offer_keys=records_keys(run, offer_ids),
        )
    )


def records_keys(run: CatalogRun, offer_ids: list[str]) -> dict[str, str]:
    """The hub's key of each offer (recorded when the offer was staged)."""
    return run.store.links.resolve(run.name, "offers", run.source_system, offer_ids)


def write_feed(run: CatalogRun, items: Iterable[Any], mappings: CatalogMappings, feed: CatalogFeedSink) -> FeedResult:
    """Write the integration's feed from ``items``; replace the served file only on change."""
    categories = run.store.records.frame(run.name, "categories")
    if mappings.category_map:
        categories["category_id"] = _translate(categories["category_id"], mappings.category_map)
        categories["parent_id"] = _translate(categories["parent_id"], mappings.category_map)
        categories = categories.drop_duplicates("category_id")
    options = run.integ.options.feed
    run.feed_path.parent.mkdir(parents=True, exist_ok=True)
    fresh = run.feed_path.with_name(f".{run.feed_path.name}.new")
    count = feed.write_feed(
        fresh, shop_name=options.shop_name, company=options.company, categories=categories, items=items
    )
    if _same_content(fresh, run.feed_path):
        fresh.unlink()
        return FeedResult(run.feed_path, count, False)
    fresh.replace(run.feed_path)
    return FeedResult(run.feed_path, count, True)


@task(name="await-catalog-load", cache_policy=NONE)
def await_catalog_load(
    run: CatalogRun,
    stamp_before: str | None,
    timeout_seconds: float,
    new_offers: Sequence[str] = (),
    feed_changed: bool = True,
) -> bool:
    """Wait until the channel has loaded *this* feed: its catalog stamp moves and, when the feed
    brings offers the channel never accepted, it lists one of them.

    The channel fetches the feed on its own schedule: a load of the previous feed (started before
    ours was in place) moves the stamp too, so a moved stamp alone proves nothing. When this run did
    not change the feed (a re-run after a crash), the channel may have loaded it already: then one
    look for the new offers comes first. Stock and prices of offers it does not know yet come back
    as not found and are sent again by the next run. Returns whether the load was seen.
    """

    async def loaded() -> bool:
        async with open_capability(run.integ, run.target, CatalogFeedSink) as channel:
            if not feed_changed and new_offers and await channel.knows_offers(new_offers):
                return True
            deadline = time.monotonic() + timeout_seconds
            seen = stamp_before
            while True:
                stamp = await channel.catalog_stamp()
                if stamp and stamp != seen:
                    if not new_offers or await channel.knows_offers(new_offers):
                        return True
                    seen = stamp  # an older feed was loaded: wait for the next load
                if time.monotonic() >= deadline:
                    return False
                await asyncio.sleep(1.0)

    return asyncio.run(loaded())
