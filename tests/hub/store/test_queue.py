"""The exchange queue: idempotent enqueue, backoff, dead letters kept and retryable."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.store import QueueStatus, Store, StoreError
from tests.hub.conftest import FakeClock


def test_same_key_returns_the_existing_item_whatever_its_status(store: Store) -> None:
    first = store.queue.enqueue("shop", "upload_order", "order:1", {"order_id": "1"})
    store.queue.claim(worker="w1")
    store.queue.complete(first.id, {"moysklad_id": "ms-1"})
    again = store.queue.enqueue("shop", "upload_order", "order:1", {"order_id": "1", "changed": True})
    assert again.id == first.id and again.status is QueueStatus.DONE
    assert again.result == {"moysklad_id": "ms-1"} and again.payload == {"order_id": "1"}
    assert store.queue.counts("shop") == {"pending": 0, "in_progress": 0, "done": 1, "dead": 0}


def test_enqueue_many_keeps_input_order_and_dedupes(store: Store) -> None:
    store.queue.enqueue("shop", "stock", "b", {"n": 0})
    items = store.queue.enqueue_many("shop", "stock", [("a", {"n": 1}), ("b", {"n": 2}), ("a", {"n": 3})])
    assert [i.idempotency_key for i in items] == ["a", "b", "a"]
    assert items[0].id == items[2].id and items[1].payload == {"n": 0}
    assert store.queue.pending_count("shop", "stock") == 2


def test_claim_takes_due_items_in_id_order_and_filters(store: Store) -> None:
    for key in "abc":
        store.queue.enqueue("shop", "stock", key, {"key": key})
    store.queue.enqueue("other", "stock", "x", {})
    claimed = store.queue.claim(integration="shop", kind="stock", limit=2, worker="w1")
    assert [i.idempotency_key for i in claimed] == ["a", "b"]
    assert all(i.status is QueueStatus.IN_PROGRESS and i.claimed_by == "w1" for i in claimed)
    assert [i.idempotency_key for i in store.queue.claim(integration="shop", limit=5)] == ["c"]
    assert store.queue.claim(integration="shop") == []


def test_failures_back_off_then_go_dead_with_the_last_error(store: Store, clock: FakeClock) -> None:
    item = store.queue.enqueue("shop", "upload_order", "order:9", {}, max_attempts=3)
    store.queue.claim()
    failed = store.queue.fail(item.id, "HTTP 503")
    assert failed.status is QueueStatus.PENDING and failed.attempts == 1
    assert failed.next_attempt_at == clock.now + timedelta(seconds=5)
    assert store.queue.claim() == []  # not due yet
    clock.advance(5)
    store.queue.claim()
    assert store.queue.fail(item.id, "HTTP 503").next_attempt_at == clock.now + timedelta(seconds=10)
    clock.advance(10)
    store.queue.claim()
    dead = store.queue.fail(item.id, "x" * 5000)
    assert dead.status is QueueStatus.DEAD and dead.attempts == 3 and dead.last_error == "x" * 4000
    assert store.queue.list(status=QueueStatus.DEAD)[0].id == item.id


def test_non_retryable_failure_is_dead_at_once_and_retry_revives_it(store: Store) -> None:
    item = store.queue.enqueue("shop", "upload_order", "order:10", {})
    assert store.queue.fail(item.id, "unknown offer", retryable=False).status is QueueStatus.DEAD
    revived = store.queue.retry(item.id)
    assert revived.status is QueueStatus.PENDING and revived.attempts == 0
    assert revived.last_error == "unknown offer"
    assert [i.id for i in store.queue.claim()] == [item.id]


def test_retry_refuses_missing_and_done_items(store: Store) -> None:
    item = store.queue.enqueue("shop", "k", "1", {})
    store.queue.complete(item.id)
    with pytest.raises(StoreError, match=str(item.id)):
        store.queue.retry(item.id)
    with pytest.raises(StoreError, match="424242"):
        store.queue.retry(424242)
    assert store.queue.get(424242) is None


def test_retry_dead_revives_every_dead_item_of_a_scope(store: Store) -> None:
    for key in "abc":
        store.queue.fail(store.queue.enqueue("shop", "k", key, {}).id, "boom", retryable=False)
    store.queue.fail(store.queue.enqueue("other", "k", "z", {}).id, "boom", retryable=False)
    assert store.queue.retry_dead(integration="shop") == 3
    assert store.queue.counts() == {"pending": 3, "in_progress": 0, "done": 0, "dead": 1}


def test_a_late_failure_never_undoes_a_completion(store: Store) -> None:
    item = store.queue.enqueue("shop", "k", "1", {})
    store.queue.complete(item.id, {"ok": True})
    assert store.queue.fail(item.id, "timeout").status is QueueStatus.DONE


def test_expired_lease_is_reclaimed_by_another_worker(store: Store, clock: FakeClock) -> None:
    item = store.queue.enqueue("shop", "k", "1", {})
    assert store.queue.claim(worker="dies", lease_seconds=60)[0].id == item.id
    clock.advance(59)
    assert store.queue.claim(worker="w2") == []
    clock.advance(1)
    reclaimed = store.queue.claim(worker="w2")
    assert [i.id for i in reclaimed] == [item.id] and reclaimed[0].claimed_by == "w2"


def test_errors_are_redacted_before_they_are_stored(store_url: str) -> None:
    from hub.store import open_store

    with open_store(store_url, redact=lambda text: text.replace("s3cr3t-token", "***")) as store:
        item = store.queue.enqueue("shop", "k", "1", {})
        assert store.queue.fail(item.id, "401 for token s3cr3t-token").last_error == "401 for token ***"


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(max_attempts=st.integers(1, 12), base=st.floats(0.5, 60), cap=st.floats(60, 7200))
def test_backoff_grows_monotonically_until_dead(
    store: Store, clock: FakeClock, max_attempts: int, base: float, cap: float
) -> None:
    store.queue.backoff_base, store.queue.backoff_cap = base, cap
    key = f"{max_attempts}-{base}-{cap}-{clock.now.timestamp()}"
    item = store.queue.enqueue("prop", "k", key, {}, max_attempts=max_attempts)
    waits: list[float] = []
    for attempt in range(1, max_attempts + 1):
        failed = store.queue.fail(item.id, f"attempt {attempt}")
        assert failed.attempts == attempt
        if attempt == max_attempts:
            assert failed.status is QueueStatus.DEAD
        else:
            assert failed.status is QueueStatus.PENDING
            waits.append((failed.next_attempt_at - clock.now).total_seconds())
    assert waits == sorted(waits) and all(w <= cap + 1e-3 for w in waits)
    clock.advance(1)
