"""A stock-sync cycle's choices, on a staged hub and a made-up source: what it reads, what it works out.

The source records every read (whole or changed since when); the channel's entries are what the
cycle queued. Sending is the publish pipeline's (tested with the flows); the rules' arithmetic is
:mod:`tests.tasks.stock.test_rules`'.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pytest

from hub import model
from hub.capabilities import ChannelReference, Delivery, StockSink, StockSource
from hub.config import parse_config
from hub.store import Store, open_store
from hub.systems import Connector, SystemSettings, register, unregister
from tasks.publish import INVENTORIES
from tasks.stock.cycle import Cursor, CycleResult, plan_stock_run, read_and_queue

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Depot:
    """The made-up source's stock: (offer, store) -> (on hand, reserve, expected), with when it changed.

    A changed-since read lists only the (offer, store) rows that changed: the strictest reading of
    what a source may send, so the hub's copy must supply the rest.
    """

    def __init__(self) -> None:
        self.levels: dict[tuple[str, str | None], tuple[float, float, float]] = {}
        self.changed: dict[tuple[str, str | None], datetime] = {}
        self.reads: list[datetime | None] = []

    def put(
        self, offer: str, store: str | None, on_hand: float, reserve: float = 0, expected: float = 0, at: datetime = T0
    ) -> None:
        self.levels[(offer, store)] = (on_hand, reserve, expected)
        self.changed[(offer, store)] = at


DEPOT = Depot()


class DepotSettings(SystemSettings):
    system: Literal["depot"]


class ShopSettings(SystemSettings):
    system: Literal["till"]


class DepotStock:  # StockSource
    changes_window = timedelta(hours=24)

    async def current_stock(self, measure: str, changed_since: datetime | None = None) -> pd.DataFrame:
        DEPOT.reads.append(changed_since)
        pick = {"stock": lambda s, r, e: s, "freeStock": lambda s, r, e: s - r, "quantity": lambda s, r, e: s - r + e}
        return model.frame(
            "stock",
            [
                {"offer_id": o, "store_id": st, "available": pick[measure](*v), "stock_type": measure}
                for (o, st), v in DEPOT.levels.items()
                if (changed_since is None and pick[measure](*v) != 0)
                or (changed_since and DEPOT.changed[(o, st)] >= changed_since)
            ],
        )


class Till:  # StockSink
    max_batch, whole_units = 250, False

    async def channel_reference(self, *, with_catalog_stamp: bool = False) -> ChannelReference:
        return ChannelReference(warehouses=["main", "north"], price_types={})

    def ref(self, entry: Mapping[str, Any]) -> str:
        return str(entry["sku"])

    def stock_entries(self, stock: pd.DataFrame) -> list[dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for offer, code, qty in zip(stock.offer_id, stock.store_id, stock.available, strict=True):
            out.setdefault(offer, {"sku": offer, "stores": {}})["stores"][code] = qty
        return list(out.values())

    async def send(self, entries: Sequence[Mapping[str, Any]]) -> Delivery:
        raise AssertionError("a cycle plans only; the flow sends")


@asynccontextmanager
async def _client(settings: Any, secret: Any) -> AsyncIterator[None]:
    yield None


OFFERS = [
    ("a", "product", False),
    ("b", "product", False),
    ("v1", "variant", False),
    ("old", "product", True),
    ("svc", "service", False),
    ("kit", "bundle", False),
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    global DEPOT
    DEPOT = Depot()
    register(Connector("depot", "Depot", DepotSettings, _client, {StockSource: lambda c, s: DepotStock()}))
    register(Connector("till", "Till", ShopSettings, _client, {StockSink: lambda c, s: Till()}))
    hub = open_store(f"sqlite:///{tmp_path / 'hub.db'}")
    records = hub.records
    records.upsert_frame(
        "shop",
        "stores",
        "depot",
        model.frame(
            "stores", [{"store_id": s, "name": n} for s, n in (("s1", "Main"), ("s2", "Back"), ("s3", "North"))]
        ),
        "store_id",
    )
    records.upsert_frame(
        "shop",
        "offers",
        "depot",
        model.frame("offers", [{"offer_id": o, "product_id": o, "kind": k, "archived": a} for o, k, a in OFFERS]),
        "offer_id",
    )
    records.upsert_frame(
        "shop",
        "bundle_components",
        "depot",
        model.frame(
            "bundle_components",
            [
                {"offer_id": "kit", "component_id": "a", "quantity": 2},
                {"offer_id": "kit", "component_id": "v1", "quantity": 1},
            ],
        ),
        ["offer_id", "component_id"],
    )
    yield hub
    hub.close()
    unregister("depot")
    unregister("till")


def cycle(
    store: Store, now: datetime, options: dict[str, Any] | None = None, **kwargs: Any
) -> tuple[CycleResult, dict[str, Any]]:
    config = parse_config(
        {
            "integrations": {
                "shop": {
                    "systems": {
                        "erp": {"system": "depot", "base_url": "http://depot.invalid"},
                        "till": {"system": "till", "base_url": "http://till.invalid"},
                    },
                    "flows": {"stock": {"from": "erp", "to": "till"}},
                    "mappings": {"stores": {"Main": "main", "Back": "main", "North": "north"}},
                    "options": {"stock": options or {}},
                }
            }
        }
    )
    run = plan_stock_run(config, "shop", store)
    result = read_and_queue(run, now=now, **kwargs)
    queued = store.queue.claim(integration="shop", kind=INVENTORIES, limit=100, worker="test")
    entries = {e["sku"]: e["stores"] for item in queued for e in item.payload["entries"]}
    for item in queued:  # as the flow would after the channel accepted them
        store.snapshots.save("shop", INVENTORIES, item.payload["hashes"])
        store.queue.complete(item.id)
    # the flow moves the cursor once the batches are accepted
    old = Cursor.load(run)
    Cursor(result.read_at, result.read_at if result.full else old.full_at, run.integ.options.stock.measure).save(run)
    return result, entries


def test_first_cycle_reads_whole_then_only_what_changed_with_an_overlap(store: Store) -> None:
    DEPOT.put("a", "s1", 4)
    DEPOT.put("b", "s3", 2, at=T0 - timedelta(hours=1))
    first, sent = cycle(store, T0)
    assert (first.full, first.why, DEPOT.reads) == (True, "first cycle", [None])
    assert sent["a"] == {"main": 4, "north": 0} and sent["b"] == {"main": 0, "north": 2}
    assert "svc" not in sent and "old" not in sent  # a service, an archived item

    DEPOT.put("b", "s1", 1, at=T0 + timedelta(minutes=3))
    second, sent = cycle(store, T0 + timedelta(minutes=10))
    assert not second.full and DEPOT.reads[-1] == T0 - timedelta(seconds=300)  # the last read, less the overlap
    assert sent == {"b": {"main": 1, "north": 2}}  # s3 not re-read: the hub's copy held it
    assert second.rows_read == 2  # b/s1, and a/s1 again: the overlap reaches back past the first read


def test_a_moved_component_recomputes_its_bundle(store: Store) -> None:
    DEPOT.put("a", "s1", 4)
    DEPOT.put("v1", "s1", 9)
    _, sent = cycle(store, T0)
    assert sent["kit"] == {"main": 2, "north": 0}
    DEPOT.put("a", "s1", 7, at=T0 + timedelta(minutes=5))
    _, sent = cycle(store, T0 + timedelta(minutes=10))
    assert sent == {"a": {"main": 7, "north": 0}, "kit": {"main": 3, "north": 0}}


def test_archived_items_only_with_include_archived(store: Store) -> None:
    DEPOT.put("old", "s1", 3)
    _, sent = cycle(store, T0)
    assert "old" not in sent
    _, sent = cycle(store, T0 + timedelta(minutes=1), {"include_archived": True}, force_full=True)
    assert sent["old"] == {"main": 3, "north": 0}


@pytest.mark.parametrize(
    ("cursor_age", "options", "why"),
    [
        (timedelta(minutes=10), {"measure": "quantity"}, "measure is now quantity"),
        (timedelta(hours=25), {}, "past the source's changed-since window"),
        (timedelta(minutes=10), {"full_every": 600}, "reconciliation due (every 600 s)"),
    ],
)
def test_a_whole_read_when_it_is_due(store: Store, cursor_age: timedelta, options: dict[str, Any], why: str) -> None:
    DEPOT.put("a", "s1", 4, reserve=1, expected=5)
    cycle(store, T0)
    later, sent = cycle(store, T0 + cursor_age, options)
    assert (later.full, later.why) == (True, why)
    if options.get("measure") == "quantity":
        assert sent["a"] == {"main": 8, "north": 0}  # 4 - 1 reserved + 5 expected


def test_sold_out_items_left_untouched_when_asked(store: Store) -> None:
    DEPOT.put("a", "s1", 4)
    cycle(store, T0, {"zero_sold_out": False})
    DEPOT.put("a", "s1", 0, at=T0 + timedelta(minutes=2))
    result, sent = cycle(store, T0 + timedelta(minutes=5), {"zero_sold_out": False})
    assert sent == {} and result.sold_out_untouched == 2  # a, and the kit made of it
    _, sent = cycle(store, T0 + timedelta(minutes=6), force_full=True)
    assert sent["a"] == {"main": 0, "north": 0}  # the default zeroes it


def test_items_the_hub_does_not_know_are_counted_not_sent(store: Store) -> None:
    DEPOT.put("new-in-erp", "s1", 5)
    result, sent = cycle(store, T0)
    cycle(store, T0 + timedelta(minutes=1))
    DEPOT.put("new-in-erp", "s1", 6, at=T0 + timedelta(minutes=2))
    result, sent = cycle(store, T0 + timedelta(minutes=3))
    assert result.not_in_catalog == 1 and "new-in-erp" not in sent


def test_offers_the_channel_refused_wait_for_a_catalog_publication(store: Store) -> None:
    DEPOT.put("a", "s1", 4)
    cycle(store, T0)
    store.snapshots.save("shop", INVENTORIES, {"a": "not-found:17"})  # what a refused batch leaves
    DEPOT.put("a", "s1", 5, at=T0 + timedelta(minutes=1))
    result, sent = cycle(store, T0 + timedelta(minutes=2))
    assert sent == {} and result.unknown_to_channel == 1
