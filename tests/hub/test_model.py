"""Canonical frames built from rows: any iterable of rows, unknown columns refused, empty stays typed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hub import model


def test_rows_from_a_generator_make_the_same_frame_as_a_list() -> None:
    rows: list[dict[str, object]] = [
        {"offer_id": "a", "store_id": "s1", "available": 2.0, "stock_type": "stock"},
        {"offer_id": "b", "available": None},
    ]

    def generated() -> Iterator[dict[str, object]]:
        yield from rows

    built = model.frame("stock", generated())
    assert built.equals(model.frame("stock", rows))
    assert list(built.columns) == list(model.FRAMES["stock"])
    assert built["store_id"].isna().tolist() == [False, True]
    assert str(built["available"].dtype) == "float64"


def test_a_row_with_an_unknown_column_is_refused_whatever_its_place() -> None:
    rows = [{"offer_id": "a"}, {"offer_id": "b", "warehouse": "x"}]
    with pytest.raises(model.FrameContractError, match="warehouse"):
        model.frame("stock", iter(rows))


def test_no_rows_give_the_empty_typed_frame() -> None:
    built = model.frame("prices", iter(()))
    assert built.empty
    assert dict(built.dtypes.astype(str)) == dict(model.empty_frame("prices").dtypes.astype(str))
