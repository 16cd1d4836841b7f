"""The stock report indexed by offer: each offer's rows in the report's order, offers as asked."""

from __future__ import annotations

from hub import model
from tasks.catalog.entries import StockByOffer


def _report() -> StockByOffer:
    rows = [("b", "s1", 1.0), ("a", "s1", 2.0), (None, "s1", 3.0), ("b", "s2", 4.0), ("c", "s1", 5.0), ("a", "s2", 6.0)]
    return StockByOffer(
        model.frame(
            "stock", [{"offer_id": o, "store_id": s, "available": q, "stock_type": "stock"} for o, s, q in rows]
        )
    )


def test_rows_of_the_asked_offers_each_once_in_the_order_asked() -> None:
    found = _report().rows(["b", "missing", "a", "b"])
    assert list(zip(found["offer_id"], found["store_id"], found["available"], strict=True)) == [
        ("b", "s1", 1.0),
        ("b", "s2", 4.0),
        ("a", "s1", 2.0),
        ("a", "s2", 6.0),
    ]


def test_no_rows_for_unknown_offers_none_asked_or_an_empty_report() -> None:
    assert _report().rows(["missing"]).empty
    assert _report().rows([]).empty
    empty = StockByOffer(model.empty_frame("stock")).rows(["a"])
    assert empty.empty and list(empty.columns) == list(model.FRAMES["stock"])
