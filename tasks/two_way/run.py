"""The two-way exchanges of one integration: what they run on and what they keep in the hub (docs/two_way.md).

They ride on the orders edge (``orders: {from: shop, to: erp}``): the customers and orders the upload
linked are the ones kept in step. Each part needs its own capabilities on each side; a part a side
cannot do is left out of the run (and its summary says so), so an integration takes what it can.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from hub.capabilities import OrderSink, OrderSource
from hub.capabilities.two_way import (
    ChangeDelivery,
    CustomerCards,
    CustomerChanges,
    OrderContents,
    OrderContentSink,
    RetailSales,
)
from hub.config import Config
from hub.exchanges import ORDERS
from hub.store import Store
from hub.systems import connector
from tasks.clients import checked_edge
from tasks.exchange import ExchangeRun
from tasks.orders.stage import plain_rows

#: webhook changes waiting for a cycle (records; key ``<entity>:<ERP id>:<delivery id>``: a retried
#: delivery is the same row, a later change of the same entity another)
INBOX = "two_way_inbox"
#: each side's card of a linked customer as last seen or written (records; key ``<side>|<id>``)
CARDS = "two_way_cards"
#: what an ERP order held when its changes were last brought back (snapshot stream)
ORDER_SEEN = "two_way_orders"
#: retail sales applied to the channel, and how (records; key = the sale's ERP id)
SALES_DONE = "two_way_sales"
#: retail sales waiting for their legal entity to be mapped to a shop (records; key = the sale's ERP id)
SALES_WAITING = "two_way_sales_waiting"
#: cursors: the channel's customer history, the ERP orders' ``updated``
CUSTOMERS_CURSOR = "two-way-customers"
ORDERS_CURSOR = "two-way-orders"
#: the ERP's customers and retail sales polled by their ``updated`` (what a lost webhook carried)
ERP_CURSOR = "two-way-erp"


@dataclass(frozen=True)
class TwoWayRun(ExchangeRun):
    """The two-way exchanges of one integration: channel ``source`` ⇄ ERP ``target``."""

    def _both(self, channel: type, erp: type) -> bool:
        return connector(self.source_system).can(channel) and connector(self.target_system).can(erp)

    @property
    def customers(self) -> bool:
        """Whether customer cards can go either way (both sides keep cards, the channel tells changes)."""
        return self._both(CustomerCards, CustomerCards) and connector(self.source_system).can(CustomerChanges)

    @property
    def order_changes(self) -> bool:
        """Whether order changes come back: the option, and sides able to."""
        return self.integ.options.two_way.accept_erp_changes and self._both(OrderContentSink, OrderContents)

    @property
    def retail(self) -> bool:
        """Whether retail sales come to the channel's orders (sides able to)."""
        return self._both(OrderContentSink, RetailSales) and self._both(CustomerCards, CustomerCards)

    @property
    def parts(self) -> list[str]:
        """The parts this integration's sides can do (none: the cycle does nothing)."""
        able = {"customers": self.customers, "order changes": self.order_changes, "retail sales": self.retail}
        return [part for part, can in able.items() if can]


def plan_two_way_run(config: Config, name: str, store: Store) -> TwoWayRun:
    """Check that ``name`` has an orders edge (the parts its sides cannot do are left out: every
    integration with orders is deployed with it, a channel without customer cards too).

    Raises:
        ConfigError: no orders edge, or a side cannot take part in orders.
    """
    integ, source, target = checked_edge(config, name, ORDERS, OrderSource, OrderSink, "orders: {from: shop, to: erp}")
    return TwoWayRun(name, integ, store, source, target)


def record_delivery(store: Store, integration: str, system: str, delivery: ChangeDelivery) -> bool:
    """Keep a webhook delivery's changes for the next cycle; False when every one was kept already
    (the ERP's retry of a delivery the hub has)."""
    rows = [
        {
            "key": f"{c.entity}:{c.erp_id}:{delivery.delivery_id}",
            "entity": c.entity,
            "erp_id": c.erp_id,
            "action": c.action,
            "received_at": datetime.now(UTC).isoformat(),
        }
        for c in delivery.changes
    ]
    frame = pd.DataFrame(rows)
    held = store.records.frame(integration, INBOX, keys=[r["key"] for r in rows])
    kept = set(held["key"].astype(str)) if "key" in held else set()
    fresh = [r["key"] for r in rows if r["key"] not in kept]
    if fresh:
        store.records.upsert_frame(integration, INBOX, system, frame[frame["key"].isin(fresh)], "key")
    return bool(fresh)


def inbox(run: TwoWayRun) -> list[dict[str, Any]]:
    """The changes waiting, oldest first."""
    return sorted(plain_rows(run.store.records.frame(run.name, INBOX)), key=lambda r: str(r.get("received_at")))
