"""Moves with the shipment: the order's lines reserved at another warehouse go to the shipment store
first (docs/documents.md, "Moves"); pure decisions over what the order upload staged.

The seed module "МойСклад 2.0" makes a move when a line's store differs from the order's shipment
store. A line's store is the channel warehouse its line names (canonical ``order_lines.store_id``;
null: the order's); both resolve to ERP stores the way the order upload resolves the shipment store
(``mappings.order_stores``, else the one ERP store ``mappings.stores`` feeds the warehouse from). The
lines of one other store make one move, key ``<integration>:<order>:move:<ERP store>``, due with the
shipment (once the order is in or passed a shipment status) and made once: a key the hub recorded,
or one the ERP lists on the order (made before a crash lost the answer), is never made again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.capabilities import MOVE, DocumentDraft, OrderPapers
from hub.exchanges import ORDERS
from hub.options import DocumentOptions
from tasks.documents.due import Made, OrderFacts
from tasks.documents.run import DocumentRun
from tasks.orders.stage import plain_rows


@dataclass(frozen=True)
class OrderStores:
    """Where an order ships from and where its lines are (channel warehouse codes)."""

    store: str | None
    lines: Sequence[Mapping[str, Any]] = ()


@dataclass
class MoveDecision:
    drafts: list[DocumentDraft] = field(default_factory=list)
    adopted: list[Made] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def move_key(integration: str, order_id: str, store: str) -> str:
    return f"{integration}:{order_id}:move:{store}"


def order_stores(run: DocumentRun, order_ids: Sequence[str]) -> dict[str, OrderStores]:
    """The staged shipment store and lines of these orders."""
    records = run.store.records
    lines: dict[str, list[dict[str, Any]]] = {}
    for line in plain_rows(records.frame(run.name, "order_lines", parents=list(order_ids))):
        lines.setdefault(str(line["order_id"]), []).append(line)
    return {
        str(o["order_id"]): OrderStores(o.get("store_id"), lines.get(str(o["order_id"]), []))
        for o in plain_rows(records.frame(run.name, ORDERS, keys=list(order_ids)))
    }


def erp_store(code: str, mappings: Mapping[str, Mapping[str, str | None]]) -> tuple[str | None, str | None]:
    """The ERP store (name or id) a channel warehouse ships from, or why there is none."""
    explicit = mappings.get("order_stores") or {}
    if code in explicit:
        name = explicit[code]
        return (name, None) if name is not None else (None, f"warehouse `{code}` maps to no store")
    feeding = [erp for erp, channel in (mappings.get("stores") or {}).items() if channel == code]
    if len(feeding) == 1:
        return feeding[0], None
    return None, (
        f"warehouse `{code}` is not mapped — add it to mappings.order_stores"
        if not feeding
        else f"warehouse `{code}` is fed by {sorted(feeding)} — name its store in mappings.order_stores"
    )


def decide_moves(
    integration: str,
    facts: OrderFacts,
    stores: OrderStores | None,
    papers: OrderPapers,
    made: Mapping[str, Made],
    options: DocumentOptions,
    mappings: Mapping[str, Mapping[str, str | None]],
) -> MoveDecision:
    """The moves an order is due with its shipment (none unless ``options.moves`` and a shipment status
    was seen)."""
    out = MoveDecision()
    if not options.moves or stores is None or not (set(options.shipment_statuses) & facts.seen):
        return out
    target = erp_store(str(stores.store), mappings)[0] if stores.store is not None else None
    grouped: dict[str, dict[str, float]] = {}
    for line in stores.lines:
        code, offer = line.get("store_id"), line.get("offer_id")
        if code is None or code == stores.store or offer is None:
            continue
        source, why = erp_store(str(code), mappings)
        if source is None:
            out.notes.append(f"line {line.get('line_no')}: no move from {why}")
            continue
        if source == target:
            continue  # two warehouse codes, one ERP store: nothing moves
        qty = grouped.setdefault(source, {})
        qty[str(offer)] = qty.get(str(offer), 0.0) + float(line.get("quantity") or 0)
    for source, lines in grouped.items():
        key = move_key(integration, facts.order_id, source)
        if key in made:
            continue
        known = papers.keyed(key)
        if known is not None:
            out.adopted.append(Made(key, facts.order_id, MOVE, known.erp_id, ""))
            continue
        out.drafts.append(
            DocumentDraft(
                key,
                MOVE,
                facts.erp_order_id,
                posted=options.moves_posted,
                source_store=source,
                lines=tuple((offer, qty) for offer, qty in sorted(lines.items()) if qty > 0),
            )
        )
    return out
