"""Stock notices: a delivery is kept once however often it comes, and stays pending until a cycle carried it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from hub.capabilities import StockNotice
from hub.store import Store, StoreError, open_store
from tests.hub.conftest import FakeClock

SINCE = datetime(2026, 1, 1, 11, 0, tzinfo=UTC)


def notice(n: int, kind: str = "stock") -> StockNotice:
    return StockNotice(f"req-{n}", kind, SINCE)


def test_a_retried_delivery_is_recorded_once_per_integration(store: Store) -> None:
    assert store.notices.record("shop", "moysklad", notice(1)) is True
    assert store.notices.record("shop", "moysklad", notice(1)) is False
    assert store.notices.record("other", "moysklad", notice(1)) is True  # another account's id space
    [kept] = store.notices.pending("shop")
    assert (kept.delivery_id, kept.kind, kept.changed_since, kept.system) == ("req-1", "stock", SINCE, "moysklad")
    assert kept.done_at is None


def test_concurrent_deliveries_of_one_id_from_separate_engines_make_one_row(store: Store, store_url: str) -> None:
    others = [open_store(store_url, upgrade=False, clock=store.db.clock) for _ in range(2)]
    stores = [store, *others]
    barrier = threading.Barrier(6)

    def deliver(i: int) -> bool:
        barrier.wait()
        return stores[i % 3].notices.record("shop", "moysklad", notice(7, "demand"))

    try:
        with ThreadPoolExecutor(6) as pool:
            fresh = list(pool.map(deliver, range(6)))
    finally:
        for other in others:
            other.close()
    assert fresh.count(True) == 1
    assert len(store.notices.pending("shop")) == 1


def test_a_cycle_carries_only_what_was_recorded_before_it_started(store: Store) -> None:
    for i in range(3):
        store.notices.record("shop", "moysklad", notice(i))
    up_to = store.notices.latest_id("shop")
    store.notices.record("shop", "moysklad", notice(3))  # arrives while the cycle runs
    assert up_to is not None
    assert store.notices.mark_done("shop", up_to=up_to) == 3
    assert [k.delivery_id for k in store.notices.pending("shop")] == ["req-3"]
    assert store.notices.integrations_pending() == ["shop"]
    assert store.notices.mark_done("shop", ids=[k.id for k in store.notices.pending("shop")]) == 1
    assert store.notices.integrations_pending() == []
    assert store.notices.record("shop", "moysklad", notice(0)) is False  # a late retry: still known


def test_done_notices_are_pruned_after_the_retention(store: Store, clock: FakeClock) -> None:
    store.notices.record("shop", "moysklad", notice(1))
    store.notices.mark_done("shop", up_to=store.notices.latest_id("shop"))
    clock.advance(3 * 86_400)
    store.notices.record("shop", "moysklad", notice(2))
    store.notices.mark_done("shop", up_to=store.notices.latest_id("shop"))
    assert store.notices.record("shop", "moysklad", notice(1)) is True  # forgotten after two days
    assert store.notices.record("shop", "moysklad", notice(2)) is False


def test_a_delivery_id_must_be_short_and_present(store: Store) -> None:
    for bad in ("", "x" * 101):
        with pytest.raises(StoreError, match="delivery id"):
            store.notices.record("shop", "moysklad", StockNotice(bad, "stock"))
