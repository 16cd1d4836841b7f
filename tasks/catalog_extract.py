"""Catalog extraction from MoySklad into the hub: reference books, assortment page ranges, stock.

Each task stages canonical frames in the hub (``store.records``) and records links, so a re-run or
a resumed run converges to the same state and later exchanges resolve identities without searching.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from prefect import task
from prefect.cache_policies import NONE

from connectors.moysklad import convert as ms_convert
from connectors.moysklad.client import MoySkladClient
from hub.model import ID_COLUMN
from tasks.catalog_run import MOYSKLAD, CatalogRun
from tasks.clients import moysklad_client, retailcrm_client

PAGE = 1000


@dataclass
class Reference:
    """Small reference frames of the source, and the channel's reference books."""

    frames: dict[str, pd.DataFrame]
    crm_store_codes: list[str]
    crm_price_types: dict[str, bool]  # code -> is the CRM's default (base) price type
    crm_catalog_stamp: str | None = None  # the site's catalogUpdatedAt before this run published


@dataclass
class PageCounts:
    """What one page range brought in, and which items it saw (to tell what MoySklad no longer has)."""

    pages: int = 0
    rows: int = 0
    changed: dict[str, int] = field(default_factory=dict)
    images_fetched_for: int = 0
    total_size: int = 0
    sizes: set[int] = field(default_factory=set)  # the collection size each page reported
    row_ids: set[str] = field(default_factory=set)  # assortment rows read (distinct)
    seen: dict[str, set[str]] = field(default_factory=dict)  # kind -> keys staged from those rows

    def add(self, other: PageCounts) -> None:
        self.pages += other.pages
        self.rows += other.rows
        self.images_fetched_for += other.images_fetched_for
        for kind, n in other.changed.items():
            self.changed[kind] = self.changed.get(kind, 0) + n
        self.sizes |= other.sizes
        self.row_ids |= other.row_ids
        for kind, keys in other.seen.items():
            self.seen.setdefault(kind, set()).update(keys)

    @property
    def complete(self) -> bool:
        """Every row of an unchanging collection was read exactly once.

        Offset paging over a collection that changes during the run can skip a row and read another
        twice; then the size moves or fewer distinct rows than the size were read.
        """
        return len(self.sizes) == 1 and len(self.row_ids) == next(iter(self.sizes))


def _stage(run: CatalogRun, kind: str, df: pd.DataFrame, key: str | Sequence[str]) -> list[str]:
    """Stage ``df`` in the hub; record links for identity kinds; return the keys that changed."""
    counts = run.store.records.upsert_frame(run.name, kind, MOYSKLAD, df, key)
    if kind in ID_COLUMN and not df.empty:
        run.store.links.ensure(run.name, kind, MOYSKLAD, df[ID_COLUMN[kind]].astype(str).tolist())
    return list(counts.changed_keys)


@task(name="pull-reference", cache_policy=NONE, retries=2, retry_delay_seconds=5)
def pull_reference(run: CatalogRun, with_catalog_stamp: bool = False) -> Reference:
    """Currencies, price types, stores, organizations, folders and characteristics; CRM reference books.

    With ``with_catalog_stamp`` also the CRM site's ``catalogUpdatedAt``, so a later wait for the CRM
    to load the new feed can tell a new load from an old one (whatever the account's time zone).
    """
    stamp: str | None = None

    async def fetch() -> tuple[dict[str, Any], list[Any], list[Any]]:
        nonlocal stamp
        async with moysklad_client(run.integ, run.source) as ms, retailcrm_client(run.integ, run.target) as crm:
            folders: list[dict[str, Any]] = []
            async for page in ms.iter_product_folders():
                folders.extend(page)
            results = await asyncio.gather(
                ms.list_currencies(), ms.list_price_types(), ms.list_stores(), ms.list_organizations(),
                ms.variant_characteristics(), crm.reference("stores"), crm.reference("price-types"),
            )
            if with_catalog_stamp:
                stamp = _site(await crm.sites(), crm.site).get("catalogUpdatedAt")
        currencies, price_types, stores, orgs, chars, crm_stores, crm_prices = results
        wire = {"currencies": currencies, "price_types": price_types, "stores": stores,
                "organizations": orgs, "characteristics": chars, "categories": folders}
        return wire, list(crm_stores), list(crm_prices.values() if isinstance(crm_prices, dict) else crm_prices)

    wire, crm_stores, crm_price_types = asyncio.run(fetch())
    frames = {
        "currencies": ms_convert.currencies_to_frame(wire["currencies"]),
        "price_types": ms_convert.price_types_to_frame(wire["price_types"]),
        "stores": ms_convert.stores_to_frame(wire["stores"]),
        "organizations": ms_convert.organizations_to_frame(wire["organizations"]),
        "characteristics": ms_convert.characteristics_to_frame(wire["characteristics"]),
        "categories": ms_convert.folders_to_frame(wire["categories"]),
    }
    for kind, df in frames.items():
        _stage(run, kind, df, ID_COLUMN[kind])
    return Reference(
        frames,
        crm_store_codes=[str(s["code"]) for s in crm_stores if s.get("active", True)],
        crm_price_types={str(p["code"]): bool(p.get("default")) for p in crm_price_types if p.get("active", True)},
        crm_catalog_stamp=stamp,
    )


def _site(sites: dict[str, Any], code: str | None) -> dict[str, Any]:
    """The CRM site of this integration (the only one when the key covers one)."""
    return dict(sites.get(code or next(iter(sites), ""), {}))


IMAGE_BATCH = 100  # owners per images request when they are fetched with expand=images


