"""Stock computed from the documents the sandbox holds, as ``report/stock/*/current`` answers it.

Each document contributes signed movements per (assortment, store): a stock entry (``enter``, also
the seeded opening stock), a receipt (``supply``) and a sales return add stock, a shipment
(``demand``), a write-off (``loss``) and a return to the supplier (``purchasereturn``) remove it, a
``move`` shifts it
between stores, a customer order reserves ``reserve − shipped`` at its store (``storeId: null``
when it has none), and a purchase order (seeded) adds ``inTransit`` — "ожидание". A document's
contribution is withdrawn and re-applied when it changes, so the report is always what the
documents say, and ``changedSince`` knows which items moved.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from connectors.moysklad.sandbox.state import Json, ref_id

Key = tuple[str, str | None]  # (assortment id, store id or None)
Movement = tuple[str, str | None, str, float]  # (assortment id, store id, measure, quantity)

MEASURES = ("stock", "reserve", "inTransit")
STOCK_TYPES = ("stock", "freeStock", "quantity", "reserve", "inTransit")


def document_movements(type_: str, doc: Json) -> list[Movement]:
    """The stock movements a document causes (empty when it is not applicable/posted)."""
    if not doc.get("applicable", True):
        return []
    rows: list[Json] = doc.get("_positions", [])
    store = ref_id(doc.get("store"))
    out: list[Movement] = []
    for pos in rows:
        aid = ref_id(pos.get("assortment"))
        if aid is None:
            continue
        qty = float(pos.get("quantity", 0))
        if type_ in ("enter", "supply", "salesreturn"):
            out.append((aid, store, "stock", qty))
        elif type_ in ("demand", "loss", "purchasereturn", "retaildemand"):
            out.append((aid, store, "stock", -qty))
        elif type_ == "move":
            out.append((aid, ref_id(doc.get("sourceStore")), "stock", -qty))
            out.append((aid, ref_id(doc.get("targetStore")), "stock", qty))
        elif type_ == "customerorder":
            held = min(float(pos.get("reserve", 0)), qty - float(pos.get("shipped", 0)))
            if held > 0:
                out.append((aid, store, "reserve", held))
        elif type_ == "purchaseorder":
            waiting = float(pos.get("inTransit", qty))
            if waiting > 0:
                out.append((aid, store, "inTransit", waiting))
    return out


class StockLedger:
    """Per (assortment, store) totals of stock, reserve and inTransit, kept from documents."""

    def __init__(self) -> None:
        self.totals: dict[Key, dict[str, float]] = defaultdict(lambda: dict.fromkeys(MEASURES, 0.0))
        self.changed_at: dict[str, datetime] = {}
        self._applied: dict[str, list[Movement]] = {}
        self.last_change: datetime | None = None

    def apply(self, doc_id: str, movements: list[Movement], at: datetime) -> None:
        """Replace what document ``doc_id`` contributes with ``movements``."""
        old = self._applied.pop(doc_id, [])
        touched: set[str] = set()
        for aid, store, measure, qty in old:
            self.totals[(aid, store)][measure] -= qty
            touched.add(aid)
        for aid, store, measure, qty in movements:
            self.totals[(aid, store)][measure] += qty
            touched.add(aid)
        if movements:
            self._applied[doc_id] = movements
        for aid in touched:
            self.changed_at[aid] = at
        if touched:
            self.last_change = at

    def record(self, type_: str, doc: Json, at: datetime) -> None:
        """Apply a document's current movements."""
        self.apply(doc["id"], document_movements(type_, doc), at)

    def withdraw(self, doc_id: str, at: datetime) -> None:
        """Remove a deleted document's contribution."""
        self.apply(doc_id, [], at)

    def report(
        self,
        *,
        by_store: bool,
        stock_type: str = "stock",
        include_zero: bool = False,
        changed_since: datetime | None = None,
        assortment_ids: set[str] | None = None,
        store_ids: set[str] | None = None,
    ) -> list[Json]:
        """The flat array ``/report/stock/{all|bystore}/current`` returns."""
        grouped: dict[Key, dict[str, float]] = {}
        for (aid, store), measures in self.totals.items():
            if changed_since is not None and self.changed_at.get(aid, changed_since) < changed_since:
                continue
            if assortment_ids is not None and aid not in assortment_ids:
                continue
            if store_ids is not None and store not in store_ids:
                continue
            key: Key = (aid, store if by_store else None)
            acc = grouped.setdefault(key, dict.fromkeys(MEASURES, 0.0))
            for measure in MEASURES:
                acc[measure] += measures[measure]
        zero_ok = include_zero or changed_since is not None
        rows: list[Json] = []
        for (aid, store), totals in grouped.items():
            value = _measure(totals, stock_type)
            if value == 0 and not zero_ok:
                continue
            row: dict[str, Any] = {"assortmentId": aid}
            if by_store:
                row["storeId"] = store
            row[stock_type] = _number(value)
            rows.append(row)
        return rows


def _measure(m: dict[str, float], stock_type: str) -> float:
    if stock_type == "freeStock":
        return m["stock"] - m["reserve"]
    if stock_type == "quantity":
        return m["stock"] - m["reserve"] + m["inTransit"]
    return m[stock_type]


def _number(value: float) -> int | float:
    """11 rather than 11.0, as the API writes whole quantities."""
    value = round(value, 4)
    return int(value) if value == int(value) else value
