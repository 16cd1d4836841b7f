"""The stock channel's own stock webhook sorted against what the hub wrote (tasks/stock/echoes.py):
echoes of the last and the previous write, changes made in the channel marked once, their correction
confirmed by its own echo, offers the hub never wrote left alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.capabilities import ChannelStockChange, Entry
from hub.store import Store, open_store
from tasks.stock.echoes import drift_queued, pending_drift, record_sent, sort_changes


class Sink:
    """What keyCRM reports back for an entry: its SKU and the sum over its warehouses."""

    def parse_stock_changes(self, body: bytes) -> list[ChannelStockChange]:
        raise NotImplementedError

    def echo_of(self, entry: Entry) -> tuple[str, float]:
        return str(entry["sku"]), float(sum(entry["warehouses"].values()))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'hub.db'}")
    yield opened
    opened.close()


def write(store: Store, sku: str, *levels: float) -> None:
    record_sent(
        store,
        "kc",
        "keycrm",
        Sink(),
        [{"offer": f"ms-{sku}", "sku": sku, "warehouses": {"1": levels[0], "2": levels[1]}}],
    )


def test_echoes_of_the_last_two_writes_are_ignored_anything_else_is_a_change_marked_once(store: Store) -> None:
    write(store, "A", 3, 4)
    write(store, "A", 5, 4)  # an echo of the first write may arrive after the second was recorded
    found = sort_changes(store, "kc", "keycrm", [ChannelStockChange("A", 7.0), ChannelStockChange("A", 9.0)])
    assert (found.echoes, found.changed, found.unknown) == (2, [], 0)

    edited = sort_changes(store, "kc", "keycrm", [ChannelStockChange("A", 100.0), ChannelStockChange("B", 1.0)])
    assert [c.key for c in edited.changed or []] == ["A"] and edited.unknown == 1  # B: never written by the hub
    assert pending_drift(store, "kc") == {"A": "ms-A"}
    assert [e.event for e in store.journal.list(integration="kc")] == ["stock.changed-in-channel"]

    again = sort_changes(store, "kc", "keycrm", [ChannelStockChange("A", 100.0)])  # the same delivery again
    assert (again.duplicates, again.changed) == (1, [])
    drift_queued(store, "kc", "keycrm", {"A": "ms-A"})  # the stock cycle queued its correction
    assert pending_drift(store, "kc") == {}
    assert sort_changes(store, "kc", "keycrm", [ChannelStockChange("A", 100.0)]).duplicates == 1  # not twice

    write(store, "A", 5, 4)  # the correction, and its echo: the mark is cleared
    assert sort_changes(store, "kc", "keycrm", [ChannelStockChange("A", 9.0)]).echoes == 1
    later = sort_changes(store, "kc", "keycrm", [ChannelStockChange("A", 100.0)])  # edited the same way again
    assert [c.key for c in later.changed or []] == ["A"] and pending_drift(store, "kc") == {"A": "ms-A"}
    assert len(store.journal.list(integration="kc")) == 2
