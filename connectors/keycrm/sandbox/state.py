"""What an emulated keyCRM account holds: reference books, products and offers, stock per warehouse,
orders, webhook settings, and the stock writes accepted (202) but not yet applied."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connectors.keycrm.wire.conventions import iso_time

Json = dict[str, Any]

#: the default account's order statuses (keyCRM's stock set, names as the Ukrainian UI shows them)
STATUSES: list[Json] = [
    {"id": 1, "name": "Новий", "alias": "new", "group_id": 1, "is_closing_order": False, "is_reserved": False},
    {"id": 2, "name": "Погоджено", "alias": "approved", "group_id": 2, "is_closing_order": False, "is_reserved": True},
    {
        "id": 3,
        "name": "Комплектується",
        "alias": "packing",
        "group_id": 3,
        "is_closing_order": False,
        "is_reserved": True,
    },
    {"id": 4, "name": "Відправлено", "alias": "shipped", "group_id": 4, "is_closing_order": False, "is_reserved": True},
    {"id": 5, "name": "Виконано", "alias": "completed", "group_id": 5, "is_closing_order": True, "is_reserved": False},
    {"id": 6, "name": "Скасовано", "alias": "canceled", "group_id": 6, "is_closing_order": True, "is_reserved": False},
]


@dataclass
class PendingWrite:
    """A ``PUT /offers/stocks`` accepted with 202, applied at ``due`` (keyCRM's movement document)."""

    due: float
    warehouse_id: int
    items: list[Json]


@dataclass
class KeyState:
    """One account's data. ``stock[(offer id, warehouse id)] = [quantity, reserve]``."""

    warehouses: dict[int, str] = field(default_factory=lambda: {1: "Основний", 2: "Київ №1"})
    statuses: list[Json] = field(default_factory=lambda: [dict(s, is_active=True) for s in STATUSES])
    sources: list[Json] = field(default_factory=lambda: [{"id": 1, "name": "Сайт", "alias": "site"}])
    payment_methods: list[Json] = field(
        default_factory=lambda: [{"id": 1, "name": "Накладений платіж"}, {"id": 2, "name": "Картка"}]
    )
    products: dict[int, Json] = field(default_factory=dict)
    offers: dict[int, Json] = field(default_factory=dict)
    stock: dict[tuple[int, int], list[float]] = field(default_factory=dict)
    orders: dict[int, Json] = field(default_factory=dict)
    buyers: dict[int, Json] = field(default_factory=dict)
    pending: list[PendingWrite] = field(default_factory=list)
    #: order triggers ``(url, method)`` ("Відправити Webhook" on status change) and stock webhook URLs
    order_hooks: list[tuple[str, str]] = field(default_factory=list)
    stock_hooks: list[str] = field(default_factory=list)
    #: order triggers ``(url, method)`` on a change of the order's payment status
    payment_hooks: list[tuple[str, str]] = field(default_factory=list)
    #: seconds between a 202 stock write and its effect
    apply_delay: float = 0.3
    #: answer ``GET /offers/stocks`` with totals only, ignoring ``filter[details]`` (the C.7 report)
    totals_only: bool = False
    clock: Callable[[], float] = time.time
    next_ids: dict[str, int] = field(default_factory=dict)
    _by_sku: dict[str, int] = field(default_factory=dict, repr=False)
    _indexed: int = -1

    def new_id(self, kind: str, start: int = 1) -> int:
        self.next_ids[kind] = self.next_ids.get(kind, start - 1) + 1
        return self.next_ids[kind]

    def now_iso(self) -> str:
        return iso_time(datetime.fromtimestamp(self.clock(), UTC))

    def offer_by_sku(self, sku: str) -> Json | None:
        # an index rebuilt when offers were added (10 000 items a stock write over 100 000 offers)
        if len(self.offers) != self._indexed:
            self._by_sku = {str(o.get("sku")): oid for oid, o in self.offers.items() if o.get("sku")}
            self._indexed = len(self.offers)
        oid = self._by_sku.get(sku)
        return None if oid is None else self.offers.get(oid)

    def status(self, status_id: int) -> Json | None:
        return next((s for s in self.statuses if s["id"] == status_id), None)

    def totals(self, offer_id: int) -> tuple[float, float]:
        """(in stock, in reserve) of an offer over every warehouse (what the stock webhook posts)."""
        rows = [v for wid in self.warehouses if (v := self.stock.get((offer_id, wid))) is not None]
        return sum(r[0] for r in rows), sum(r[1] for r in rows)
