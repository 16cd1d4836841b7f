"""Snapshots and staged records let flows send only what changed."""

from __future__ import annotations

import json

import pandas as pd
from sqlalchemy import event

from hub.model import frame
from hub.store import Store, open_store


def test_snapshot_save_overwrites_and_reads_back_selected_keys(store: Store) -> None:
    store.snapshots.save("shop", "stock", {"a": "1", "b": "2"})
    store.snapshots.save("shop", "stock", {"b": "3", "c": "4"})
    assert store.snapshots.hashes("shop", "stock") == {"a": "1", "b": "3", "c": "4"}
    assert store.snapshots.hashes("shop", "stock", ["a", "zz"]) == {"a": "1"}
    assert store.snapshots.delete("shop", "stock", ["a", "zz"]) == 1
    assert store.snapshots.hashes("shop", "prices") == {}


def test_snapshots_handle_a_hundred_thousand_keys_in_bulk_statements(store: Store) -> None:
    """100 000 keys are saved, saved again and read back in a few dozen statements, not one per key
    (what the time depends on; a wall-clock bound here failed at 20.4 s on a loaded machine)."""
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    hashes = {f"offer-{i}": f"{i:040x}" for i in range(100_000)}
    event.listen(store.db.engine, "before_cursor_execute", count)
    try:
        store.snapshots.save("shop", "stock", hashes)
        store.snapshots.save("shop", "stock", hashes)
        assert store.snapshots.hashes("shop", "stock") == hashes
    finally:
        event.remove(store.db.engine, "before_cursor_execute", count)
    assert 0 < len(statements) <= 100_000 // 500, f"{len(statements)} statements for 100 000 keys twice"


def _stock(rows: list[dict[str, object]]) -> pd.DataFrame:
    return frame("stock", rows)


def test_upsert_frame_counts_and_skips_unchanged_rows(store: Store, clock: object) -> None:
    rows: list[dict[str, object]] = [
        {"offer_id": "a", "store_id": "s1", "available": 3.0, "stock_type": "stock"},
        {"offer_id": "b", "store_id": None, "available": None, "stock_type": "stock"},
    ]
    first = store.records.upsert_frame("shop", "stock", "moysklad", _stock(rows), "offer_id")
    assert first[:3] == (2, 0, 0) and sorted(first.changed_keys) == ["a", "b"]
    hashes = store.records.hashes("shop", "stock")
    rows[0]["available"] = 4.0
    rows.append({"offer_id": "c", "store_id": "s1", "available": 1.0, "stock_type": "stock"})
    counts = store.records.upsert_frame("shop", "stock", "moysklad", _stock(rows), "offer_id")
    assert (counts.inserted, counts.updated, counts.unchanged) == (1, 1, 1)
    assert store.records.hashes("shop", "stock")["b"] == hashes["b"]
    assert store.records.count("shop", "stock") == 3
    assert store.records.delete_missing("shop", "stock", ["a", "c"]) == ["b"]
    assert store.records.count("shop", "stock") == 2


def test_frames_round_trip_with_nulls_ints_and_utc_timestamps(store: Store) -> None:
    orders = frame(
        "orders",
        [
            {"order_id": "1", "number": "A-1", "total": 123456, "created_at": "2026-03-01T10:00:00+03:00"},
            {"order_id": "2", "number": "A-2", "total": None, "created_at": None},
        ],
    )
    store.records.upsert_frame("shop", "orders", "retailcrm", orders, "order_id")
    back = store.records.frame("shop", "orders")
    pd.testing.assert_frame_equal(back, orders)
    with store.engine.connect() as conn:
        data = conn.exec_driver_sql("SELECT data FROM records WHERE key = '1'").scalar_one()
    stored = json.loads(data)
    assert stored["created_at"] == "2026-03-01T07:00:00+00:00" and stored["total"] == 123456
    assert stored["currency"] is None


def test_timestamps_of_mixed_precision_read_back(store: Store) -> None:
    offers = frame(
        "offers",
        [
            {"offer_id": "a", "updated_at": "2026-11-22T11:01:38+00:00"},
            {"offer_id": "b", "updated_at": "2026-11-22T11:01:38.236+00:00"},
        ],
    )
    store.records.upsert_frame("shop", "offers", "moysklad", offers, "offer_id")
    for back in (store.records.frame("shop", "offers"), *store.records.iter_frames("shop", "offers", rows=5)):
        pd.testing.assert_frame_equal(back, offers)


def test_non_canonical_kinds_are_staged_as_plain_frames(store: Store) -> None:
    df = pd.DataFrame({"sku": ["x", "y"], "qty": [1, 2]})
    store.records.upsert_frame("shop", "feed_items", "horoshop", df, "sku")
    pd.testing.assert_frame_equal(store.records.frame("shop", "feed_items"), df)
    assert store.records.frame("shop", "offers").empty


def test_composite_keys_changed_keys_and_dry_run_changes(store: Store) -> None:
    prices = frame(
        "prices",
        [
            {"offer_id": "o1", "price_type_id": "base", "amount": 100, "currency_id": "rub"},
            {"offer_id": "o1", "price_type_id": "sale", "amount": 90, "currency_id": "rub"},
        ],
    )
    first = store.records.upsert_frame("i", "prices", "moysklad", prices, ["offer_id", "price_type_id"])
    assert sorted(first.changed_keys) == ["o1|base", "o1|sale"]
    moved = prices.copy()
    moved.loc[1, "amount"] = 80
    assert store.records.changed("i", "prices", moved, ["offer_id", "price_type_id"]) == ["o1|sale"]
    second = store.records.upsert_frame("i", "prices", "moysklad", moved, ["offer_id", "price_type_id"])
    assert second.changed_keys == ("o1|sale",) and second.unchanged == 1
    assert len(store.records.frame("i", "prices")) == 2


