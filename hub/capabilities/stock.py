"""The stock exchanges' capabilities: current stock per store, bundles, stock webhooks, stock uploads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pandas as pd

from hub.capabilities.common import BatchSink, ChannelReader, Entry, KeyedOffers


@runtime_checkable
class StockSource(Protocol):
    """Reads current stock per store: all of it, or only what changed since a moment."""

    #: how far back a changed-since read may reach (MoySklad: 24 h); None: no such read, always whole
    changes_window: timedelta | None

    async def current_stock(self, measure: str, changed_since: datetime | None = None) -> pd.DataFrame:
        """Canonical ``stock`` of ``measure`` (``stock`` on hand, ``freeStock`` = on hand − reserve,
        ``quantity`` = free + expected goods), as absolute values.

        Without ``changed_since``: every non-zero (offer, store) row. With it (UTC, within
        ``changes_window``): every (offer, store) row of the offers whose stock changed since then,
        zeros included. A row with no ``store_id`` is reserve of orders that name no store.
        """
        ...


@runtime_checkable
class BundleSource(Protocol):
    """Reads what bundles are made of (a bundle has no stock of its own: it is derived)."""

    async def bundle_components(self) -> pd.DataFrame:
        """Canonical ``bundle_components`` of every bundle: (bundle offer, component offer, quantity)."""
        ...


@dataclass(frozen=True)
class StockNotice:
    """One webhook delivery a stock source sent, as the receiver keeps it.

    ``delivery_id`` is the source's id of the delivery (MoySklad ``requestId``: its retries repeat
    it), the receiver's dedupe key; ``changed_since`` is the moment the source says to read from.
    """

    delivery_id: str
    kind: str  # "stock" or the entity type of a stock-moving document
    changed_since: datetime | None = None


@runtime_checkable
class StockEvents(Protocol):
    """A stock source that notifies changes by webhook: it subscribes a URL and parses what it posts."""

    def parse_notice(self, body: bytes, query: Mapping[str, str]) -> StockNotice:
        """The notice in one delivery. Raises ``ValueError`` naming what is malformed."""
        ...

    async def subscribe(self, url: str, *, ours: str) -> list[str]:
        """Make ``url`` the target of every stock-related subscription, idempotently: keep what exists,
        create what is missing, remove subscriptions whose URL starts with ``ours`` (the hub's) but
        is not ``url``. Returns what was done, a line each."""
        ...

    async def subscriptions(self) -> list[dict[str, str]]:
        """Every stock-related subscription the account has (kind, target URL, state)."""
        ...


@dataclass(frozen=True)
class ChannelStockChange:
    """One offer's stock as a stock channel's own webhook reports it after a change."""

    key: str  # the channel's key of the offer (its SKU)
    level: float  # what the channel now holds of it (on hand, over the warehouses the webhook covers)
    reserve: float = 0.0


@runtime_checkable
class StockEchoes(Protocol):
    """A stock channel that posts its stock changes by webhook — the hub's own writes included.

    The hub tells its own echo from a change made in the channel by what it wrote: :meth:`echo_of`
    says what the channel will report back for an entry once it applied it.
    """

    def parse_stock_changes(self, body: bytes) -> list[ChannelStockChange]:
        """The changes in one delivery. Raises ``ValueError`` naming what is malformed."""
        ...

    def echo_of(self, entry: Entry) -> tuple[str, float]:
        """``(key, level)`` the channel's webhook will report for ``entry`` once it is applied."""
        ...


@runtime_checkable
class StockSink(BatchSink, ChannelReader, Protocol):
    """Takes absolute stock per channel warehouse."""

    #: the channel counts whole units only (weighed goods are floored before they are sent)
    whole_units: bool

    def stock_entries(self, stock: pd.DataFrame) -> list[Entry]:
        """Canonical ``stock`` whose ``store_id`` is already the channel warehouse code (summed,
        capped, every warehouse of an offer present) → entries, one per offer."""
        ...


@runtime_checkable
class OfferKeyed(KeyedOffers, Protocol):
    """A stock channel that knows offers by the merchant's own key (an SKU), not by the source's ids.

    Such a channel keeps its own catalog: nothing publishes ours to it, so an entry must name the
    offer by the value both systems hold (the source offer's ``article`` or ``code``).
    """

    def keyed_stock_entries(self, stock: pd.DataFrame, keys: Mapping[str, str]) -> list[Entry]:
        """As :meth:`StockSink.stock_entries`; ``keys``: source offer id → its key. Offers without a
        key are left out (the channel cannot be told which offer they are)."""
        ...


@runtime_checkable
class OwnReserves(Protocol):
    """A channel that holds back reserves of its own orders from the stock it is sent.

    Its orders reach the stock system as reserved orders, whose free stock is then already net of
    them: such a channel must be sent stock *on hand*, or each of its reserves is subtracted twice.
    """

    subtracts_own_reserves: bool
