"""Custom fields and the responsible employee changed in the ERP, back to the channel order
(docs/order-fields.md, "Back"); run by each documents cycle.

The ERP's orders changed since a cursor (``hub.exchanges.ORDER_FIELDS_CURSOR``, minus the stock
overlap) are read with their mapped fields and owner. Each is turned into channel terms — per
channel code, the value of the ERP fields mapped onto it, the *last* of them in
``mappings.custom_fields`` winning (the seed's rule); the owner as the channel manager it maps or
matches — and compared with what the ERP was last known to hold (:data:`tasks.orders.fields.SENT`:
what the upload sent, or what came back before; for an order uploaded before, the staged channel
order). Only what differs is a change made in the ERP, and only that is set on the channel order,
so the hub's own upload (its echo) changes nothing, and a channel edit not uploaded yet is not
overwritten by the value it replaces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.capabilities import OrderFieldChange, OrderFieldSink, OrderFieldSource
from hub.exchanges import ORDER_FIELDS_CURSOR, ORDERS
from hub.systems import connector
from tasks.documents.run import DocumentRun
from tasks.orders.fields import channel_values, manager_book, remember, remembered
from tasks.orders.stage import plain_rows


@dataclass
class FieldsBack:
    """What one read of the ERP's order changes did."""

    read: int = 0
    sent: int = 0  # channel orders changed
    refused: dict[str, str] = field(default_factory=dict)  # channel order id -> why


def fields_back_due(run: DocumentRun) -> bool:
    """The option is on, something is mapped, and both sides can do it."""
    mappings = run.integ.mappings
    return (
        run.integ.options.fields.back
        and (bool(mappings.get("custom_fields")) or "managers" in mappings)
        and connector(run.target_system).can(OrderFieldSource)
        and connector(run.source_system).can(OrderFieldSink)
    )


def _text(value: Any) -> str | None:
    """A value as compared across systems (``1`` and ``"1"`` and ``1.0`` are one value)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _channel_ids(run: DocumentRun, erp_ids: list[str]) -> dict[str, str]:
    """ERP order id → channel order id, for the orders the upload linked."""
    keys = run.store.links.resolve(run.name, ORDERS, run.target_system, erp_ids)
    channel = run.store.links.external_ids(run.name, ORDERS, run.source_system, list(keys.values()))
    return {erp: channel[key] for erp, key in keys.items() if key in channel}


async def fields_back(
    run: DocumentRun, erp: OrderFieldSource, sink: OrderFieldSink, *, now: datetime | None = None
) -> FieldsBack:
    """Read the ERP orders changed since the cursor; set on the channel what changed there."""
    result, now = FieldsBack(), now or datetime.now(UTC)
    mapping = {str(k): str(v) for k, v in (run.integ.mappings.get("custom_fields") or {}).items() if v}
    overlap = timedelta(seconds=run.integ.options.stock.overlap)
    cursor = run.store.cursors.get(run.name, ORDER_FIELDS_CURSOR)
    since = datetime.fromisoformat(cursor) - overlap if cursor else now - overlap
    changed = await erp.changed_order_fields(since, list(mapping))
    channel_of = _channel_ids(run, [c.erp_order_id for c in changed])
    changed = [c for c in changed if c.erp_order_id in channel_of]
    result.read = len(changed)
    order_ids = [channel_of[c.erp_order_id] for c in changed]
    known = remembered(run, order_ids)
    staged = {str(o["order_id"]): o for o in plain_rows(run.store.records.frame(run.name, ORDERS, keys=order_ids))}
    # the owner comes back only where managers are exchanged (a mappings.managers key, even {})
    book = await manager_book(run, "managers" in run.integ.mappings and any(c.owner_id for c in changed))
    wanted: dict[str, OrderFieldChange] = {}
    now_held: dict[str, tuple[dict[str, Any], str | None]] = {}
    for order in changed:
        oid = channel_of[order.erp_order_id]
        values: dict[str, Any] = {}
        for erp_name, code in mapping.items():  # in mapping order: the last ERP field of a code wins
            values[code] = order.fields.get(erp_name)
        manager = book.manager(order.owner_id) if book is not None and order.owner_id else None
        seen_fields, seen_manager = known.get(oid) or (
            channel_values(staged.get(oid) or {}),
            (staged.get(oid) or {}).get("manager_id"),
        )
        moved = {code: v for code, v in values.items() if _text(v) != _text(seen_fields.get(code))}
        new_manager = manager if manager is not None and manager != seen_manager else None
        if moved or new_manager is not None:
            wanted[oid] = OrderFieldChange(moved, new_manager)
            now_held[oid] = ({**seen_fields, **values}, manager if manager is not None else seen_manager)
    if wanted:
        result.refused = await sink.set_order_fields(wanted)
        taken = {oid: held for oid, held in now_held.items() if oid not in result.refused}
        remember(run, taken)
        result.sent = len(taken)
    for oid, why in result.refused.items():
        run.store.journal.write(
            run.name, "warning", "fields.back-refused", f"order {oid}: fields not set: {why}", {"order_id": oid}
        )
    if not result.refused:
        run.store.cursors.set(run.name, ORDER_FIELDS_CURSOR, now.isoformat())
    return result
