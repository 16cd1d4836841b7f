"""Catalog extraction from the source into the hub: reference books, assortment page ranges, stock.

Each task stages canonical frames in the hub (``store.records``) and records links, so a re-run or
a resumed run converges to the same state and later exchanges resolve identities without searching.
The source is any system implementing ``CatalogSource`` (and ``StockSource`` for stock).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd
from prefect import task
from prefect.cache_policies import NONE

from hub.capabilities import CatalogFeedSink, CatalogPage, CatalogSource, ChannelReference, ImageOwner, StockSource
from hub.model import ID_COLUMN
from tasks.catalog.run import CatalogRun
from tasks.clients import open_capability, with_capabilities
from tasks.mapping_check import CatalogMappings, resolve_catalog_mappings
from tasks.reporting import Progress
from tasks.retrying import TRANSIENT_RETRIES


@dataclass
class Reference:
    """Small reference frames of the source, and what the channel offers to map onto."""

    frames: dict[str, pd.DataFrame]
    channel: ChannelReference


@dataclass
class PageCounts:
    """What one page range brought in, and which items it saw (to tell what the source no longer has)."""

    pages: int = 0
    rows: int = 0
    changed: dict[str, int] = field(default_factory=dict)
    images_fetched_for: int = 0
    bundles: int = 0  # bundle offers read (their components are read when there are any)
    total_size: int = 0
    page_size: int = 0  # rows a page of the source holds (set by the first page)
    sizes: set[int] = field(default_factory=set)  # the collection size each page reported
    row_ids: set[str] = field(default_factory=set)  # assortment rows read (distinct)
    seen: dict[str, set[str]] = field(default_factory=dict)  # kind -> keys staged from those rows

    def add(self, other: PageCounts) -> None:
        self.pages += other.pages
        self.rows += other.rows
        self.images_fetched_for += other.images_fetched_for
        self.bundles += other.bundles
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
    counts = run.store.records.upsert_frame(run.name, kind, run.source_system, df, key)
    if kind in ID_COLUMN and not df.empty:
        run.store.links.ensure(run.name, kind, run.source_system, df[ID_COLUMN[kind]].astype(str).tolist())
    return list(counts.changed_keys)


@task(name="pull-reference", cache_policy=NONE, **TRANSIENT_RETRIES)
def pull_reference(run: CatalogRun, with_catalog_stamp: bool = False) -> Reference:
    """The source's reference books (currencies, price types, stores, organizations, categories,
    characteristics) and the channel's (warehouses, price types, its settings checked).

    With ``with_catalog_stamp`` also when the channel last loaded the catalog, so a later wait for
    it to load the new feed can tell a new load from an old one.
    """

    async def fetch() -> tuple[dict[str, pd.DataFrame], ChannelReference]:
        async with (
            open_capability(run.integ, run.source, CatalogSource) as source,
            open_capability(run.integ, run.target, CatalogFeedSink) as channel,
        ):
            frames, channel_ref = await asyncio.gather(
                source.reference(), channel.channel_reference(with_catalog_stamp=with_catalog_stamp)
            )
        return frames, channel_ref

    frames, channel = asyncio.run(fetch())
    for kind, df in frames.items():
        _stage(run, kind, df, ID_COLUMN[kind])
    return Reference(frames, channel)


IMAGE_BATCH = 100  # owners per images request when they are fetched with expand=images


async def _process_page(run: CatalogRun, page: CatalogPage, images: _ImageQueue) -> PageCounts:
    frames = page.frames
    counts = PageCounts(
        pages=1,
        rows=len(page.row_ids),
        sizes={page.size},
        row_ids=set(page.row_ids),
        bundles=int((frames["offers"]["kind"] == "bundle").sum()),
    )
    for kind, key in (
        ("products", "product_id"),
        ("offers", "offer_id"),
        ("prices", ["offer_id", "price_type_id"]),
        ("purchase_prices", "offer_id"),
    ):
        counts.changed[kind] = len(_stage(run, kind, frames[kind], key))
    for kind, column in (("products", "product_id"), ("offers", "offer_id")):
        counts.seen[kind] = set(frames[kind][column].astype(str))
    if run.integ.options.catalog.images:
        images.add(_stale_image_owners(run, page.image_owners))
        counts.images_fetched_for = await images.flush(full_batches_only=True)
    return counts


def _stale_image_owners(run: CatalogRun, owners: list[ImageOwner]) -> list[ImageOwner]:
    """Owners whose ``updated`` moved since their images were last fetched."""
    if not owners:
        return []
    stale = set(run.store.records.changed(run.name, "image_sync", _image_marks(owners), "owner_id"))
    return [o for o in owners if o.owner_id in stale]


#: bumped when what is staged per image changes, so every owner's images are fetched once more
#: (2: permanent public links apart from the API download href)
IMAGE_FORMAT = 2


def _image_marks(owners: list[ImageOwner]) -> pd.DataFrame:
    """When each owner's images were fetched: its ``updated`` and the staging format."""
    return pd.DataFrame(
        {"owner_id": [o.owner_id for o in owners], "updated": [o.updated for o in owners], "format": IMAGE_FORMAT}
    )


