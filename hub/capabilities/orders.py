"""The order exchanges' capabilities (shaped by retailCRM, keyCRM, Horoshop on the channel side; MoySklad as
ERP): orders read and created exactly once, customers, states and statuses, the hub's own writes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pandas as pd


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
        return (self.order_id, self.field, self.value) == (
            order_id,
            field,
            value,
        ) and self.started - WRITE_CLOCK_SKEW <= at <= end + WRITE_CLOCK_SKEW


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
    payments: pd.DataFrame | None = None  # canonical ``payments`` of these orders (None: the channel gives none)
    deleted_orders: tuple[str, ...] = ()  # orders deleted in the channel since the cursor


@runtime_checkable
class OrderSource(Protocol):
    """A sales channel's orders: what changed since a cursor, a period (archive), and write-back."""

    async def changed_orders(
        self, cursor: str | None, limit: int = 100, *, written: HubWriteLog | None = None
    ) -> OrderBatch:
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

    async def orders_in_period(
        self, start: datetime, end: datetime, statuses: Sequence[str], page: str | None = None
    ) -> OrderBatch:
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
    #: payments with their type resolved to the receiver's (``type``, ``amount`` in minor units, ``status``)
    payments: Sequence[Mapping[str, Any]] = ()
    #: custom fields: ERP field name -> value (dictionary values by the entry's name); empty: none sent
    fields: Mapping[str, Any] = field(default_factory=dict)
    owner_id: str | None = None  # the ERP's responsible employee (resolved by the hub; None: not set)


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

    async def order_reference(self) -> OrderReference: ...

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

    async def create_customers(
        self, customers: pd.DataFrame, *, group: str | None, keys: Mapping[str, str]
    ) -> dict[str, OrderOutcome]:
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


@dataclass(frozen=True)
class OrderEvent:
    """One order webhook delivery of a channel: which order, and when the change it reports was made.

    ``key`` is what the receiver deduplicates on: the same change delivered twice (a repeated
    trigger, a GET and a POST of one event) has the same order and change time.
    """

    order_id: str
    changed_at: str
    event: str = ""

    @property
    def key(self) -> str:
        return f"{self.order_id}@{self.changed_at}"


@runtime_checkable
class OrderEvents(Protocol):
    """A channel that notifies order changes by webhook (the receiver then runs an upload cycle)."""

    def parse_order_event(self, body: bytes, query: Mapping[str, str]) -> OrderEvent:
        """The event of one delivery (a JSON body, or the query of a GET). Raises ``ValueError``
        naming what is malformed."""
        ...


@dataclass(frozen=True)
class NewItem:
    """An item an order names that the ERP's catalog lacks (a channel's one-time product)."""

    key: str  # the channel's key for it (its SKU; generated, stable, when it has none)
    name: str  # with its properties after commas: "Сорочка, біла, M"
    price: int | None = None  # minor units


@runtime_checkable
class ItemBook(Protocol):
    """An ERP that finds an item by the merchant's key, or creates it (idempotently)."""

    async def items_for(
        self, items: Sequence[NewItem], key_field: str, keys: Mapping[str, str]
    ) -> dict[str, OrderOutcome]:
        """Item key → the outcome holding the ERP offer id: found by ``key_field`` (``article`` or
        ``code``) equal to the key, else created as a product with it (``keys``: item key → the
        idempotency key of its create)."""
        ...
