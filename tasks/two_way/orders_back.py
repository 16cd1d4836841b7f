"""Changes made to an order in the ERP back to the channel: the seed's "accept changes from the ERP"
(``options.two_way.accept_erp_changes``, off by default; docs/two_way.md).

A cycle reads the ERP orders updated since its cursor (minus an overlap), keeps those the hub staged
from the channel, and skips each whose comment and lines are as when last brought back (a digest per
order, snapshot stream :data:`~tasks.two_way.run.ORDER_SEEN`). The rest are compared with the channel
order as it is now: the manager's comment (what of the ERP's comment is the manager's, by the ERP's
own rule) and the goods lines (quantity, price; lines added and removed) are set where they differ.
The state is not touched here: the status sync brings it back. Because every write is decided by
comparing with the channel's present value, the hub's own upload of the same order (which the ERP
then reports as a change) finds nothing to set: nothing bounces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hub.capabilities.two_way import ContentChange, ErpOrderContent, OrderContents, OrderContentSink
from tasks.orders.stage import ORDERS, plain_rows
from tasks.publish import digest
from tasks.two_way.run import ORDER_SEEN, ORDERS_CURSOR, TwoWayRun


@dataclass
class OrdersBackResult:
    """What one cycle brought back."""

    read: int = 0
    ours: int = 0  # of them, orders the hub staged from the channel
    changed: int = 0  # channel orders changed
    comments: int = 0
    lines: int = 0
    refused: dict[str, str] = field(default_factory=dict)


def _content_digest(content: ErpOrderContent) -> str:
    lines = sorted((line.offer_id, line.quantity, line.price) for line in content.lines)
    return digest([content.comment or "", lines])


async def order_changes_back(
    run: TwoWayRun, erp: OrderContents, channel: OrderContentSink, *, now: datetime | None = None
) -> OrdersBackResult:
    """One cycle; the cursor moves to the read's start once the channel took the changes."""
    result, now = OrdersBackResult(), now or datetime.now(UTC)
    overlap = timedelta(seconds=run.integ.options.stock.overlap)
    cursor = run.store.cursors.get(run.name, ORDERS_CURSOR)
    since = min(datetime.fromisoformat(cursor), now) - overlap if cursor else now - overlap
    contents = await erp.changed_order_contents(since)
    result.read = len(contents)
    wanted = {c.channel_order_id: c for c in contents if c.channel_order_id}
    staged = {str(o["order_id"]) for o in plain_rows(run.store.records.frame(run.name, ORDERS, keys=list(wanted)))}
    ours = {oid: c for oid, c in wanted.items() if oid in staged}
    result.ours = len(ours)
    digests = {oid: _content_digest(c) for oid, c in ours.items()}
    seen = run.store.snapshots.hashes(run.name, ORDER_SEEN, list(ours))
    due = {oid: c for oid, c in ours.items() if seen.get(oid) != digests[oid]}
    if due:
        now_in_channel = await channel.order_contents(list(due))
        changes: dict[str, ContentChange] = {}
        for oid, content in due.items():
            current = now_in_channel.get(oid)
            if current is None:
                continue
            comment = erp.manager_comment(content.comment, current.customer_comment)
            lines = sorted(content.lines, key=lambda line: line.offer_id)
            change = ContentChange(
                manager_comment=comment if comment != (current.manager_comment or "") else None,
                lines=lines if lines != sorted(current.lines, key=lambda line: line.offer_id) else None,
            )
            if change.manager_comment is not None or change.lines is not None:
                changes[oid] = change
                result.comments += change.manager_comment is not None
                result.lines += change.lines is not None
        result.refused = await channel.set_order_contents(changes) if changes else {}
        result.changed = len(changes) - len(result.refused)
        run.store.snapshots.save(run.name, ORDER_SEEN, {oid: digests[oid] for oid in due if oid not in result.refused})
    for oid, why in result.refused.items():
        run.store.journal.write(
            run.name, "warning", "two-way.order-refused", f"order {oid}: ERP changes not set: {why}", {"order_id": oid}
        )
    if not result.refused:
        run.store.cursors.set(run.name, ORDERS_CURSOR, now.isoformat())
    return result