class _ImageQueue:
    """Owners waiting for their images, fetched in full batches across pages (fewer requests)."""

    def __init__(self, run: CatalogRun, source: CatalogSource) -> None:
        self.run, self.source, self.waiting = run, source, list[ImageOwner]()

    def add(self, owners: list[ImageOwner]) -> None:
        self.waiting.extend(owners)

    async def flush(self, *, full_batches_only: bool = False) -> int:
        """Fetch and stage images; with ``full_batches_only`` keep a partial batch for later."""
        cut = len(self.waiting) - len(self.waiting) % IMAGE_BATCH if full_batches_only else len(self.waiting)
        todo, self.waiting = self.waiting[:cut], self.waiting[cut:]
        if not todo:
            return 0
        images = await self.source.pictures(todo)
        system = self.run.source_system
        # an owner may have fewer images than last time: its old positions must not linger
        self.run.store.records.delete(self.run.name, "images", parents=[o.owner_id for o in todo])
        self.run.store.records.upsert_frame(self.run.name, "images", system, images, ["owner_id", "position"])
        # marked only after the images are staged: an interrupted run fetches them again
        self.run.store.records.upsert_frame(self.run.name, "image_sync", system, _image_marks(todo), "owner_id")
        return len(todo)


@task(name="import-first-page", cache_policy=NONE, **TRANSIENT_RETRIES)
def import_first_page(run: CatalogRun) -> PageCounts:
    """The first assortment page: stages it and learns how many rows the catalog has."""

    async def first_page(source: CatalogSource) -> PageCounts:
        page = await source.catalog_page(0)
        images = _ImageQueue(run, source)
        counts = await _process_page(run, page, images)
        counts.images_fetched_for += await images.flush()
        counts.total_size, counts.page_size = page.size, source.page_size
        return counts

    return with_capabilities(run.integ, (run.source, CatalogSource), step=first_page)


@task(name="import-page-range", cache_policy=NONE, **TRANSIENT_RETRIES)
def import_page_range(run: CatalogRun, offsets: list[int]) -> PageCounts:
    """Fetch the pages at ``offsets`` concurrently (within the shared budget) and stage each as it lands."""

    async def pages(source: CatalogSource) -> PageCounts:
        total = PageCounts()
        images = _ImageQueue(run, source)
        fetches = [asyncio.ensure_future(source.catalog_page(offset)) for offset in offsets]
        for next_done in asyncio.as_completed(fetches):
            total.add(await _process_page(run, await next_done, images))
        total.images_fetched_for += await images.flush()
        return total

    return with_capabilities(run.integ, (run.source, CatalogSource), step=pages)


def page_ranges(total_size: int, page_size: int, pages_per_task: int) -> list[list[int]]:
    """Offsets after the first page, grouped so one task covers ``pages_per_task`` pages."""
    offsets = list(range(page_size, total_size, page_size))
    return [offsets[i : i + pages_per_task] for i in range(0, len(offsets), pages_per_task)]


@task(name="pull-stock", cache_policy=NONE, **TRANSIENT_RETRIES)
def pull_stock(run: CatalogRun) -> pd.DataFrame:
    """Every non-zero (offer, store) quantity of the configured measure, in one read."""

    measure = run.integ.options.stock.measure
    return with_capabilities(run.integ, (run.source, StockSource), step=lambda source: source.current_stock(measure))


def import_assortment(run: CatalogRun, pages_per_task: int) -> PageCounts:
    """The whole assortment staged: the first page tells the catalog size, the rest come in page-range
    tasks (run side by side by the flow's task runner), with a progress artifact."""
    progress = Progress(f"{run.name}: assortment pages")
    total = import_first_page(run)
    ranges = page_ranges(total.total_size, total.page_size, pages_per_task)
    expected = 1 + sum(len(r) for r in ranges)
    progress.update(total.pages, expected)
    futures = [import_page_range.submit(run, offsets) for offsets in ranges]
    for future in futures:
        total.add(future.result())
        progress.update(total.pages, expected)
    return total


def catalog_mappings(run: CatalogRun, reference: Reference) -> CatalogMappings:
    """The stores, price types and folders of the source, checked against the config's mappings and the
    channel's settings before anything is written.

    Raises:
        MappingError: every missing or wrong mapping, each with its fix.
    """
    return resolve_catalog_mappings(
        run.name,
        run.integ.mappings,
        stores=reference.frames["stores"],
        price_types=reference.frames["price_types"],
        folders=reference.frames["categories"],
        channel=reference.channel.with_problems_of(run.target),
        need_stock=run.wants_stock,
        need_prices=run.wants_prices,
        source_title=run.source_title,
        channel_title=run.target_title,
    )
