"""The ICML catalog feed, built from what the hub holds (no extra request to MoySklad), slice by slice.

The feed file is replaced only when its content changed, so a re-run with nothing new leaves the
file (and its Last-Modified, which the CRM's loader looks at) as it was.
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

from connectors.retailcrm.catalog_feed import icml_categories, icml_offers
from connectors.retailcrm.client import RetailCRMClient
from connectors.retailcrm.icml import IcmlOffer, write_icml
from tasks.catalog_publish import CatalogSlice, StockByOffer
from tasks.catalog_run import CatalogRun
from tasks.clients import retailcrm_client
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

    pictures_without_link: int = 0  # images with no public link (MoySklad: free tariff)


def slice_offers(run: CatalogRun, part: CatalogSlice, stock: StockByOffer,
                 mappings: CatalogMappings, stats: FeedStats) -> Iterator[IcmlOffer]:
    """The ICML offers of one catalog slice; its products, purchase prices and images read for it alone."""
    records = run.store.records
    offer_ids = part.offer_ids
    product_ids = sorted(set(part.offers["product_id"].dropna().astype(str)) | set(offer_ids))
    products = records.frame(run.name, "products", keys=product_ids)
    if mappings.category_map:
        products["category_id"] = _translate(products["category_id"], mappings.category_map)
    rows = stock.rows(offer_ids)
    images = records.frame(run.name, "images", parents=product_ids)
    # an API download link needs our credentials: the CRM could not load it, so it is left out
    stats.pictures_without_link += int(images["url"].isna().sum())
    yield from icml_offers(
        part.offers, products=products, prices=part.prices,
        price_type_id=mappings.feed_price_type_id or "",
        purchase_prices=records.frame(run.name, "purchase_prices", keys=offer_ids),
        stock=rows[rows["store_id"].isin(set(mappings.store_map))],
        images=images,
    )


def write_feed(run: CatalogRun, offers: Iterable[IcmlOffer], mappings: CatalogMappings) -> FeedResult:
    """Write the integration's ICML feed from ``offers``; replace the served file only on change."""
    categories = run.store.records.frame(run.name, "categories")
    if mappings.category_map:
        categories["category_id"] = _translate(categories["category_id"], mappings.category_map)
        categories["parent_id"] = _translate(categories["parent_id"], mappings.category_map)
        categories = categories.drop_duplicates("category_id")
    feed = run.integ.options.feed
    run.feed_path.parent.mkdir(parents=True, exist_ok=True)
    fresh = run.feed_path.with_name(f".{run.feed_path.name}.new")
    count = write_icml(fresh, shop_name=feed.shop_name, company=feed.company,
                       categories=icml_categories(categories), offers=offers)
    if _same_content(fresh, run.feed_path):
        fresh.unlink()
        return FeedResult(run.feed_path, count, False)
    fresh.replace(run.feed_path)
    return FeedResult(run.feed_path, count, True)


@task(name="await-catalog-load", cache_policy=NONE)
def await_catalog_load(
    run: CatalogRun, stamp_before: str | None, timeout_seconds: float, new_offers: Sequence[str] = ()
) -> bool:
    """Wait until the CRM has loaded *this* feed: ``reference/sites`` → ``catalogUpdatedAt`` moves
    and, when the feed brings offers the CRM never accepted, ``store/offers`` lists one of them.

    The CRM fetches the feed on its own schedule: a load of the previous feed (started before ours
    was in place) moves the stamp too, so a moved stamp alone proves nothing. Stock and prices of
    offers it does not know yet come back as ``notFoundOffers`` and are sent again by the next run.
    Returns whether the load was seen.
    """

    async def knows_any(crm: RetailCRMClient) -> bool:
        filters: dict[str, Any] = {"xmlIds": list(new_offers)}
        if crm.site:
            filters["sites"] = [crm.site]
        async for page in crm.iter_offers(filters):
            return bool(page)
        return False

    async def loaded() -> bool:
        async with retailcrm_client(run.integ, run.target) as crm:
            deadline = time.monotonic() + timeout_seconds
            seen = stamp_before
            while True:
                sites = await crm.sites()
                stamp = sites.get(crm.site or next(iter(sites), ""), {}).get("catalogUpdatedAt")
                if stamp and stamp != seen:
                    if not new_offers or await knows_any(crm):
                        return True
                    seen = stamp  # an older feed was loaded: wait for the next load
                if time.monotonic() >= deadline:
                    return False
                await asyncio.sleep(1.0)

    return asyncio.run(loaded())
