"""The catalog exchanges' capabilities: a catalog read by offset pages, a feed the channel loads, prices."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pandas as pd

from hub.capabilities.common import BatchSink, ChannelReader, Entry


@dataclass(frozen=True)
class ImageOwner:
    """An item that has pictures, and when it last changed (its pictures are fetched again only then)."""

    owner_id: str
    updated: str
    ref: Any = None  # whatever the source needs to fetch them again (opaque to tasks)


@dataclass
class CatalogPage:
    """One page of the source's catalog, converted.

    Attributes:
        frames: canonical ``products``, ``offers``, ``prices`` and ``purchase_prices`` of the page.
        size: the size of the whole collection as this page reported it (to plan the other pages,
            and to tell a catalog edited mid-read: the size moves).
        row_ids: the source rows the page held (distinct rows read must equal the size).
        image_owners: the page's items that have pictures.
    """

    frames: dict[str, pd.DataFrame]
    size: int
    row_ids: list[str]
    image_owners: list[ImageOwner] = field(default_factory=list)


@runtime_checkable
class CatalogSource(Protocol):
    """Reads a catalog: reference books, the assortment by pages, pictures."""

    #: rows a page holds (the largest the API allows: fewer requests)
    page_size: int
    #: said when pictures come without a public link (e.g. a tariff that gives none)
    pictures_hint: str

    async def reference(self) -> dict[str, pd.DataFrame]:
        """Canonical ``currencies``, ``price_types``, ``stores``, ``organizations``,
        ``characteristics`` and ``categories``."""
        ...

    async def catalog_page(self, offset: int) -> CatalogPage:
        """The page at ``offset`` (archived and live items alike), converted."""
        ...

    async def pictures(self, owners: Sequence[ImageOwner]) -> pd.DataFrame:
        """Canonical ``images`` of these owners (every owner's whole current set)."""
        ...


@dataclass(frozen=True)
class Picture:
    """An image's file as the source gives it."""

    content: bytes
    media_type: str


@runtime_checkable
class PictureSource(Protocol):
    """Downloads an image with the account's credentials: for a channel that cannot (a tariff that
    gives no public link), the hub serves the file itself."""

    async def picture(self, download_url: str) -> Picture:
        """The file behind an image's ``download_url`` (canonical ``images``).

        Raises:
            connectors.http.ConnectorError: the source refused or did not answer.
        """
        ...


@runtime_checkable
class PriceSink(BatchSink, ChannelReader, Protocol):
    """Takes prices per channel price type."""

    def price_entries(self, prices: pd.DataFrame, price_types: Mapping[str, str]) -> list[Entry]:
        """Canonical ``prices`` → entries, one per offer; ``price_types``: source type id → channel code
        (other types are left out)."""
        ...


@dataclass(frozen=True)
class FeedSlice:
    """Canonical frames of one slice of the staged catalog, as a catalog feed needs them."""

    offers: pd.DataFrame
    products: pd.DataFrame
    prices: pd.DataFrame
    purchase_prices: pd.DataFrame
    stock: pd.DataFrame  # by source store, mapped stores only
    images: pd.DataFrame
    main_price_type: str  # the source price type that is the catalog's main price
    #: for a feed that carries stock (:class:`FeedCarried`): the channel's stock by channel
    #: warehouse code, after the stock rules (summed, capped, bundles), as a stock sink gets it
    channel_stock: pd.DataFrame | None = None
    #: source price type id -> channel price code (the config's price type mapping)
    price_codes: Mapping[str, str] = field(default_factory=dict)
    #: source offer id -> the hub's key of the offer (a stable id for feeds that want one)
    offer_keys: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class FeedCarried(Protocol):
    """A feed channel (or one of its sinks) whose stock and prices travel inside the catalog feed
    (YML): nothing is sent for them, the feed is rewritten with them instead, before their batches
    count as accepted. A stock change then means a new feed (stock sync rewrites it)."""

    #: always True for such a sink; the protocol is told apart by this attribute
    carried_by_feed: bool
    #: the feed counts whole units only
    whole_units: bool


@runtime_checkable
class CatalogFeedSink(ChannelReader, Protocol):
    """A channel that loads the catalog from a file we publish (ICML for retailCRM), on its own schedule."""

    def feed_items(self, part: FeedSlice) -> Iterator[Any]:
        """The feed items of one slice (opaque to tasks; handed back to :meth:`write_feed`)."""
        ...

    def write_feed(
        self, path: Path, *, shop_name: str, company: str, categories: pd.DataFrame, items: Iterable[Any]
    ) -> int:
        """Write the whole feed to ``path``; return how many offers it has."""
        ...

    async def catalog_stamp(self) -> str | None:
        """When the channel last loaded a catalog (it moves on every load, ours or an older one)."""
        ...

    async def knows_offers(self, offer_ids: Sequence[str]) -> bool:
        """Whether the channel lists any of these offers (it has loaded a feed that has them)."""
        ...
