"""The documents an ERP keeps on an order's life: shipments, moves, returns, payments (docs/documents.md).

Shaped by MoySklad's shipment (``demand``), move (``move``), customer return (``salesreturn``), incoming bank payment
(``paymentin``) and cash receipt (``cashin``); *when* each is due is the hub's business (the
retailCRM module "МойСклад 2.0" is the seed), not the ERP's. Every document is created exactly once:
its draft carries a hub key the ERP keeps as its idempotency key (MoySklad: ``syncId`` derives from
it, ``externalCode`` holds it), and the ERP's own list of an order's documents (:class:`OrderPapers`)
says which exist already — including those its users made by hand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

#: kinds of documents
SHIPMENT = "shipment"
RETURN = "return"
BANK_PAYMENT = "bank"  # an incoming payment to a settlement account
CASH_PAYMENT = "cash"  # a cash receipt
PAYMENT_KINDS = (BANK_PAYMENT, CASH_PAYMENT)
MOVE = "move"  # goods moved between the ERP's stores (to the store the order ships from)


@dataclass(frozen=True)
class ErpDocument:
    """One document the ERP holds on an order.

    ``key`` is the hub key it was made with (None: made in the ERP by its users); ``shipment_id``, on a
    return, is the shipment it returns; ``returned``, on a shipment, says a return of it exists.
    """

    kind: str
    erp_id: str
    key: str | None = None
    posted: bool = True
    amount: int = 0  # minor units
    shipment_id: str | None = None
    returned: bool = False
    updated_at: datetime | None = None  # when the ERP last changed it (aware UTC)


@dataclass(frozen=True)
class OrderPapers:
    """An ERP order and the documents linked to it."""

    erp_order_id: str
    documents: Sequence[ErpDocument] = ()

    def of_kind(self, *kinds: str) -> list[ErpDocument]:
        return [d for d in self.documents if d.kind in kinds]

    def keyed(self, key: str) -> ErpDocument | None:
        """The document made with this hub key, if the ERP has it."""
        return next((d for d in self.documents if d.key == key), None)


@dataclass(frozen=True)
class DocumentDraft:
    """One document as the ERP is to hold it; the ERP side builds the rest from the order it belongs to
    (a shipment's lines are the order's, its store the order's, the counterparty the order's).

    Attributes:
        key: the hub key (idempotency: ``<integration>:<channel order id>:<kind>[:<what>]``).
        number: the document's number; None lets the ERP number it.
        shipment_id: a return: the shipment it returns.
        amount, paid_at: a payment: how much (minor units) and when.
        account: a payment to a bank: the settlement account (number) of the organization.
        copy_custom_fields: a shipment: copy the order's custom fields the shipment also has.
        erp_id: the document the hub made before: an update (a payment's amount or posting changed).
        source_store: a move: the ERP store (name or id) the goods leave; they go to the order's store.
        lines: a move: (ERP offer id, quantity) of what moves (the order's lines reserved elsewhere).
    """

    key: str
    kind: str
    erp_order_id: str
    posted: bool = True
    number: str | None = None
    shipment_id: str | None = None
    amount: int | None = None
    paid_at: datetime | None = None
    account: str | None = None
    copy_custom_fields: bool = False
    erp_id: str | None = None
    source_store: str | None = None
    lines: Sequence[tuple[str, float]] = ()


@dataclass(frozen=True)
class DocumentOutcome:
    """What the ERP did with one draft."""

    key: str
    erp_id: str | None = None
    error: str | None = None
    retryable: bool = False
    note: str | None = None  # nothing was made, and nothing is to be (e.g. every line is shipped already)


@runtime_checkable
class OrderDocuments(Protocol):
    """An ERP that keeps documents on its orders, each created once by its hub key, many per request."""

    max_batch: int

    async def order_papers(self, erp_order_ids: Sequence[str]) -> dict[str, OrderPapers]:
        """The documents linked to each of these orders (absent: no such order in the ERP)."""
        ...

    async def upsert_documents(self, drafts: Sequence[DocumentDraft]) -> list[DocumentOutcome]:
        """Create (or, with ``erp_id``, update) every draft; one outcome each, in order; a refused
        draft does not fail the rest."""
        ...

    async def changed_payments(self, since: datetime) -> list[ErpDocument]:
        """Payment documents (bank and cash) changed at or after ``since``, with their hub keys."""
        ...

    async def delete_orders(self, erp_order_ids: Sequence[str]) -> dict[str, str]:
        """Delete these orders with every document linked to them (returns first, then payments and
        shipments, then the order); returns the orders not deleted, with why (absent ones count as
        deleted)."""
        ...

    async def cost_prices(self, shipment_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """What the lines of these shipments cost: shipment id → ERP offer id → cost of one unit
        (minor units), as the ERP computed it when the shipment was posted."""
        ...


@runtime_checkable
class CostPriceSink(Protocol):
    """A channel whose order lines take the cost price the ERP computed."""

    async def set_cost_prices(self, prices: Mapping[str, Mapping[str, int]], *, overwrite: bool) -> dict[str, str]:
        """Set the cost price of each order's lines (channel order id → the line's offer ref, as the
        channel's lines name it → cost of one unit, minor units), only on lines without one unless
        ``overwrite``; returns the orders not written, with why."""
        ...


@dataclass(frozen=True)
class PaymentChange:
    """What a channel payment is to become: its status and amount (minor units)."""

    status: str
    amount: int


@runtime_checkable
class PaymentSink(Protocol):
    """A channel whose order payments the hub may change (payment changes made in the ERP come back)."""

    async def set_payments(self, changes: Mapping[str, PaymentChange]) -> dict[str, str]:
        """Set each payment (channel payment id → what it becomes); returns those not set, with why."""
        ...
