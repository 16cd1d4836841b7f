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
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pandas as pd

#: an upload entry as the sink's wire wants it (a JSON object); opaque to the pipeline
Entry = dict[str, Any]


# -- every system ------------------------------------------------------------------------------


@runtime_checkable
class Reachable(Protocol):
    """The account answers our credentials: one cheap authenticated call (the healthcheck's)."""

    async def check_access(self) -> str:
        """A few words on what the account said (e.g. its sites); raises the connector's error
        (``AuthError`` for wrong credentials, a transient error when it cannot be reached)."""
        ...


# -- reading a catalog ------------------------------------------------------------------------


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


# -- writing to a channel ---------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelReference:
    """What a channel offers to map onto, and what it finds wrong with its own settings.

    Attributes:
        warehouses: codes of the channel's active warehouses.
        price_types: code → whether it is the channel's base price type (the catalog's main price).
        catalog_stamp: when the channel last loaded our catalog (to tell its next load), if it says.
        problems: settings of this system the channel refuses (e.g. a site it does not have), each
            with its fix; a run writes nothing while there are any.
    """

    warehouses: list[str]
    price_types: dict[str, bool]
    catalog_stamp: str | None = None
    problems: list[str] = field(default_factory=list)

    def with_problems_of(self, alias: str) -> ChannelReference:
        """The same, each problem prefixed with where it is fixed: ``systems.<alias>``."""
        return replace(self, problems=[f"systems.{alias}: {p}" for p in self.problems])


@dataclass(frozen=True)
class Delivery:
    """A channel's answer to one batch: how many it processed, and which entries it does not know."""

    processed: int
    not_found: frozenset[str] = frozenset()  # entry refs (see :meth:`BatchSink.ref`)


@runtime_checkable
class BatchSink(Protocol):
    """Takes entries in batches: the publish pipeline's side of every upload stream."""

    #: the most entries one request may carry
    max_batch: int

    def ref(self, entry: Entry) -> str:
        """The source id an entry is about (snapshots, links and not-found answers use it)."""
        ...

    async def send(self, entries: Sequence[Entry]) -> Delivery:
        """Send one batch of at most :attr:`max_batch` entries.

        Raises:
            connectors.http.ConnectorError: the batch was refused or could not be sent.
        """
        ...


@runtime_checkable
class ChannelReader(Protocol):
    """Reads what a channel offers to map onto (warehouses, price types) and checks its settings."""

    async def channel_reference(self, *, with_catalog_stamp: bool = False) -> ChannelReference:
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


@runtime_checkable
class CatalogFeedSink(ChannelReader, Protocol):
    """A channel that loads the catalog from a file we publish (ICML for retailCRM), on its own schedule."""

    def feed_items(self, part: FeedSlice) -> Iterator[Any]:
        """The feed items of one slice (opaque to tasks; handed back to :meth:`write_feed`)."""
        ...

    def write_feed(self, path: Path, *, shop_name: str, company: str, categories: pd.DataFrame,
                   items: Iterable[Any]) -> int:
        """Write the whole feed to ``path``; return how many offers it has."""
        ...

    async def catalog_stamp(self) -> str | None:
        """When the channel last loaded a catalog (it moves on every load, ours or an older one)."""
        ...

    async def knows_offers(self, offer_ids: Sequence[str]) -> bool:
        """Whether the channel lists any of these offers (it has loaded a feed that has them)."""
        ...


# -- orders and statuses (shaped by retailCRM, keyCRM, Horoshop on the channel side; MoySklad as ERP) --
# Design and the exactly-once argument: docs/orders.md.


#: fields of a channel order the hub writes (see :class:`HubWrite`)
WRITE_STATUS = "status"
WRITE_ERP_ID = "erp_id"
#: how far the channel's clock may be from the hub's when its history stamps one of our writes
WRITE_CLOCK_SKEW = timedelta(minutes=2)
#: a write whose end was never recorded (the process died mid-request) counts as lasting this long
WRITE_OPEN_FOR = timedelta(hours=1)


