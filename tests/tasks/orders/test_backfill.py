"""The archive backfill's rules on a staged SQLite hub with made-up capabilities: the window's pages are
read from its cursor, orders the ERP holds already are linked (not created), the rest go through the
upload's planner and sender whatever the upload statuses say, the cursor moves past a page only once it
is done (an interrupted run goes on from the next), and a second pass creates nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from hub.capabilities import OrderBatch
from hub.store import QueueStatus, Store
from tasks.orders.backfill import DONE, Backfilled, Window, backfill, unfinished, window, window_of
from tasks.orders.stage import ORDERS, OrderRun
from tests.tasks.orders.test_plan import batch, hub_with_offers, run_of
from tests.tasks.orders.test_send import Channel, Erp

MARCH = window(date(2024, 3, 1), date(2024, 3, 31), ["assembling"])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with hub_with_offers(tmp_path) as opened:
        yield opened


class Archive(Channel):
    """Pages of a period by page token; a ``broken`` page raises (the channel went away mid-run)."""

    def __init__(self, pages: dict[str | None, list[dict[str, Any]]], broken: set[str] | None = None) -> None:
        super().__init__()
        self.pages, self.broken = pages, broken or set()
        self.tokens = list(pages)
        self.reads: list[tuple[str | None, tuple[str, ...]]] = []
        self.bounds: tuple[datetime, datetime] | None = None

    async def orders_in_period(
        self, start: datetime, end: datetime, statuses: Sequence[str], page: str | None = None
    ) -> OrderBatch:
        self.reads.append((page, tuple(statuses)))
        self.bounds = (start, end)
        if page in self.broken:
            raise ConnectionError("channel went away")
        at = self.tokens.index(page)
        following = self.tokens[at + 1] if at + 1 < len(self.tokens) else None
        b = batch(*({"status": "assembling", **o} for o in self.pages[page]))  # batch() consumes its dicts
        return OrderBatch(b.orders, b.lines, b.customers, cursor=following, more=following is not None)


class ArchiveErp(Erp):
    """The ERP holds ``existing`` orders (channel id -> ERP id) created before the hub knew them."""

    max_batch = 100

    def __init__(self, existing: dict[str, str] | None = None) -> None:
        super().__init__()
        self.existing = existing or {}
        self.finds: list[list[str]] = []

    async def find_orders(self, external_ids: Sequence[str]) -> dict[str, str]:
        self.finds.append(list(external_ids))
        return {i: self.existing[i] for i in external_ids if i in self.existing}

    def drafts_sent(self) -> int:
        return sum(int(c.split()[1]) for c in self.calls if c.startswith("upsert"))


def go(run: OrderRun, channel: Archive, erp: ArchiveErp, win: Window = MARCH, **kw: Any) -> Backfilled:
    return asyncio.run(backfill(run, win, channel, erp, erp, **kw))


def orders(*ids: str) -> list[dict[str, Any]]:
    return [{"order_id": i} for i in ids]


def test_pages_are_staged_found_orders_linked_and_the_rest_sent_whatever_the_upload_statuses(
    tmp_path: Path, store: Store
) -> None:
    run = run_of(tmp_path, store, upload_statuses=["new"])  # the orders are `assembling`: the upload skips them
    channel = Archive({None: orders("1", "2"), "2": [{"order_id": "3"}, {"order_id": "4", "lines": [("o-9", 1.0)]}]})
    erp = ArchiveErp({"2": "ms-old-2", "4": "ms-old-4"})  # 4 has an offer the hub does not know: linked, not parked
    seen: list[tuple[int, bool]] = []
    done = go(run, channel, erp, on_page=lambda r: seen.append((r.pages, r.done)))

    assert channel.reads == [(None, ("assembling",)), ("2", ("assembling",))]
    assert channel.bounds == (datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC))
    assert erp.finds == [["1", "2"], ["3", "4"]] and seen == [(1, False), (2, True)]
    assert (done.pages, done.orders_read, done.linked, done.queued, done.parked) == (2, 4, 2, 2, 0)
    assert (done.sent.accepted, done.sent.created, done.done) == (2, 2, True)
    assert sorted(erp.orders) == ["shop:1", "shop:3"] and erp.drafts_sent() == 2
    assert (
        store.links.external_ids(
            "shop", ORDERS, "moysklad", [store.links.resolve("shop", ORDERS, "retailcrm", ["2"])["2"]]
        ).popitem()[1]
        == "ms-old-2"
    )
    assert channel.written == {"1": "ms-1", "2": "ms-old-2", "3": "ms-2", "4": "ms-old-4"}  # ids back on the channel
    assert store.queue.list(integration="shop", kind=ORDERS, status=QueueStatus.DEAD) == []
    assert store.cursors.get("shop", MARCH.stream) == DONE and unfinished(run) == []


def test_an_interrupted_run_goes_on_from_the_page_after_the_last_done_and_each_order_goes_once(
    tmp_path: Path, store: Store
) -> None:
    run = run_of(tmp_path, store)
    channel = Archive({None: orders("1", "2"), "2": orders("3", "4"), "3": orders("5", "6")}, broken={"3"})
    erp = ArchiveErp({"5": "ms-old-5"})
    with pytest.raises(ConnectionError):
        go(run, channel, erp)
    assert store.cursors.get("shop", MARCH.stream) == "3" and unfinished(run) == [MARCH]
    assert sorted(erp.orders) == ["shop:1", "shop:2", "shop:3", "shop:4"]  # pages one and two were sent

    channel.broken.clear()
    channel.reads.clear()
    again = go(run, channel, erp)
    assert channel.reads == [("3", ("assembling",))] and again.resumed_from == "3"
    assert (again.pages, again.linked, again.sent.created, again.done) == (1, 1, 1, True)
    assert sorted(erp.orders) == ["shop:1", "shop:2", "shop:3", "shop:4", "shop:6"] and erp.drafts_sent() == 5


def test_a_finished_window_run_again_makes_a_new_pass_that_creates_nothing(tmp_path: Path, store: Store) -> None:
    run = run_of(tmp_path, store)
    channel, erp = Archive({None: orders("1", "2"), "2": orders("3")}), ArchiveErp({"3": "ms-old-3"})
    go(run, channel, erp)
    finds, drafts = len(erp.finds), erp.drafts_sent()
    channel.reads.clear()
    second = go(run, channel, erp)
    assert [page for page, _ in channel.reads] == [None, "2"] and second.resumed_from is None
    assert (second.orders_read, second.linked, second.queued, second.unchanged) == (3, 0, 0, 3)
    assert (second.sent.accepted, second.sent.created) == (0, 0)
    assert erp.drafts_sent() == drafts and len(erp.finds) == finds  # all linked: the ERP is not asked again


def test_a_run_reads_at_most_max_pages_and_the_window_stays_unfinished(tmp_path: Path, store: Store) -> None:
    run = run_of(tmp_path, store)
    channel, erp = Archive({None: orders("1"), "2": orders("2"), "3": orders("3")}), ArchiveErp()
    first = go(run, channel, erp, max_pages=2)
    assert (first.pages, first.done, first.next_page) == (2, False, "3")
    assert unfinished(run) == [MARCH] and store.cursors.get("shop", MARCH.stream) == "3"
    rest = go(run, channel, erp, max_pages=2)
    assert (rest.pages, rest.done, rest.sent.created) == (1, True, 1) and unfinished(run) == []


def test_a_window_is_named_by_its_days_and_statuses_and_read_back_from_the_name() -> None:
    both = window(date(2024, 3, 1), date(2024, 3, 31), ["new", "assembling", "new"])
    assert both.stream == "archive:2024-03-01:2024-03-31:assembling,new" and window_of(both.stream) == both
    every = window(date(2024, 3, 1), date(2024, 3, 1))
    assert every.stream == "archive:2024-03-01:2024-03-01" and window_of(every.stream) == every
    assert window_of("orders") is None and window_of("archive:x:y") is None
    moscow = (datetime(2024, 2, 29, 21, tzinfo=UTC), datetime(2024, 3, 1, 21, tzinfo=UTC))
    assert every.bounds("Europe/Moscow") == moscow
    with pytest.raises(ValueError, match="after its last day"):
        window(date(2024, 3, 2), date(2024, 3, 1))
