"""The stock report read compactly: the client's decoding of the report body gives the same frame
as the rows decoded the usual way, shares one string per id, and takes a broken body for a broken
answer (asked again), never for an empty report."""

from __future__ import annotations

import json

import httpx
import pytest

from connectors.http import MalformedResponseError
from connectors.moysklad.convert import catalog as convert
from connectors.moysklad.wire.stock_levels import parse_levels, stock_levels_body
from tests.connectors.moysklad.conftest import sample


@pytest.mark.parametrize(
    ("name", "measure"), [("stock_bystore_current_freestock.json", "freeStock"), ("stock_all_current.json", "stock")]
)
def test_the_body_decoded_row_by_row_makes_the_frame_the_rows_make(name: str, measure: str) -> None:
    rows = sample(name)
    levels = parse_levels(json.dumps(rows).encode(), measure)
    assert len(levels) == len(rows)
    pd_from_body = convert.stock_levels_to_frame(levels, measure)
    pd_from_rows = convert.stock_to_frame(rows, measure)
    assert pd_from_body.equals(pd_from_rows)
    assert list(pd_from_body.dtypes) == list(pd_from_rows.dtypes)


def test_ids_are_shared_and_absent_quantities_are_nan() -> None:
    body = (
        b'[{"assortmentId":"a","storeId":"s","stock":2},{"assortmentId":"a","storeId":"t"},'
        b'{"assortmentId":"b","storeId":"s","stock":-1.5}]'
    )
    levels = parse_levels(body, "stock")
    assert levels.items == ["a", "a", "b"] and levels.items[0] is levels.items[1]
    assert levels.stores[0] is levels.stores[2]
    assert levels.values[0] == 2.0 and levels.values[1] != levels.values[1] and levels.values[2] == -1.5
    assert convert.stock_levels_to_frame(parse_levels(b"[]", "stock"), "stock").empty


@pytest.mark.parametrize(
    "body",
    [
        b'[{"assortmentId":"a","stock":1},{"assortmentId"',
        b'{"rows":[]}',
        b'[{"storeId":"s","stock":1}]',
        b"[1, 2]",
        b"<html>",
    ],
)
def test_a_broken_body_is_a_malformed_answer(body: bytes) -> None:
    response = httpx.Response(200, content=body)
    with pytest.raises(MalformedResponseError, match="stock report"):
        stock_levels_body(response, "/report/stock/bystore/current", "stock")
