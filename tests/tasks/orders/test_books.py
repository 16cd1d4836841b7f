"""The ERP's books kept in the hub: read once an hour, not once a cycle; read again at once when an
order names something the kept books lack (a state added in the ERP since), before it is parked."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from hub.capabilities import OrderReference
from hub.store import QueueStatus, Store
from tasks.orders import books as orders_books
from tasks.orders.books import BOOKS, order_books, plan_with_books
from tasks.orders.plan import OrderPlanner
from tasks.orders.stage import ORDERS, OrderRun, stage
from tests.tasks.orders.test_plan import REFERENCE, batch, hub_with_offers, run_of


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with hub_with_offers(tmp_path) as opened:
        yield opened


class Books:
    """OrderSink's order_reference only: counts reads; the ERP's books may change between them."""

    def __init__(self, books: OrderReference) -> None:
        self.books, self.reads = books, 0

    async def order_reference(self) -> OrderReference:
        self.reads += 1
        return self.books


def cycle(run: OrderRun, erp: Books, *orders: dict[str, object]) -> OrderPlanner:
    staged = stage(run, batch(*orders))
    planner = OrderPlanner(run)
    asyncio.run(plan_with_books(planner, run, erp, staged.eligible))  # type: ignore[arg-type]
    return planner


def test_kept_books_serve_the_next_cycles_and_age_out_after_an_hour(tmp_path: Path, store: Store) -> None:
    run, erp = run_of(tmp_path, store), Books(REFERENCE)
    assert cycle(run, erp, {"order_id": "1"}).planned.queued == 1 and erp.reads == 1
    assert cycle(run, erp, {"order_id": "2"}).planned.queued == 1 and erp.reads == 1  # kept: no request
    assert asyncio.run(order_books(run, erp)) == (REFERENCE, True)  # type: ignore[arg-type]
    old = (datetime.now(UTC) - timedelta(seconds=orders_books.FRESH_SECONDS + 1)).isoformat()
    row = store.records.frame(run.name, BOOKS).iloc[0].to_dict()
    store.records.upsert_frame(run.name, BOOKS, run.target_system, pd.DataFrame([{**row, "read_at": old}]), "erp")
    assert cycle(run, erp, {"order_id": "3"}).planned.queued == 1 and erp.reads == 2  # too old: read again


def test_a_name_the_kept_books_lack_reads_them_again_before_parking(tmp_path: Path, store: Store) -> None:
    run = run_of(
        tmp_path,
        store,
        {"statuses": {"new": "Новый", "assembling": "Подтвержден", "packed": "Собран", "lost": "Потерян"}},
    )
    erp = Books(REFERENCE)
    cycle(run, erp, {"order_id": "1"})  # the books are kept now
    erp.books = replace(REFERENCE, states={**REFERENCE.states, "Собран": "st-packed"})  # a state added in the ERP
    planner = cycle(run, erp, {"order_id": "2", "status": "packed"})
    assert erp.reads == 2 and (planner.planned.queued, planner.planned.parked) == (1, 0), planner.planned
    items = [i for i in store.queue.list(integration="shop", kind=ORDERS) if i.payload["order_id"] == "2"]
    assert QueueStatus.DEAD not in {i.status for i in items}  # parked for a moment against the old books at most
    [item] = [i for i in items if i.status == QueueStatus.PENDING]
    assert item.payload["draft"]["state_id"] == "st-packed"

    # a status the config does not map: the books cannot help, nothing is read
    planner = cycle(run, erp, {"order_id": "3", "status": "gone"})
    assert erp.reads == 2 and planner.planned.parked == 1
    assert "status `gone` is not mapped" in planner.planned.reasons["3"]
    # a state the ERP really lacks: read afresh once, then parked with the reason
    planner = cycle(run, erp, {"order_id": "4", "status": "lost"})
    assert erp.reads == 3 and planner.planned.parked == 1
    assert "the ERP has no order state `Потерян`" in planner.planned.reasons["4"]
