"""The journal keeps what happened, newest first, within its retention."""

from __future__ import annotations

from datetime import UTC

import pytest

from hub.store import Store, StoreError
from tests.hub.conftest import FakeClock


def test_entries_come_back_newest_first_filtered_by_level(store: Store) -> None:
    store.journal.write("shop", "debug", "poll", "nothing new")
    store.journal.write("shop", "info", "stock_sync", "12 rows sent", {"rows": 12})
    store.journal.write("shop", "error", "upload_order", "order 7 refused")
    store.journal.write(None, "warning", "config", "hub-wide note")
    entries = store.journal.list(integration="shop", level="info")
    assert [e.event for e in entries] == ["upload_order", "stock_sync"]
    assert entries[1].data == {"rows": 12} and entries[1].at.tzinfo is UTC
    assert [e.level for e in store.journal.list(level="warning")] == ["warning", "error"]
    with pytest.raises(StoreError, match="verbose"):
        store.journal.write("shop", "verbose", "x", "y")


def test_prune_by_age_and_by_count(store: Store, clock: FakeClock) -> None:
    for i in range(10):
        store.journal.write("shop", "info", "tick", f"entry {i}")
        clock.advance(86_400)  # one a day
    assert store.journal.prune(max_age_days=5) == 5
    assert store.journal.prune(max_count=2) == 3
    assert [e.message for e in store.journal.list()] == ["entry 9", "entry 8"]


def test_count_retention_is_per_integration(store: Store) -> None:
    store.journal.write("quiet", "info", "tick", "the quiet one's only entry")
    for i in range(20):
        store.journal.write("noisy", "info", "tick", f"noise {i}")
    assert store.journal.prune(max_count=5) == 15
    assert [e.message for e in store.journal.list(integration="quiet")] == ["the quiet one's only entry"]
    assert [e.message for e in store.journal.list(integration="noisy")] == [f"noise {i}" for i in range(19, 14, -1)]


def test_retention_is_applied_while_writing(store: Store) -> None:
    store.journal.retention_count = 30
    for i in range(250):
        store.journal.write("shop", "info", "tick", f"entry {i}")
    assert len(store.journal.list(limit=1000)) <= 30 + 100
    assert store.journal.list(limit=1)[0].message == "entry 249"


def test_defaults_keep_more_than_the_seed_module(store: Store) -> None:
    assert store.journal.retention_days == 30 and store.journal.retention_count == 100_000


def test_secrets_are_masked_before_they_reach_the_database(store_url: str) -> None:
    from hub.store import open_store

    with open_store(store_url, redact=lambda text: text.replace("tok-123456", "***")) as store:
        store.journal.write("shop", "error", "auth", "refused tok-123456", {"url": "x?token=tok-123456"})
        entry = store.journal.list()[0]
        assert entry.message == "refused ***" and entry.data == {"url": "x?token=***"}