@dataclass(frozen=True)
class HubWrite:
    """A value the hub wrote on one channel order, and when.

    ``started`` is taken before the request, ``ended`` after the answer (None: not recorded, e.g.
    the process died), so the channel's history stamps the change in between. A change made with
    the hub's credential is the hub's own echo only when a write matches it by order, field, value
    and time: a site module or script that shares the credential is not the hub.
    """

    order_id: str
    field: str  # WRITE_STATUS or WRITE_ERP_ID
    value: str
    started: datetime
    ended: datetime | None = None

    def made(self, order_id: str, field: str, value: str, at: datetime) -> bool:
        """Whether this write is the change (order, field, value) the channel stamped ``at`` (aware)."""
        end = self.ended or self.started + WRITE_OPEN_FOR
        return ((self.order_id, self.field, self.value) == (order_id, field, value)
                and self.started - WRITE_CLOCK_SKEW <= at <= end + WRITE_CLOCK_SKEW)


@runtime_checkable
class HubWriteLog(Protocol):
    """What the hub wrote on a channel's orders (the hub store keeps it per integration and system)."""

    def hub_writes(self, order_ids: Sequence[str]) -> Sequence[HubWrite]:
        """Every write recorded on these channel orders (recent ones: old ones are pruned)."""
        ...


@dataclass(frozen=True)
class OrderBatch:
    """Orders a channel says are new or changed, each in its current state.

    ``passed_statuses`` are the statuses each order went through in the changes read (history
    records), so an order that passed an upload status between two reads still counts.
    ``cursor`` is where the next read starts (retailCRM: the last history id read); None when
    nothing was read. Changes the hub itself made are not in the batch (no echo); orders created with
    the hub's credential by something else (a site module or script sharing it) are, and are named
    in ``shared_credential_orders`` so the hub can warn about them.
    """

    orders: pd.DataFrame  # canonical ``orders`` (order_id = the channel's id)
    lines: pd.DataFrame  # canonical ``order_lines`` of these orders (offer_id = the channel's offer ref)
    customers: pd.DataFrame  # canonical ``customers`` of these orders (customer_id = the channel's id)
    passed_statuses: Mapping[str, frozenset[str]] = field(default_factory=dict)
    cursor: str | None = None
    more: bool = False  # the source has more changes after ``cursor`` (read again at once)
    shared_credential_orders: tuple[str, ...] = ()  # created with our credential, not by the hub


@runtime_checkable
class OrderSource(Protocol):
    """A sales channel's orders: what changed since a cursor, a period (archive), and write-back."""

    async def changed_orders(self, cursor: str | None, limit: int = 100, *,
                             written: HubWriteLog | None = None) -> OrderBatch:
        """Orders changed after ``cursor`` (None: from now on — the first read returns no orders, only
        a cursor, so an integration does not upload the channel's whole past by surprise).

        ``written``: what the hub wrote on the channel; a change is skipped as the hub's echo only
        when it matches one of those writes. Without it, every change made with the hub's
        credential counts as the hub's (all a reader that cannot see the hub store can tell)."""
        ...

    async def has_changes(self, cursor: str, *, written: HubWriteLog | None = None) -> bool:
        """Whether anything changed after ``cursor``: one cheap request, for a poll every few seconds
        that starts a cycle only when there is something to read (it may say True for changes the
        cycle then skips as the hub's own). ``written`` as for :meth:`changed_orders`."""
        ...

    async def orders_in_period(self, start: datetime, end: datetime, statuses: Sequence[str],
                               page: str | None = None) -> OrderBatch:
        """One page of orders created in [start, end) with one of ``statuses`` (all when empty);
        ``cursor`` of the answer is the next page (None: last page)."""
        ...

    async def record_erp_ids(self, erp_ids: Mapping[str, str]) -> dict[str, str]:
        """Write the ERP's order id back on each channel order (channel order id -> ERP order id);
        returns the orders it was not written on, with why (e.g. the channel keeps another
        integration's id in the only place it has for it)."""
        ...


