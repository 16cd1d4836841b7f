"""Which documents an order is due, by the seed's rules (docs/documents.md, "When"); pure decisions.

* **Shipment**: once the order is in or *passed through* one of ``shipment_statuses`` (its status
  history, so an order that went on between two reads still gets it): one per order, key
  ``<integration>:<order>:shipment``.
* **Returns**: when a ``shipment_cancel_statuses`` status is *newly* seen on the order (since its
  documents were last settled): one per shipment of the order that has none — the hub's and those
  the ERP's users made — key ``<integration>:<order>:return:<shipment id>``.
* **Payments**: every channel payment whose type ``mappings.payment_documents`` maps (``bank`` or
  ``cash``), posted when its status is one of ``payment_posted_statuses``; key
  ``<integration>:<order>:payment:<payment id>``. A payment whose amount, date or status changed
  updates its document (one document, however often it is edited).

Each document is created once: a key the hub recorded, or the ERP lists on the order (made before a
crash lost the answer), is never created again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from hub.capabilities import PAYMENT_KINDS, RETURN, SHIPMENT, DocumentDraft, ErpDocument, OrderPapers
from hub.options import DocumentOptions


@dataclass(frozen=True)
class OrderFacts:
    """What the hub knows of one channel order that has an ERP order."""

    order_id: str
    erp_order_id: str
    number: str | None
    status: str | None
    seen: frozenset[str]  # every status it was seen in or passed through
    seen_before: frozenset[str]  # the same, when its documents were last settled
    payments: Sequence[Mapping[str, Any]] = ()  # staged canonical payments rows


@dataclass(frozen=True)
class Made:
    """A document the hub made (its record)."""

    key: str
    order_id: str
    kind: str
    erp_id: str
    content: str  # digest of what it was made of (payments: kind, amount, posting, date)


@dataclass
class Decision:
    """What one order is due: drafts to send, documents found made already (adopted), notes."""

    drafts: list[DocumentDraft] = field(default_factory=list)
    adopted: list[Made] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    returns_due: bool = False
    contents: dict[str, str] = field(default_factory=dict)  # draft key -> what it is made of


def shipment_key(integration: str, order_id: str) -> str:
    return f"{integration}:{order_id}:shipment"


def return_key(integration: str, order_id: str, shipment_id: str) -> str:
    return f"{integration}:{order_id}:return:{shipment_id}"


def payment_key(integration: str, order_id: str, payment_id: str) -> str:
    return f"{integration}:{order_id}:payment:{payment_id}"


def decide(
    integration: str,
    facts: OrderFacts,
    papers: OrderPapers,
    made: Mapping[str, Made],
    options: DocumentOptions,
    mappings: Mapping[str, Mapping[str, str | None]],
) -> Decision:
    """The shipment and payments an order is due now (returns follow the shipments: :func:`returns`)."""
    out = Decision()
    if set(options.shipment_statuses) & facts.seen:
        key = shipment_key(integration, facts.order_id)
        known = papers.keyed(key)
        if known is not None and key not in made:
            out.adopted.append(Made(key, facts.order_id, SHIPMENT, known.erp_id, ""))
        elif key not in made:
            out.drafts.append(
                DocumentDraft(
                    key,
                    SHIPMENT,
                    facts.erp_order_id,
                    number=facts.number if options.shipment_number else None,
                    copy_custom_fields=options.shipment_custom_fields,
                )
            )
    out.returns_due = bool(set(options.shipment_cancel_statuses) & (facts.seen - facts.seen_before))
    types, accounts = mappings.get("payment_documents") or {}, mappings.get("payment_accounts") or {}
    for payment in facts.payments:
        kind = types.get(str(payment.get("type")))
        if kind not in PAYMENT_KINDS:
            continue
        posted = str(payment.get("status")) in options.payment_posted_statuses
        amount = int(payment.get("amount") or 0)
        content = payment_content(str(kind), amount, posted, payment.get("paid_at"))
        key = payment_key(integration, facts.order_id, str(payment["payment_id"]))
        before = made.get(key)
        known = papers.keyed(key)
        if before is not None and before.kind != kind:
            out.notes.append(
                f"payment {payment['payment_id']}: its type moved from {before.kind} to {kind}; "
                "the document made as a payment of the first kind stays as it is"
            )
            continue
        if before is not None and before.content == content:
            continue
        erp_id = before.erp_id if before is not None else known.erp_id if known is not None else None
        if before is None and known is not None and _holds(known, amount, posted):
            out.adopted.append(Made(key, facts.order_id, kind, known.erp_id, content))
            continue
        out.contents[key] = content
        out.drafts.append(
            DocumentDraft(
                key,
                kind,
                facts.erp_order_id,
                posted=posted,
                number=str(payment["payment_id"]) if options.payment_number and erp_id is None else None,
                amount=amount,
                paid_at=_when(payment.get("paid_at")),
                account=accounts.get(str(payment.get("type"))),
                erp_id=erp_id,
            )
        )
    return out


def returns(
    integration: str,
    facts: OrderFacts,
    shipments: Sequence[ErpDocument],
    papers: OrderPapers,
    made: Mapping[str, Made],
) -> tuple[list[DocumentDraft], list[Made]]:
    """A return for every shipment of the order that has none (drafts, and returns found made)."""
    returned = {d.shipment_id for d in papers.of_kind(RETURN)}
    drafts, adopted = [], []
    for shipment in shipments:
        key = return_key(integration, facts.order_id, shipment.erp_id)
        known = papers.keyed(key)
        if key in made:
            continue
        if known is not None:
            adopted.append(Made(key, facts.order_id, RETURN, known.erp_id, ""))
        elif not shipment.returned and shipment.erp_id not in returned:
            drafts.append(DocumentDraft(key, RETURN, facts.erp_order_id, shipment_id=shipment.erp_id))
    return drafts, adopted


def payment_content(kind: str, amount: int, posted: bool, paid_at: Any) -> str:
    """What a payment document is made of, as its record keeps it (JSON: read back by the payments
    that come back from the ERP)."""
    return json.dumps([kind, amount, posted, None if paid_at is None else str(paid_at)])


def _holds(doc: ErpDocument, amount: int, posted: bool) -> bool:
    return (doc.amount, doc.posted) == (amount, posted)


def _when(value: Any) -> datetime | None:
    return None if value is None else pd.Timestamp(value).to_pydatetime()
