"""Under real concurrency: one row per idempotency key, and no item is ever claimed twice."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from hub.store import Store, open_store


def _together(n: int, work: Callable[[int], object]) -> list[object]:
    """Run ``work(i)`` for i < n in n threads released at the same moment."""
    barrier = threading.Barrier(n)

    def run(i: int) -> object:
        barrier.wait()
        return work(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def test_concurrent_enqueue_of_one_key_makes_one_row(store: Store) -> None:
    items = _together(8, lambda i: store.queue.enqueue("shop", "upload_order", "order:1", {"from": i}))
    assert len({item.id for item in items}) == 1  # type: ignore[attr-defined]
    assert sum(store.queue.counts().values()) == 1


def test_concurrent_enqueue_from_separate_engines_makes_one_row(store: Store, store_url: str) -> None:
    others = [open_store(store_url, upgrade=False, clock=store.db.clock) for _ in range(2)]
    try:
        stores = [store, *others]
        items = _together(
            6,
            lambda i: stores[i % 3].queue.enqueue_many("shop", "stock", [(f"batch:{k}", {"w": i}) for k in range(20)]),
        )
    finally:
        for other in others:
            other.close()
    ids = {tuple(item.id for item in batch) for batch in items}  # type: ignore[attr-defined]
    assert len(ids) == 1
    assert store.queue.pending_count("shop", "stock") == 20


def test_two_claimers_never_claim_the_same_item(store: Store, store_url: str) -> None:
    store.queue.enqueue_many("shop", "stock", [(f"k{i}", {"i": i}) for i in range(200)])
    other = open_store(store_url, upgrade=False, clock=store.db.clock)  # its own engine, its own connections
    claimers = [store, other]
    # Both claim at the same moment in every round, so every claim races the other. A free-running
    # loop would not: SQLite's busy handler sleeps, and one claimer can drain the queue alone.
    rounds = 200 // (2 * 5) + 1  # the last round finds the queue empty
    start = threading.Barrier(2)

    def drain(i: int) -> list[list[int]]:
        batches: list[list[int]] = []
        for _ in range(rounds):
            start.wait()
            batches.append([item.id for item in claimers[i].queue.claim(limit=5, worker=f"w{i}")])
        return batches

    try:
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(drain, range(2)))
    finally:
        other.close()
    claimed = [item_id for batches in results for batch in batches for item_id in batch]
    assert len(claimed) == 200 and len(set(claimed)) == 200
    assert all(len(batch) == 5 for batches in results for batch in batches[:-1]), "each round, each claimer got work"
    assert all(batches[-1] == [] for batches in results)
    assert store.queue.counts()["in_progress"] == 200