@dataclass(frozen=True)
class OrderReference:
    """The ERP's books an order needs: names/ids a merchant maps onto."""

    states: Mapping[str, str]  # state name -> id
    organizations: Mapping[str, str]  # name -> id (the default first)
    stores: Mapping[str, str]  # name -> id
    services: Mapping[str, str]  # service offer name or code -> id (delivery lines)
    groups: Sequence[str] = ()  # counterparty groups (tags)


@dataclass(frozen=True)
class OrderDraft:
    """One order as the ERP is to hold it, every reference already resolved by the hub."""

    key: str  # idempotency key: ``<integration>:<channel order id>`` (syncId derives from it)
    order: Mapping[str, Any]  # canonical ``orders`` row (external_id = the channel's order id)
    lines: Sequence[Mapping[str, Any]]  # canonical ``order_lines`` rows, offer_id = the ERP's id
    line_kinds: Mapping[str, str]  # ERP offer id -> product | variant | service | bundle
    customer_id: str  # the ERP counterparty id
    organization_id: str
    store_id: str | None = None
    state_id: str | None = None
    reserve: bool = False
    erp_id: str | None = None  # known ERP order id (an update), from the hub's links


@dataclass(frozen=True)
class OrderOutcome:
    """What the ERP did with one draft: its id, or why it refused (one item of a bulk request)."""

    key: str
    erp_id: str | None = None
    error: str | None = None
    retryable: bool = False


@runtime_checkable
class OrderSink(Protocol):
    """An ERP that takes orders exactly once: creates by an idempotency key it keeps (MoySklad
    ``syncId``), updates by id, many per request."""

    max_batch: int

    async def order_reference(self) -> OrderReference:
        ...

    async def upsert_orders(self, drafts: Sequence[OrderDraft]) -> list[OrderOutcome]:
        """Create or update every draft (one outcome each, in order); a refused item does not fail the rest."""
        ...

    async def find_orders(self, external_ids: Sequence[str]) -> dict[str, str]:
        """ERP order ids of orders already holding these channel order ids (archive backfill links them)."""
        ...


@runtime_checkable
class CustomerBook(Protocol):
    """An ERP's counterparties: found by contact, else created (idempotently) with the customer's type."""

    max_batch: int

    async def find_customers(self, customers: pd.DataFrame, by: Sequence[str]) -> dict[str, str]:
        """Channel customer id -> ERP counterparty id, searching ``by`` (``phone``, ``email``, ``inn``)
        in that order; phones are normalised before the exact search."""
        ...

    async def create_customers(self, customers: pd.DataFrame, *, group: str | None,
                               keys: Mapping[str, str]) -> dict[str, OrderOutcome]:
        """Create these customers (``keys``: customer id -> idempotency key), in bulk; legal entities
        with their contact person, bank account when given, in ``group``."""
        ...


@runtime_checkable
class OrderStates(Protocol):
    """An ERP's order states as they change (MoySklad: ``updated>=`` poll, webhooks)."""

    async def changed_states(self, since: datetime) -> pd.DataFrame:
        """Orders updated since ``since``: columns ``erp_id``, ``external_id`` (channel order id),
        ``state`` (name), ``updated_at`` (UTC)."""
        ...


@runtime_checkable
class StatusSink(Protocol):
    """Sets orders' statuses on a channel by the channel's order id; the statuses it knows."""

    async def statuses(self) -> Sequence[str]:
        """Status codes the channel has (to check the mapping)."""
        ...

    async def set_statuses(self, statuses: Mapping[str, str]) -> dict[str, str]:
        """Set each order's status (channel order id -> status code); returns refused ones with why."""
        ...


@runtime_checkable
class WebhookParser(Protocol):
    """Turns a webhook body of the system into the entity ids that changed (the receiver fetches them)."""

    def changed_ids(self, body: bytes, headers: Mapping[str, str]) -> dict[str, list[str]]:
        """Entity kind → ids of the entities the event says changed."""
        ...
