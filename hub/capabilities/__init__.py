"""What a connector can do, as small protocols in canonical terms: the contract between tasks and systems.

Tasks and flows hold a capability, never a client: ``CatalogSource`` reads a catalog as canonical
frames, ``StockSink`` takes canonical stock and says what it accepted, and so on. A connector
implements the ones its API allows and declares them (:class:`hub.systems.Connector`); the config is
validated against those declarations, so an edge no code backs is refused at load time.

The protocols are shaped by every system on the roadmap, not only the first pair: a catalog is
read a page at a time by offset (MoySklad 1000 rows, Horoshop offset/limit), uploads are batches of
entries whose size the sink decides (retailCRM 250, keyCRM 1000 stocks a request), and an entry
the channel does not know is reported back rather than raised, because it is normal right after a
catalog change (the channel loads the new catalog later).

One module per exchange (:mod:`.catalog`, :mod:`.stock`, :mod:`.orders`) and what they share
(:mod:`.common`), re-exported here so that imports stay short.
"""

from __future__ import annotations

from hub.capabilities.catalog import (
    CatalogFeedSink,
    CatalogPage,
    CatalogSource,
    FeedSlice,
    ImageOwner,
    PriceSink,
)
from hub.capabilities.common import (
    BatchSink,
    ChannelReader,
    ChannelReference,
    Delivery,
    Entry,
    KeyedOffers,
    Reachable,
)
from hub.capabilities.orders import (
    WRITE_CLOCK_SKEW,
    WRITE_ERP_ID,
    WRITE_OPEN_FOR,
    WRITE_STATUS,
    CustomerBook,
    HubWrite,
    HubWriteLog,
    ItemBook,
    NewItem,
    OrderBatch,
    OrderDraft,
    OrderEvent,
    OrderEvents,
    OrderOutcome,
    OrderReference,
    OrderSink,
    OrderSource,
    OrderStates,
    StatusSink,
    WebhookParser,
)
from hub.capabilities.stock import (
    BundleSource,
    OfferKeyed,
    OwnReserves,
    StockEvents,
    StockNotice,
    StockSink,
    StockSource,
)

__all__ = [
    "WRITE_CLOCK_SKEW",
    "WRITE_ERP_ID",
    "WRITE_OPEN_FOR",
    "WRITE_STATUS",
    "BatchSink",
    "BundleSource",
    "CatalogFeedSink",
    "CatalogPage",
    "CatalogSource",
    "ChannelReader",
    "ChannelReference",
    "CustomerBook",
    "Delivery",
    "Entry",
    "FeedSlice",
    "HubWrite",
    "HubWriteLog",
    "ImageOwner",
    "ItemBook",
    "KeyedOffers",
    "NewItem",
    "OfferKeyed",
    "OrderBatch",
    "OrderDraft",
    "OrderEvent",
    "OrderEvents",
    "OrderOutcome",
    "OrderReference",
    "OrderSink",
    "OrderSource",
    "OrderStates",
    "OwnReserves",
    "PriceSink",
    "Reachable",
    "StatusSink",
    "StockEvents",
    "StockNotice",
    "StockSink",
    "StockSource",
    "WebhookParser",
]
