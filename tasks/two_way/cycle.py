"""One two-way cycle: the webhook changes waiting, customers both ways, order changes and retail sales back.

The changes the receiver kept (:data:`~tasks.two_way.run.INBOX`) are read first and removed only once
the cycle that read them applied them: a cycle that fails leaves them for the next one. Several
changes of one entity are one read of it as it is now, so changes delivered twice or out of order
end the same way as in order.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from prefect import task
from prefect.cache_policies import NONE

from hub.capabilities.two_way import (
    CUSTOMER,
    RETAIL_SALE,
    CustomerCards,
    CustomerChanges,
    ErpChange,
    ErpChangeEvents,
    OrderContents,
    OrderContentSink,
    RetailSales,
)
from hub.systems import connector
from tasks.clients import open_capability
from tasks.exchange import Outcome
from tasks.two_way.customers import CustomersResult, customers_both_ways
from tasks.two_way.orders_back import OrdersBackResult, order_changes_back
from tasks.two_way.retail import RetailResult, apply_retail_sales
from tasks.two_way.run import ERP_CURSOR, INBOX, TwoWayRun, inbox


@dataclass
class TwoWayResult:
    """What one cycle did."""

    inbox: int = 0
    polled: int = 0  # changes the webhooks did not name, found by the poll
    customers: CustomersResult = field(default_factory=CustomersResult)
    orders: OrdersBackResult | None = None  # None: accept_erp_changes is off
    retail: RetailResult = field(default_factory=RetailResult)


async def two_way_cycle(run: TwoWayRun) -> TwoWayResult:
    """Open what each part needs and run them; the changes read are removed once applied."""
    result = TwoWayResult()
    waiting = inbox(run)
    result.inbox = len(waiting)
    named = {kind: [str(r["erp_id"]) for r in waiting if r["entity"] == kind] for kind in (CUSTOMER, RETAIL_SALE)}
    now = datetime.now(UTC)
    async with AsyncExitStack() as opened:

        async def cap(alias: str, kind: type) -> Any:
            return await opened.enter_async_context(open_capability(run.integ, alias, kind))

        if not run.parts:
            return result  # neither side can take part: nothing is read (the changes waiting go)
        channel_cards = await cap(run.source, CustomerCards)
        erp_cards = await cap(run.target, CustomerCards)
        if connector(run.target_system).can(ErpChangeEvents):
            # webhooks are no guaranteed delivery (an ERP may drop one after its retries): what
            # changed since the last cycle is read too; a change seen twice is applied once
            for change in await _polled(run, await cap(run.target, ErpChangeEvents), now):
                if change.entity in named and change.erp_id not in named[change.entity]:
                    named[change.entity].append(change.erp_id)
                    result.polled += 1
        if run.customers:
            changes = await cap(run.source, CustomerChanges)
            result.customers = await customers_both_ways(run, channel_cards, changes, erp_cards, named[CUSTOMER])
        if run.order_changes or run.retail:
            channel = await cap(run.source, OrderContentSink)
            if run.order_changes:
                result.orders = await order_changes_back(run, await cap(run.target, OrderContents), channel)
            if run.retail:
                sales = await cap(run.target, RetailSales)
                result.retail = await apply_retail_sales(run, sales, erp_cards, channel, named[RETAIL_SALE])
    run.store.records.delete(run.name, INBOX, keys=[str(r["key"]) for r in waiting])
    if connector(run.target_system).can(ErpChangeEvents) and run.parts:
        run.store.cursors.set(run.name, ERP_CURSOR, now.isoformat())
    return result


async def _polled(run: TwoWayRun, events: ErpChangeEvents, now: datetime) -> list[ErpChange]:
    """The ERP's changes since the last cycle's start (minus the overlap); from now on the first time."""
    cursor = run.store.cursors.get(run.name, ERP_CURSOR)
    overlap = timedelta(seconds=run.integ.options.stock.overlap)
    since = min(datetime.fromisoformat(cursor), now) - overlap if cursor else now - overlap
    return await events.changed_since(since)


@task(name="two-way-sync", cache_policy=NONE)
def sync_two_way(run: TwoWayRun) -> TwoWayResult:
    """Customers both ways, order changes and retail sales back, the webhook changes waiting."""
    return asyncio.run(two_way_cycle(run))


def two_way_outcome(result: TwoWayResult, integration: str) -> Outcome:
    """The summary of one cycle; writes a side refused warn (they are journaled)."""
    c, r, o = result.customers, result.retail, result.orders
    refused = {**c.refused, **{f"sale:{k}": v for k, v in r.refused.items()}}
    if o is not None:
        refused.update({f"order:{k}": v for k, v in o.refused.items()})
    rows: list[dict[str, Any]] = [
        {"what": "webhook changes read", "count": result.inbox},
        {"what": "ERP changes found by the poll (no webhook named them)", "count": result.polled},
        {"what": "channel customers changed (history)", "count": c.channel_changed},
        {"what": "ERP counterparties changed (webhooks)", "count": c.erp_changed},
        {"what": "of them not from the channel (left alone)", "count": c.not_linked},
        {"what": "ERP counterparties updated", "count": c.to_erp},
        {"what": "channel customers updated", "count": c.to_channel},
        {"what": "ERP orders changed (read)", "count": o.read if o else 0},
        {"what": "channel orders changed as their ERP orders", "count": o.changed if o else 0},
        {"what": "retail sales read", "count": r.read},
        {"what": "retail sales applied before (repeated webhooks)", "count": r.already},
        {"what": "channel orders changed by retail sales", "count": r.orders_changed},
        {"what": "channel orders created for retail sales", "count": r.orders_created},
        {"what": "retail sales waiting for a shop mapping", "count": r.waiting},
        {"what": "writes refused (journaled)", "count": len(refused)},
    ]
    return Outcome(
        rows=rows,
        line=f"two-way sync: {c.to_erp} counterparties and {c.to_channel} customers updated, "
        f"{o.changed if o else 0} orders changed back, {r.orders_changed + r.orders_created} retail sales applied",
        level="warning" if refused or r.waiting else "info",
        summary={
            "inbox": result.inbox,
            "polled": result.polled,
            "customers": asdict(c),
            "orders": asdict(o) if o else None,
            "retail": asdict(r),
            "refused": refused,
        },
    )