def _prices(offers: int, types: tuple[str, ...] = ("base", "sale")) -> pd.DataFrame:
    return frame(
        "prices",
        [
            {"offer_id": f"o{i:03d}", "price_type_id": t, "amount": i * 100 + n, "currency_id": "rub"}
            for i in range(offers)
            for n, t in enumerate(types)
        ],
    )


def test_slices_by_key_and_by_parent_read_only_what_is_asked(store: Store) -> None:
    offers = frame("offers", [{"offer_id": f"o{i:03d}", "name": f"n{i}"} for i in range(30)])
    store.records.upsert_frame("i", "offers", "moysklad", offers, "offer_id")
    store.records.upsert_frame("i", "prices", "moysklad", _prices(30), ["offer_id", "price_type_id"])
    store.records.upsert_frame("other", "prices", "moysklad", _prices(3), ["offer_id", "price_type_id"])

    some = store.records.frame("i", "offers", keys=["o007", "o002", "nope"])
    assert some["offer_id"].tolist() == ["o002", "o007"]
    theirs = store.records.frame("i", "prices", parents=["o005", "o001"])
    assert list(zip(theirs["offer_id"], theirs["price_type_id"], strict=True)) == [
        ("o001", "base"),
        ("o001", "sale"),
        ("o005", "base"),
        ("o005", "sale"),
    ]
    assert store.records.frame("i", "prices", parents=[]).empty
    assert list(store.records.frame("i", "prices", parents=["o001"]).columns) == list(_prices(1).columns)


def test_delete_by_keys_and_by_parents(store: Store) -> None:
    store.records.upsert_frame("i", "prices", "moysklad", _prices(5), ["offer_id", "price_type_id"])
    assert store.records.delete("i", "prices", parents=["o001", "o003", "o001"]) == 4
    assert store.records.delete("i", "prices", keys=["o000|base"]) == 1
    left = store.records.frame("i", "prices")
    assert sorted(set(left["offer_id"])) == ["o000", "o002", "o004"] and len(left) == 5


def test_iter_frames_pages_through_a_kind_in_key_order(store: Store) -> None:
    store.records.upsert_frame("i", "prices", "moysklad", _prices(30), ["offer_id", "price_type_id"])
    pages = list(store.records.iter_frames("i", "prices", rows=7))
    assert [len(p) for p in pages] == [7] * 8 + [4]
    whole = pd.concat(pages, ignore_index=True)
    pd.testing.assert_frame_equal(whole, store.records.frame("i", "prices"))
    assert list(store.records.iter_frames("i", "offers", rows=7)) == []
    assert [len(p) for p in store.records.iter_frames("i", "prices", rows=60)] == [60]


def test_parent_keys_follow_updates_and_are_backfilled_by_the_migration(store_url: str) -> None:
    old = open_store(store_url, upgrade=False)
    try:
        old.upgrade("0001")
        with old.engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO records (integration, kind, key, system, data, hash, seen_at) VALUES "
                "('i', 'prices', 'o1|base', 'moysklad', '{\"offer_id\": \"o1\", \"price_type_id\": \"base\"}', "
                "'h', '2026-11-01 00:00:00+00:00'), "
                "('i', 'offers', 'o1', 'moysklad', '{\"offer_id\": \"o1\"}', 'h', '2026-11-01 00:00:00+00:00')"
            )
        old.upgrade()
        assert old.records.frame("i", "prices", parents=["o1"])["price_type_id"].tolist() == ["base"]
        assert old.records.frame("i", "offers", parents=["o1"]).empty  # single keys have no parent
    finally:
        old.close()


def test_release_gives_back_claims_of_a_killed_run(store: Store) -> None:
    for key in ("a", "b"):
        store.queue.enqueue("i", "inventories", key, {"n": key})
    store.queue.enqueue("other", "inventories", "c", {"n": "c"})
    store.queue.claim(integration="i", kind="inventories", limit=2, worker="dead-run")
    store.queue.claim(integration="other", kind="inventories", limit=1, worker="live-run")
    assert store.queue.claim(integration="i", kind="inventories") == []
    assert store.queue.release(integration="i", kind="inventories") == 2
    again = store.queue.claim(integration="i", kind="inventories", limit=5, worker="new-run")
    assert [item.attempts for item in again] == [0, 0] and len(again) == 2
    assert store.queue.counts("other")["in_progress"] == 1


def test_keys_by_field_finds_rows_by_a_json_field_in_the_database(store: Store) -> None:
    rows = [
        {"offer_id": f"o{i}", "product_id": f"p{i}", "kind": "product", "article": f"A{i % 5}", "code": f"C{i}"}
        for i in range(12)
    ]
    store.records.upsert_frame("shop", "offers", "moysklad", frame("offers", rows), "offer_id")
    # A1 is held by o1, o11 and o6: the last in key order, as a dict over the whole kind has it
    assert store.records.keys_by_field("shop", "offers", "article", ["A1", "A4", "nope"]) == {"A1": "o6", "A4": "o9"}
    assert store.records.keys_by_field("shop", "offers", "code", ["C3"]) == {"C3": "o3"}
    assert store.records.keys_by_field("other", "offers", "code", ["C3"]) == {}
