"""One order-upload cycle: read the channel's changes by the cursor, stage, plan, move the cursor; send.

The read follows :meth:`OrderSource.changed_orders` page after page while it says ``more``. Each page
is staged and planned before the cursor (``store.cursors``, stream ``orders``) moves past it, so
whatever the cursor covers is in the hub's database: a process killed afterwards loses nothing, and
a re-read stages the same rows and plans the same queue items (their keys are the contents). The
ERP's books (:meth:`OrderSink.order_reference`) are kept in the hub (:mod:`tasks.orders.books`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prefect import task
from prefect.cache_policies import NONE

from hub.capabilities import CustomerBook, ItemBook, OrderSink, OrderSource
from hub.systems import connector
from tasks.clients import with_capabilities
from tasks.exchange import Outcome
from tasks.orders.books import plan_with_books
from tasks.orders.plan import OrderPlanner, Planned
from tasks.orders.send import Sent, send_queued
from tasks.orders.stage import ORDERS, OrderRun, stage

#: history pages one cycle reads at most (the next cycle goes on from the cursor)
MAX_PAGES = 50


@dataclass
class ReadResult:
    """What one cycle read and planned."""

    first_read: bool = False  # no cursor yet: this read only set it
    shared_credential: list[str] = field(default_factory=list)  # created with our credential, not by us
    pages: int = 0
    orders_read: int = 0
    eligible: int = 0
    planned: Planned | None = None


async def read_and_plan(run: OrderRun, source: OrderSource, sink: OrderSink) -> ReadResult:
    result = ReadResult()
    planner = OrderPlanner(run)
    cursor = run.store.cursors.get(run.name, ORDERS)
    result.first_read = cursor is None

    async def plan(ids: list[str], *, replanning: bool = False) -> None:
        due = planner.candidates(ids)
        if not due:
            planner.planned.unchanged += len(ids)
            return
        await plan_with_books(planner, run, sink, ids, replanning=replanning)

    # only the hub's own writes are echoes: changes others make with the same credential are read
    written = run.store.writes.log(run.name, run.source)
    for _ in range(MAX_PAGES):
        batch = await source.changed_orders(cursor, written=written)
        result.shared_credential += [o for o in batch.shared_credential_orders if o not in result.shared_credential]
        result.pages += 1
        staged = stage(run, batch)
        result.orders_read += len(staged.order_ids)
        result.eligible += len(staged.eligible)
        if staged.eligible:
            await plan(staged.eligible)
        if batch.cursor is not None and batch.cursor != cursor:
            cursor = batch.cursor
            run.store.cursors.set(run.name, ORDERS, cursor)  # after the page is staged and planned
        if not batch.more:
            break
    parked = planner.parked_due()
    if parked:
        await plan(parked, replanning=True)
    result.planned = planner.planned
    if planner.planned.unmapped_delivery:
        run.store.journal.write(
            run.name,
            "warning",
            "orders.delivery-unmapped",
            f"delivery types not in mappings.delivery_types, sent as the default delivery "
            f"({run.integ.options.orders.default_delivery or 'no line'}): "
            f"{sorted(planner.planned.unmapped_delivery)}",
        )
    if result.shared_credential:
        run.store.journal.write(
            run.name,
            "warning",
            "orders.shared-credential",
            f"orders {', '.join(result.shared_credential)} were created with the hub's own credential of "
            f"systems.{run.source}, but not by the hub: a site module or script shares it. They are uploaded "
            "like any order; give that module a credential of its own so its changes are never taken for the "
            "hub's",
            {"order_ids": list(result.shared_credential)},
        )
    for oid, reason in planner.planned.reasons.items():
        run.store.journal.write(
            run.name, "warning", "orders.parked", f"order {oid} parked: {reason}", {"order_id": oid}
        )
    return result


@task(name="read-orders", cache_policy=NONE)
def read_orders(run: OrderRun) -> ReadResult:
    """Read the channel's changed orders, stage and plan them, move the cursor."""

    return with_capabilities(
        run.integ,
        (run.source, OrderSource),
        (run.target, OrderSink),
        step=lambda source, sink: read_and_plan(run, source, sink),
    )


@task(name="upload-orders", cache_policy=NONE)
def upload_orders(run: OrderRun) -> Sent:
    """Send every due order of the queue to the ERP."""

    worker = f"{run.name}-orders"
    source, sink, book = (run.source, OrderSource), (run.target, OrderSink), (run.target, CustomerBook)
    if connector(run.target_system).can(ItemBook):  # lines with no catalog offer become new items there
        return with_capabilities(
            run.integ,
            source,
            sink,
            book,
            (run.target, ItemBook),
            step=lambda src, snk, bk, items: send_queued(run, snk, bk, src, worker=worker, items=items),
        )
    return with_capabilities(
        run.integ, source, sink, book, step=lambda src, snk, bk: send_queued(run, snk, bk, src, worker=worker)
    )


def summary_rows(read: ReadResult, sent: Sent) -> list[dict[str, Any]]:
    planned = read.planned or Planned()
    rows: list[dict[str, Any]] = []
    if read.first_read:
        rows.append({"what": "first read: the cursor is set, orders from now on are uploaded", "count": 1})
    rows += [
        {"what": "history pages read", "count": read.pages},
        {"what": "orders read", "count": read.orders_read},
        {"what": "orders that count for upload", "count": read.eligible},
        {"what": "orders queued", "count": planned.queued},
        {"what": "orders unchanged since accepted", "count": planned.unchanged},
        {"what": "orders parked (see `skladbridge queue list`)", "count": planned.parked},
        {"what": "orders accepted by the ERP", "count": sent.accepted},
        {"what": "of them new in the ERP", "count": sent.created},
        {"what": "customers found", "count": sent.customers_found},
        {"what": "customers created", "count": sent.customers_created},
    ]
    if read.shared_credential:
        rows.append(
            {
                "what": "orders created with the hub's credential by others (journaled)",
                "count": len(read.shared_credential),
            }
        )
    if planned.replanned:
        rows.append({"what": "parked orders planned again", "count": planned.replanned})
    if sent.refused:
        rows.append({"what": "orders the ERP refused or could not take", "count": sent.refused})
    if sent.erp_ids_not_written:
        rows.append({"what": "ERP ids not written back to the channel (journaled)", "count": sent.erp_ids_not_written})
    return rows


def upload_outcome(read: ReadResult, sent: Sent, integration: str) -> Outcome:
    """The summary of one upload cycle; orders the ERP refused fail the run, parked ones warn."""
    planned = read.planned
    queued, parked = (planned.queued, planned.parked) if planned else (0, 0)
    return Outcome(
        rows=summary_rows(read, sent),
        line=f"order upload: {read.orders_read} orders read, {queued} queued, {parked} parked, "
        f"{sent.accepted} accepted ({sent.created} new)",
        level="error" if sent.refused else "warning" if parked else "info",
        summary={
            "first_read": read.first_read,
            "orders_read": read.orders_read,
            "eligible": read.eligible,
            "shared_credential_orders": list(read.shared_credential),
            "queued": queued,
            "parked": parked,
            "parked_reasons": dict(planned.reasons) if planned else {},
            "accepted": sent.accepted,
            "created": sent.created,
            "refused": sent.refused,
            "items_skipped": sent.skipped,
            "customers_found": sent.customers_found,
            "customers_created": sent.customers_created,
            "erp_ids_not_written": sent.erp_ids_not_written,
        },
        failure=f"order upload of {integration}: {sent.refused} orders not accepted: {sent.errors[:3]}"
        if sent.refused
        else None,
    )
