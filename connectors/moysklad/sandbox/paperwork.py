"""The documents around a customer order, kept in step with it as MoySklad keeps them.

After every write of a document (create, update, delete) the orders and shipments it touches are
settled again from the documents that exist *now*, so a document posted later, unposted, re-linked
or deleted counts exactly as much as it should:

* an order's positions are ``shipped`` as far as its posted shipments (``demand`` with
  ``applicable``) carry their items, which releases that much of their ``reserve`` (the ledger
  holds ``reserve − shipped``); ``shippedSum`` is the posted shipments' sum;
* the order lists every shipment, payment and move linked to it (``demands``, ``payments``,
  ``moves``), posted or not, as MoySklad does;
* ``payedSum`` is what posted incoming payments and cash receipts link to it (``operations``);
* a shipment lists its returns (``returns``) and its ``payedSum`` in the same way.

Stock itself is the ledger's (:mod:`.stock`): posted shipments and moves move it there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.moysklad.sandbox.state import Json, ref_id

if TYPE_CHECKING:
    from connectors.moysklad.sandbox.account import Account

PAYMENTS = ("paymentin", "cashin")


def _linked_orders(type_: str, doc: Json | None) -> set[str]:
    if doc is None:
        return set()
    if type_ in PAYMENTS:
        return {rid for op in doc.get("operations") or [] if (rid := ref_id(op)) and _op_type(op) == "customerorder"}
    rid = ref_id(doc.get("customerOrder"))
    return {rid} if rid else set()


def _linked_demands(type_: str, doc: Json | None) -> set[str]:
    if doc is None:
        return set()
    if type_ == "salesreturn":
        rid = ref_id(doc.get("demand"))
        return {rid} if rid else set()
    if type_ in PAYMENTS:
        return {rid for op in doc.get("operations") or [] if (rid := ref_id(op)) and _op_type(op) == "demand"}
    return set()


def _op_type(op: Json) -> str:
    return str((op.get("meta") or {}).get("type") or "")


def settle(sb: Account, type_: str, old: Json | None, new: Json | None) -> None:
    """Settle the orders and shipments a document was and is linked to (``old``/``new``: None when
    it did not exist before / does not any more)."""
    if type_ == "customerorder":
        if new is not None:
            settle_order(sb, new["id"])
        return
    for order_id in _linked_orders(type_, old) | _linked_orders(type_, new):
        settle_order(sb, order_id)
    demands = _linked_demands(type_, old) | _linked_demands(type_, new)
    if type_ == "demand":
        demands |= {d["id"] for d in (old, new) if d is not None}
    for demand_id in demands:
        settle_demand(sb, demand_id)


def settle_order(sb: Account, order_id: str) -> None:
    """Recompute what an order's documents make of it."""
    store = sb.store
    order = store.get("customerorder", order_id)
    if order is None:
        return
    demands = [d for d in store.of_type("demand").values() if ref_id(d.get("customerOrder")) == order_id]
    # a posted retail sale made from the order takes its goods as a shipment does (its reserve goes)
    sales = [d for d in store.of_type("retaildemand").values() if ref_id(d.get("customerOrder")) == order_id]
    shipped: dict[str, float] = {}
    for demand in [*demands, *sales]:
        if not demand.get("applicable", True):
            continue
        for pos in demand.get("_positions", []):
            aid = ref_id(pos.get("assortment")) or ""
            shipped[aid] = shipped.get(aid, 0.0) + float(pos.get("quantity", 0))
    for pos in order.get("_positions", []):
        aid = ref_id(pos.get("assortment")) or ""
        take = max(0.0, min(shipped.get(aid, 0.0), float(pos.get("quantity", 0))))
        pos["shipped"] = take
        shipped[aid] = shipped.get(aid, 0.0) - take
    order["shippedSum"] = float(sum(float(d.get("sum", 0)) for d in demands if d.get("applicable", True)))
    order["demands"] = [{"meta": d["meta"]} for d in demands]
    payments = [p for kind in PAYMENTS for p in store.of_type(kind).values() if order_id in _linked_orders(kind, p)]
    order["payments"] = [{"meta": p["meta"]} for p in payments]
    order["payedSum"] = float(sum(_linked_sum(p, order_id) for p in payments if p.get("applicable", True)))
    moves = [m for m in store.of_type("move").values() if ref_id(m.get("customerOrder")) == order_id]
    order["moves"] = [{"meta": m["meta"]} for m in moves]
    sb.ledger.record("customerorder", order, store.now())


def settle_demand(sb: Account, demand_id: str) -> None:
    """Recompute a shipment's returns and payments."""
    store = sb.store
    demand = store.get("demand", demand_id)
    if demand is None:
        return
    returns = [r for r in store.of_type("salesreturn").values() if ref_id(r.get("demand")) == demand_id]
    demand["returns"] = [{"meta": r["meta"]} for r in returns]
    payments = [p for kind in PAYMENTS for p in store.of_type(kind).values() if demand_id in _linked_demands(kind, p)]
    demand["payments"] = [{"meta": p["meta"]} for p in payments]
    demand["payedSum"] = float(sum(_linked_sum(p, demand_id) for p in payments if p.get("applicable", True)))


def _linked_sum(payment: Json, doc_id: str) -> float:
    return sum(float(op.get("linkedSum", 0)) for op in payment.get("operations") or [] if ref_id(op) == doc_id)
