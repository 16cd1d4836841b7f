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
    FeedCarried,
    FeedSlice,
    ImageOwner,
    Picture,
    PictureSource,
    PriceSink,
)
from hub.capabilities.common import (
    LINK_KINDS,
    BatchSink,
    ChannelReader,
    ChannelReference,
    Delivery,
    Entry,
    KeyedOffers,
    Lookup,
    Reachable,
)
from hub.capabilities.documents import (
    BANK_PAYMENT,
    CASH_PAYMENT,
    MOVE,
    PAYMENT_KINDS,
    RETURN,
    SHIPMENT,
    CostPriceSink,
    DocumentDraft,
    DocumentOutcome,
    ErpDocument,
    OrderDocuments,
    OrderPapers,
    PaymentChange,
    PaymentSink,
)
from hub.capabilities.fields import (
    ErpOrderFields,
    OrderFieldChange,
    OrderFieldSink,
    OrderFieldSource,
    Person,
    StaffBook,
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
    ChannelStockChange,
    OfferKeyed,
    OwnReserves,
    StockEchoes,
    StockEvents,
    StockNotice,
    StockSink,
    StockSource,
)

__all__ = [
    "BANK_PAYMENT",
    "CASH_PAYMENT",
    "LINK_KINDS",
    "MOVE",
    "PAYMENT_KINDS",
    "RETURN",
    "SHIPMENT",
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
    "ChannelStockChange",
    "CostPriceSink",
    "CustomerBook",
    "Delivery",
    "DocumentDraft",
    "DocumentOutcome",
    "Entry",
    "ErpDocument",
    "ErpOrderFields",
    "FeedCarried",
    "FeedSlice",
    "HubWrite",
    "HubWriteLog",
    "ImageOwner",
    "ItemBook",
    "KeyedOffers",
    "Lookup",
    "NewItem",
    "OfferKeyed",
    "OrderBatch",
    "OrderDocuments",
    "OrderDraft",
    "OrderEvent",
    "OrderEvents",
    "OrderFieldChange",
    "OrderFieldSink",
    "OrderFieldSource",
    "OrderOutcome",
    "OrderPapers",
    "OrderReference",
    "OrderSink",
    "OrderSource",
    "OrderStates",
    "OwnReserves",
    "PaymentChange",
    "PaymentSink",
    "Person",
    "Picture",
    "PictureSource",
    "PriceSink",
    "Reachable",
    "StaffBook",
    "StatusSink",
    "StockEchoes",
    "StockEvents",
    "StockNotice",
    "StockSink",
    "StockSource",
    "WebhookParser",
]