async def _process_page(run: CatalogRun, rows: list[dict[str, Any]], size: int, images: _ImageQueue) -> PageCounts:
    frames = ms_convert.assortment_to_frames(rows)
    counts = PageCounts(pages=1, rows=len(rows), sizes={size}, row_ids={str(r.get("id")) for r in rows})
    for kind, key in (("products", "product_id"), ("offers", "offer_id"),
                      ("prices", ["offer_id", "price_type_id"]), ("purchase_prices", "offer_id")):
        counts.changed[kind] = len(_stage(run, kind, frames[kind], key))
    for kind, column in (("products", "product_id"), ("offers", "offer_id")):
        counts.seen[kind] = set(frames[kind][column].astype(str))
    if run.integ.options.import_images:
        images.add(_stale_image_owners(run, rows))
        counts.images_fetched_for = await images.flush(full_batches_only=True)
    return counts


def _stale_image_owners(run: CatalogRun, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with images whose ``updated`` moved since their images were last fetched."""
    owners = [r for r in rows if int(((r.get("images") or {}).get("meta") or {}).get("size", 0) or 0) > 0]
    if not owners:
        return []
    stale = set(run.store.records.changed(run.name, "image_sync", _image_marks(owners), "owner_id"))
    return [r for r in owners if r["id"] in stale]


#: bumped when what is staged per image changes, so every owner's images are fetched once more
#: (2: permanent public links apart from the API download href)
IMAGE_FORMAT = 2


def _image_marks(owners: list[dict[str, Any]]) -> pd.DataFrame:
    """When each owner's images were fetched: its ``updated`` and the staging format."""
    return pd.DataFrame({"owner_id": [r["id"] for r in owners], "updated": [str(r.get("updated")) for r in owners],
                         "format": IMAGE_FORMAT})


class _ImageQueue:
    """Owners waiting for their images, fetched in full batches across pages (fewer requests)."""

    def __init__(self, run: CatalogRun, ms: MoySkladClient) -> None:
        self.run, self.ms, self.waiting = run, ms, list[dict[str, Any]]()

    def add(self, owners: list[dict[str, Any]]) -> None:
        self.waiting.extend(owners)

    async def flush(self, *, full_batches_only: bool = False) -> int:
        """Fetch and stage images; with ``full_batches_only`` keep a partial batch for later."""
        cut = len(self.waiting) - len(self.waiting) % IMAGE_BATCH if full_batches_only else len(self.waiting)
        todo, self.waiting = self.waiting[:cut], self.waiting[cut:]
        if not todo:
            return 0
        images = ms_convert.images_to_frame(await self.ms.fetch_images(todo))
        # an owner may have fewer images than last time: its old positions must not linger
        self.run.store.records.delete(self.run.name, "images", parents=[str(r["id"]) for r in todo])
        self.run.store.records.upsert_frame(self.run.name, "images", MOYSKLAD, images, ["owner_id", "position"])
        # marked only after the images are staged: an interrupted run fetches them again
        self.run.store.records.upsert_frame(self.run.name, "image_sync", MOYSKLAD, _image_marks(todo), "owner_id")
        return len(todo)


@task(name="import-first-page", cache_policy=NONE, retries=2, retry_delay_seconds=5)
def import_first_page(run: CatalogRun) -> PageCounts:
    """The first assortment page: stages it and learns how many rows the catalog has."""

    async def go() -> PageCounts:
        async with moysklad_client(run.integ, run.source) as ms:
            rows, size = await ms.assortment_page(0, PAGE)
            images = _ImageQueue(run, ms)
            counts = await _process_page(run, rows, size, images)
            counts.images_fetched_for += await images.flush()
            counts.total_size = size
            return counts

    return asyncio.run(go())


@task(name="import-page-range", cache_policy=NONE, retries=2, retry_delay_seconds=5)
def import_page_range(run: CatalogRun, offsets: list[int]) -> PageCounts:
    """Fetch the pages at ``offsets`` concurrently (within the shared budget) and stage each as it lands."""

    async def go() -> PageCounts:
        total = PageCounts()
        async with moysklad_client(run.integ, run.source) as ms:
            images = _ImageQueue(run, ms)
            fetches = [asyncio.ensure_future(ms.assortment_page(offset, PAGE)) for offset in offsets]
            for next_done in asyncio.as_completed(fetches):
                rows, size = await next_done
                total.add(await _process_page(run, rows, size, images))
            total.images_fetched_for += await images.flush()
        return total

    return asyncio.run(go())


def page_ranges(total_size: int, pages_per_task: int) -> list[list[int]]:
    """Offsets after the first page, grouped so one task covers ``pages_per_task`` pages."""
    offsets = list(range(PAGE, total_size, PAGE))
    return [offsets[i:i + pages_per_task] for i in range(0, len(offsets), pages_per_task)]


@task(name="pull-stock", cache_policy=NONE, retries=2, retry_delay_seconds=5)
def pull_stock(run: CatalogRun) -> pd.DataFrame:
    """One ``report/stock/bystore/current`` call: every non-zero (offer, store) quantity of the configured measure."""
    stock_type = run.integ.options.stock_type

    async def go() -> list[dict[str, Any]]:
        async with moysklad_client(run.integ, run.source) as ms:
            # non-zero rows only: every published offer gets every mapped warehouse, zero by
            # default, so zero lines would only make the one big response bigger
            return await ms.stock_current("bystore", stock_type=stock_type, include_zero=False)

    return ms_convert.stock_to_frame(asyncio.run(go()), stock_type)
