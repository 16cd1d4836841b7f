"""The publication pass reads the staged catalog slice by slice and gives what one whole read gives.

Slicing must change nothing a merchant or the CRM sees: the same feed bytes, the same entries in
the same order, and no extra upload request (a changed entry waits for a full batch across slices).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pandas as pd

from hub import model
from tasks.catalog.feed import content_digest
from tasks.catalog.publication import Publication, publish_catalog
from tasks.catalog.run import CatalogRun
from tasks.mapping_check import CatalogMappings
from tasks.publish import INVENTORIES, PRICES
from tests.tasks.conftest import BATCH

MAPPINGS = CatalogMappings(
    store_map={"s1": "msk", "s2": "msk", "s3": "spb"},
    price_type_map={"pt1": "base", "pt2": "wholesale"},
    feed_price_type_id="pt1",
)


def _stock() -> pd.DataFrame:
    rows = [
        {"offer_id": f"p{i:02d}", "store_id": store, "available": float(i + n), "stock_type": "freeStock"}
        for i in range(0, 23, 2)
        for n, store in enumerate(("s1", "s2", "s3", "s4"))
    ]
    rows.append({"offer_id": "p07-v2", "store_id": "s3", "available": 4.0, "stock_type": "freeStock"})
    return model.frame("stock", rows)


def _queued(run: CatalogRun, stream: str) -> list[list[dict[str, Any]]]:
    items = run.store.queue.claim(integration="shop", kind=stream, limit=1000, worker="test")
    return [item.payload["entries"] for item in items]


def _publish(run: CatalogRun, slice_rows: int) -> Publication:
    return publish_catalog.fn(run, _stock(), MAPPINGS, slice_rows=slice_rows)


def test_slices_give_the_same_feed_and_entries_as_one_read_without_extra_batches(make_run: Any) -> None:
    whole_run, sliced_run = make_run("whole"), make_run("sliced")
    whole, sliced = _publish(whole_run, 10_000), _publish(sliced_run, 4)

    assert whole.feed.offers == sliced.feed.offers == 23  # 22 live offers + 2 variants - the archived one
    assert content_digest(whole.feed.path) == content_digest(sliced.feed.path)
    sent: dict[str, list[str]] = {}
    for stream in (INVENTORIES, PRICES):
        assert whole.planned[stream] == sliced.planned[stream]
        batches = _queued(sliced_run, stream)
        assert [e for b in batches for e in b] == [e for b in _queued(whole_run, stream) for e in b]
        # slicing costs no request: only the last batch may be short
        assert len(batches) == math.ceil(sliced.planned[stream].changed / BATCH)
        assert all(len(b) == BATCH for b in batches[:-1])
        sent[stream] = [e["xmlId"] for b in batches for e in b]
    assert "p03" in sent[PRICES] and "p03" not in sent[INVENTORIES]  # a service has prices, no stock
    assert "p05" not in sent[PRICES] + sent[INVENTORIES]  # archived
    assert {"p07-v1", "p07-v2"} <= set(sent[INVENTORIES]) and "p07" not in sent[INVENTORIES]


def test_unmoved_offers_get_an_explicit_zero_and_stores_are_summed(make_run: Any) -> None:
    run = make_run("zeros")
    _publish(run, 3)
    by_offer = {
        e["xmlId"]: {s["code"]: s["available"] for s in e["stores"]}
        for batch in _queued(run, INVENTORIES)
        for e in batch
    }
    assert by_offer["p02"] == {"msk": 2 + 3, "spb": 4}  # s1 + s2 summed; s4 unmapped
    assert by_offer["p01"] == {"msk": 0, "spb": 0}  # never moved: absent from the report
    assert by_offer["p07-v2"] == {"msk": 0, "spb": 4}


def test_after_everything_was_sent_a_pass_queues_only_what_changed(make_run: Any) -> None:
    run = make_run("resend")
    _publish(run, 4)
    for stream in (INVENTORIES, PRICES):
        for item in run.store.queue.claim(integration="shop", kind=stream, limit=1000, worker="test"):
            run.store.snapshots.save("shop", stream, item.payload["hashes"])
            run.store.queue.complete(item.id)
    again = _publish(run, 4)
    assert again.planned[INVENTORIES].batches == again.planned[PRICES].batches == 0
    assert not again.feed.changed

    prices = run.store.records.frame("shop", "prices", parents=["p11"])
    prices.loc[prices["price_type_id"] == "pt2", "amount"] = 1
    run.store.records.upsert_frame("shop", "prices", "moysklad", prices, ["offer_id", "price_type_id"])
    moved = _publish(run, 4)
    assert moved.planned[PRICES].changed == 1 and moved.planned[INVENTORIES].changed == 0
    assert [[e["xmlId"] for e in b] for b in _queued(run, PRICES)] == [["p11"]]
    assert not moved.feed.changed  # the feed shows the base price only


def test_purchase_prices_are_in_the_feed_unless_the_option_keeps_them_out(make_run: Any) -> None:
    with_costs = _publish(make_run("costs"), 100)
    run = make_run("no-costs")
    feed = run.integ.options.feed.model_copy(update={"purchase_prices": False})
    options = run.integ.options.model_copy(update={"feed": feed})
    private = dataclasses.replace(run, integ=run.integ.model_copy(update={"options": options}))
    without = _publish(private, 100)

    assert with_costs.feed.path.read_text(encoding="utf-8").count("<purchasePrice>") == 8  # every third offer
    text = without.feed.path.read_text(encoding="utf-8")
    assert "<purchasePrice>" not in text and without.feed.offers == with_costs.feed.offers == 23
    assert text.count("<price>") == with_costs.feed.path.read_text(encoding="utf-8").count("<price>") > 0
