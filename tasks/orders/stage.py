"""Order upload, part one: the run, and the channel's orders staged in the hub (docs/orders.md).

Orders, their lines and customers are filed in ``store.records`` under the channel's system (kinds
``orders``, ``order_lines``, ``customers``); an order that reached or passed one of the upload statuses
is marked once and for good (kind ``order_eligible``). What an order *is*, for the upload, is its
:func:`contents`: the staged rows without what only echoes our own writes (the channel's
``external_id`` is the ERP id we wrote back; ``updated_at`` moves with it), and its hash is what
snapshots and queue keys compare.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from hub.capabilities import OrderBatch, OrderSink, OrderSource
from hub.config import Config
from hub.exchanges import ORDERS
from hub.store import Store
from tasks.clients import checked_edge
from tasks.exchange import ExchangeRun
from tasks.publish import digest

#: the records of orders that once counted for upload (an order that passed an upload status stays eligible)
ELIGIBLE = "order_eligible"
#: every status each order was seen in or passing through (the documents' status history)
PASSED = "order_status_passed"
#: the channel's payments of the staged orders
PAYMENTS = "payments"
#: orders deleted in the channel
DELETED = "order_deleted"
#: order columns left out of an order's contents (echoes of our own writes)
VOLATILE = ("external_id", "updated_at")
#: columns most channels leave null: they count in an order's hash only when set, so the hashes of
#: orders without them stay what they were before the columns existed (no re-upload on an upgrade)
OPTIONAL = ("custom_fields", "manager_id", "store_id")


def _set(row: Mapping[str, Any], left_out: Sequence[str] = ()) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in left_out and not (k in OPTIONAL and v is None)}


@dataclass(frozen=True)
class OrderRun(ExchangeRun):
    """The order upload of one integration: channel ``source`` → ERP ``target``."""


def plan_order_run(config: Config, name: str, store: Store) -> OrderRun:
    """Check that ``name`` has an orders edge whose sides can read and take orders.

    Raises:
        ConfigError: no orders edge, or a side lacks the capability.
    """
    integ, source, target = checked_edge(config, name, ORDERS, OrderSource, OrderSink, "orders: {from: shop, to: erp}")
    return OrderRun(name, integ, store, source, target)


def plain(value: Any) -> Any:
    """A frame cell as JSON: NA → None, timestamps → ISO 8601, numpy scalars → Python ones."""
    if isinstance(value, pd.Timestamp | datetime):
        return None if pd.isna(value) else value.isoformat()
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def plain_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


@dataclass(frozen=True)
class OrderContents:
    """One staged order as the upload sees it."""

    order: dict[str, Any]
    lines: list[dict[str, Any]]
    customer: dict[str, Any] | None
    payments: list[dict[str, Any]] = field(default_factory=list)

    @property
    def order_id(self) -> str:
        return str(self.order["order_id"])

    @property
    def hash(self) -> str:
        order = _set(self.order, VOLATILE)
        lines = [_set(line) for line in self.lines]
        customer = {k: v for k, v in (self.customer or {}).items() if k != "updated_at"}
        # payments count only where a channel has them: the hashes of orders without stay as they were
        return digest([order, lines, customer, *([self.payments] if self.payments else [])])


def contents(run: OrderRun, order_ids: Sequence[str]) -> dict[str, OrderContents]:
    """The staged contents of these orders (those staged; others are absent)."""
    records = run.store.records
    orders = plain_rows(records.frame(run.name, ORDERS, keys=list(order_ids)))
    lines = plain_rows(records.frame(run.name, "order_lines", parents=list(order_ids)))
    customer_ids = [str(o["customer_id"]) for o in orders if o.get("customer_id")]
    customers = {str(c["customer_id"]): c for c in plain_rows(records.frame(run.name, "customers", keys=customer_ids))}
    by_order: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_order.setdefault(str(line["order_id"]), []).append(line)
    paid: dict[str, list[dict[str, Any]]] = {}
    for payment in plain_rows(records.frame(run.name, PAYMENTS, parents=list(order_ids))):
        paid.setdefault(str(payment["order_id"]), []).append(payment)
    return {
        str(o["order_id"]): OrderContents(
            o,
            sorted(by_order.get(str(o["order_id"]), []), key=lambda r: int(r.get("line_no") or 0)),
            customers.get(str(o.get("customer_id"))),
            sorted(paid.get(str(o["order_id"]), []), key=lambda r: str(r.get("payment_id"))),
        )
        for o in orders
    }


def eligible(statuses: Sequence[str], current: str | None, passed: frozenset[str]) -> bool:
    """Whether an order counts for upload: no upload statuses configured, or it is in or passed one."""
    wanted = set(statuses)
    return not wanted or current in wanted or bool(wanted & passed)


@dataclass
class Staged:
    """What one read put in the hub."""

    order_ids: list[str]
    eligible: list[str]


def stage(run: OrderRun, batch: OrderBatch) -> Staged:
    """Stage a batch's orders, lines and customers; mark the orders that count for upload.

    Every order of the batch is returned, changed or not: a re-read after a crash must plan them again.
    """
    records, system = run.store.records, run.source_system
    if batch.deleted_orders:  # the documents exchange deals with their ERP orders (docs/documents.md)
        gone = pd.DataFrame({"order_id": list(batch.deleted_orders)})
        records.upsert_frame(run.name, DELETED, system, gone, "order_id")
    if batch.orders.empty:
        return Staged([], [])
    ids = [str(i) for i in batch.orders["order_id"]]
    records.upsert_frame(run.name, ORDERS, system, batch.orders, "order_id")
    records.delete(run.name, "order_lines", parents=ids)  # lines removed in the channel go too
    if not batch.lines.empty:
        records.upsert_frame(run.name, "order_lines", system, batch.lines, ["order_id", "line_no"])
    if not batch.customers.empty:
        records.upsert_frame(run.name, "customers", system, batch.customers, "customer_id")
    statuses = run.integ.options.orders.upload_statuses
    passed: Mapping[str, frozenset[str]] = batch.passed_statuses
    _stage_history(run, batch)
    now_eligible = [
        str(row["order_id"])
        for row in batch.orders.to_dict("records")
        if eligible(statuses, plain(row.get("status")), passed.get(str(row["order_id"]), frozenset()))
    ]
    if now_eligible:
        records.upsert_frame(run.name, ELIGIBLE, system, pd.DataFrame({"order_id": now_eligible}), "order_id")
    marked = set(records.frame(run.name, ELIGIBLE, keys=ids).get("order_id", pd.Series(dtype=str)).astype(str))
    return Staged(ids, [i for i in ids if i in marked])


def _stage_history(run: OrderRun, batch: OrderBatch) -> None:
    """Keep the statuses each order was seen in or passed through, and its payments (for the
    documents exchange, and for a receiver that takes payments with the order): a shipment is due
    for an order that *passed* a shipment status between reads."""
    records, system = run.store.records, run.source_system
    seen = {(str(o["order_id"]), str(o["status"])) for o in plain_rows(batch.orders) if o.get("status") is not None}
    seen |= {(str(oid), str(s)) for oid, statuses in batch.passed_statuses.items() for s in statuses}
    if seen:
        rows = pd.DataFrame(sorted(seen), columns=["order_id", "status"])
        records.upsert_frame(run.name, PASSED, system, rows, ["order_id", "status"])
    if batch.payments is not None:  # payments removed in the channel go too, as lines do
        records.delete(run.name, PAYMENTS, parents=[str(i) for i in batch.orders["order_id"]])
        paid = batch.payments[batch.payments["payment_id"].notna()]
        if not paid.empty:
            records.upsert_frame(run.name, PAYMENTS, system, paid, ["order_id", "payment_id"])
