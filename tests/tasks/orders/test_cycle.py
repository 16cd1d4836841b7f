"""The order cycle's read: the first read only sets the cursor, pages are read while ``more``, and the
cursor moves past a page only once its orders are staged and planned (a failure mid-read keeps it)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.capabilities import HubWriteLog, OrderBatch
from hub.model import empty_frame
from hub.store import QueueStatus, Store
from tasks.orders.cycle import read_and_plan
from tasks.orders.stage import ORDERS
from tests.tasks.orders.test_plan import batch, hub_with_offers, run_of
from tests.tasks.orders.test_send import Channel, Erp


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with hub_with_offers(tmp_path) as opened:
        yield opened


class History(Channel):
    """Pages of changes after a cursor; ``broken`` pages raise (the channel went away mid-read)."""

    def __init__(self, pages: dict[str | None, OrderBatch], broken: set[str] | None = None) -> None:
        super().__init__()
        self.pages, self.broken = pages, broken or set()
        self.reads: list[str | None] = []

    async def changed_orders(
        self, cursor: str | None, limit: int = 100, *, written: HubWriteLog | None = None
    ) -> OrderBatch:
        self.reads.append(cursor)
        if cursor in self.broken:
            raise ConnectionError("channel went away")
        return self.pages[cursor]


def page(cursor: str, *orders: dict[str, Any], more: bool = False) -> OrderBatch:
    b = (
        batch(*orders)
        if orders
        else OrderBatch(empty_frame("orders"), empty_frame("order_lines"), empty_frame("customers"))
    )
    return OrderBatch(b.orders, b.lines, b.customers, b.passed_statuses, cursor=cursor, more=more)


def test_first_read_sets_the_cursor_then_pages_are_read_while_more(tmp_path: Path, store: Store) -> None:
    run = run_of(tmp_path, store)
    history = History(
        {
            None: page("100"),
            "100": page("150", {"order_id": "1"}, more=True),
            "150": page("180", {"order_id": "2"}),
            "180": page("180"),
        }
    )
    first = asyncio.run(read_and_plan(run, history, Erp()))
    assert first.first_read and first.orders_read == 0 and store.cursors.get("shop", ORDERS) == "100"
    second = asyncio.run(read_and_plan(run, history, Erp()))
    assert history.reads == [None, "100", "150"] and second.pages == 2 and not second.first_read
    assert second.planned is not None and second.planned.queued == 2 and store.cursors.get("shop", ORDERS) == "180"
    idle = asyncio.run(read_and_plan(run, history, Erp()))
    assert (idle.pages, idle.orders_read, store.cursors.get("shop", ORDERS)) == (1, 0, "180")


def test_a_failure_mid_read_keeps_the_cursor_at_the_last_page_staged(tmp_path: Path, store: Store) -> None:
    run = run_of(tmp_path, store)
    store.cursors.set("shop", ORDERS, "100")
    history = History(
        {"100": page("150", {"order_id": "1"}, more=True), "150": page("180", {"order_id": "2"})}, broken={"150"}
    )
    with pytest.raises(ConnectionError):
        asyncio.run(read_and_plan(run, history, Erp()))
    assert store.cursors.get("shop", ORDERS) == "150"  # page one is staged and queued; page two is read again
    assert [i.payload["order_id"] for i in store.queue.list(integration="shop", kind=ORDERS)] == ["1"]
    history.broken.clear()
    again = asyncio.run(read_and_plan(run, history, Erp()))
    assert again.orders_read == 1 and store.cursors.get("shop", ORDERS) == "180"
    assert sorted(
        i.payload["order_id"] for i in store.queue.list(integration="shop", kind=ORDERS, status=QueueStatus.PENDING)
    ) == ["1", "2"]
