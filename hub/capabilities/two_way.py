"""Two-way exchanges between a channel and its ERP (docs/two_way.md): customers both ways, changes made
to an order in the ERP back to the channel, and the ERP's retail sales on the channel's orders.

Shaped by the retailCRM module "МойСклад 2.0" (the seed) on the channel side and MoySklad's
counterparties, customer orders, retail sales (``retaildemand``) and entity webhooks on the ERP side.
A customer is a *card*: the few fields both sides keep (:data:`CARD_FIELDS`), each side reading and
writing it in its own wire terms; the hub compares cards, so what a side writes is judged by what the
other side then reads, never by who wrote it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

#: the fields of a customer both sides keep in step: the name, contacts, the address (the channel
#: keeps the ERP's in its address notes), and a company's legal details
CARD_FIELDS = ("name", "phone", "email", "address", "inn", "kpp")
#: one customer's card (a field absent or None: the side holds nothing there)
Card = Mapping[str, str | None]

#: kinds of ERP entity a change event names
CUSTOMER = "customer"
ORDER = "order"
RETAIL_SALE = "retail_sale"


@dataclass(frozen=True)
class ChangedCustomers:
    """Customers a channel says changed after a cursor (its own users' and scripts' changes, never the
    hub's echo), and where the next read starts."""

    ids: Sequence[str]
    cursor: str | None
    more: bool = False


@runtime_checkable
class CustomerCards(Protocol):
    """A system's customers as cards: read by id, and changed field by field."""

    async def customer_cards(self, ids: Sequence[str]) -> dict[str, dict[str, str | None]]:
        """The card of each of these customers the system has (absent: no such customer)."""
        ...

    async def update_customer_cards(self, changes: Mapping[str, Card]) -> dict[str, str]:
        """Set these fields on these customers (id → field → value; a field left out is left as it
        is); returns the customers not changed, with why."""
        ...


@runtime_checkable
class CustomerChanges(Protocol):
    """A channel that tells which of its customers changed (retailCRM: ``customers/history``)."""

    async def changed_customers(self, cursor: str | None) -> ChangedCustomers:
        """Customers changed after ``cursor`` (None: from now on — the first read returns only a cursor)."""
        ...


@dataclass(frozen=True)
class ErpChange:
    """One change an ERP's webhook reports: the kind of entity (:data:`CUSTOMER`, :data:`ORDER`,
    :data:`RETAIL_SALE`), its id, and what happened (``CREATE``, ``UPDATE``, ``DELETE``)."""

    entity: str
    erp_id: str
    action: str


@dataclass(frozen=True)
class ChangeDelivery:
    """One webhook delivery: its id (the ERP repeats it on a retry) and the changes it reports."""

    delivery_id: str
    changes: Sequence[ErpChange]


@runtime_checkable
class ErpChangeEvents(Protocol):
    """An ERP that posts a reference to what changed (MoySklad: entity webhooks), the receiver's parser
    and what the hub subscribes."""

    def parse_changes(self, body: bytes, query: Mapping[str, str]) -> ChangeDelivery:
        """The changes of one delivery. Raises ``ValueError`` naming what is malformed."""
        ...

    async def changed_since(self, since: datetime) -> list[ErpChange]:
        """The changes of the kinds it posts made at or after ``since``, by the ERP's own stamps: the
        poll that carries what a webhook lost on the way would have."""
        ...

    async def subscribe_changes(self, url: str, *, ours: str) -> list[str]:
        """Subscribe ``url`` to customer updates and retail sales created (``ours``: the hub's prefix;
        stale subscriptions under it are removed); returns what was done, a line each."""
        ...


@dataclass(frozen=True)
class Line:
    """An order line in the ERP's terms: its item (the ERP's offer id), quantity and unit price (minor units)."""

    offer_id: str
    quantity: float
    price: int


@dataclass(frozen=True)
class ErpOrderContent:
    """What an ERP order holds that may come back to the channel: its comment and its goods lines
    (services, such as the delivery line the upload adds, are not goods)."""

    erp_id: str
    channel_order_id: str | None  # the channel order it was uploaded from (None: the ERP's own)
    comment: str | None
    lines: Sequence[Line]


@runtime_checkable
class OrderContents(Protocol):
    """An ERP's orders as they change: their comment and lines (MoySklad: ``updated>=`` poll)."""

    async def changed_order_contents(self, since: datetime) -> list[ErpOrderContent]:
        """Orders changed at or after ``since``."""
        ...

    def manager_comment(self, comment: str | None, customer_comment: str | None) -> str:
        """What of an ERP order's comment is the manager's, given the customer's comment the channel
        order holds (an ERP with one comment field keeps both in it)."""
        ...


@dataclass(frozen=True)
class ChannelOrderContent:
    """A channel order's comments and lines (offer ids are the ERP's, as the channel's lines name them)."""

    order_id: str
    site: str | None
    customer_comment: str | None
    manager_comment: str | None
    lines: Sequence[Line]


@dataclass(frozen=True)
class ContentChange:
    """What a channel order is to become: its manager comment (None: left), its lines (None: left; else
    exactly these: lines of other offers are removed)."""

    manager_comment: str | None = None
    lines: Sequence[Line] | None = None


@dataclass(frozen=True)
class RetailSale:
    """A sale the ERP's point of sale made: from an order (``erp_order_id``) or on its own."""

    erp_id: str
    number: str
    organization: str  # the legal entity's name (mapped to a channel shop)
    customer_id: str | None  # the ERP counterparty
    erp_order_id: str | None
    lines: Sequence[Line]
    moment: datetime | None = None


@runtime_checkable
class RetailSales(Protocol):
    """An ERP's retail sales, read by id (the webhook names them)."""

    async def retail_sales(self, ids: Sequence[str]) -> dict[str, RetailSale]:
        """These sales (absent: deleted since)."""
        ...


@dataclass(frozen=True)
class SaleOrder:
    """A channel order to create for a retail sale made without one."""

    key: str  # the hub key; the channel keeps it as the order's external id (a retry finds it)
    site: str
    number: str
    lines: Sequence[Line]
    customer: Card = field(default_factory=dict)
    customer_id: str | None = None  # the channel customer, when the hub links one
    status: str | None = None


@runtime_checkable
class OrderContentSink(Protocol):
    """A channel whose orders' comment and lines the hub may change, and that takes orders the ERP made."""

    async def order_contents(self, order_ids: Sequence[str]) -> dict[str, ChannelOrderContent]:
        """These orders as they are now (absent: no such order)."""
        ...

    async def set_order_contents(self, changes: Mapping[str, ContentChange]) -> dict[str, str]:
        """Apply each change (channel order id → change); returns the orders not changed, with why."""
        ...

    async def create_sale_orders(self, orders: Sequence[SaleOrder]) -> tuple[dict[str, str], dict[str, str]]:
        """Create these orders once each (an order already holding the key is the one made before);
        returns (key → the channel order id, key → why it was refused)."""
        ...
