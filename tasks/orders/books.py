"""The ERP's books an order needs (states, organizations, stores, services, groups), kept in the hub.

Reading them costs the ERP a request per book (five); a cycle that uploads one order costs one to three more.
So the books are kept in the hub (records kind ``order_reference``) and read again only when they
are older than :data:`FRESH_SECONDS` — or at once when an order could not be planned because a name
was missing from the kept books (a state, store or service added in the ERP since): those orders
are planned again against fresh books before anything is parked for good.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime

import pandas as pd

from hub.capabilities import OrderReference, OrderSink
from tasks.orders.plan import OrderPlanner
from tasks.orders.stage import OrderRun, plain_rows

BOOKS = "order_reference"
#: how long kept books are trusted when every name an order needs is found in them
FRESH_SECONDS = 3600


async def order_books(run: OrderRun, sink: OrderSink, *, fresh: bool = False) -> tuple[OrderReference, bool]:
    """The books and whether they came from the hub (kept) rather than from the ERP just now."""
    if not fresh:
        rows = plain_rows(run.store.records.frame(run.name, BOOKS, keys=[run.target]))
        if rows:
            read_at = datetime.fromisoformat(str(rows[0]["read_at"]))
            if (datetime.now(UTC) - read_at).total_seconds() < FRESH_SECONDS:
                kept = json.loads(str(rows[0]["books"]))
                return OrderReference(**{**kept, "groups": tuple(kept.get("groups") or ())}), True
    books = await sink.order_reference()
    row = {
        "erp": run.target,
        "books": json.dumps(asdict(books), ensure_ascii=False),
        "read_at": datetime.now(UTC).isoformat(),
    }
    run.store.records.upsert_frame(run.name, BOOKS, run.target_system, pd.DataFrame([row]), "erp")
    return books, False


async def plan_with_books(
    planner: OrderPlanner, run: OrderRun, sink: OrderSink, order_ids: Sequence[str], *, replanning: bool = False
) -> None:
    """Plan ``order_ids`` with the kept books; orders they could not resolve, again with fresh ones."""
    kept = False
    if planner.reference is None:
        planner.reference, kept = await order_books(run, sink)
    planner.books_missed.clear()
    planner.plan(order_ids, replanning=replanning)
    missed = sorted(planner.books_missed)
    if not kept or not missed:
        return
    planner.reference, _ = await order_books(run, sink, fresh=True)
    planner.planned.parked -= len(missed)  # counted again by the plan below
    for oid in missed:
        planner.planned.reasons.pop(oid, None)
    planner.plan(missed, replanning=True)
