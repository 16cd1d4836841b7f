"""The current-stock report read compactly: ``report/stock/{all,bystore}/current`` as level tuples.

The report is one unpaged array, a row per (item, store) with one measure — 225 000 rows for a
100 000-item catalog over ten stores. Decoded as usual, every row is a dict with its own copy of
both ids (about 400 bytes a row, some 90 MB, most of which the allocator keeps after the rows are
dropped); the catalog pass that follows then starts from there. Here the decoder hands each row
to a hook as soon as it is read, which appends it to three columns — one shared string per distinct
id, the quantity as 8 bytes — so the dicts never pile up.
"""

from __future__ import annotations

import json
import math
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from connectors.http import MalformedResponseError, endpoint_name

__all__ = ["StockLevels", "levels_of", "parse_levels", "stock_levels_body"]


@dataclass
class StockLevels:
    """A report's rows as three columns: item ids and store ids (one shared string per distinct id;
    the store None in the all-stores report) and quantities (8 bytes each; NaN when absent)."""

    items: list[str] = field(default_factory=list)
    stores: list[str | None] = field(default_factory=list)
    values: array[float] = field(default_factory=lambda: array("d"))
    _ids: dict[Any, Any] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.items)

    def add(self, row: Mapping[str, Any], measure: str) -> None:
        item, store, value = row["assortmentId"], row.get("storeId"), row.get(measure)
        self.items.append(self._ids.setdefault(item, item))
        self.stores.append(self._ids.setdefault(store, store))
        self.values.append(math.nan if value is None else float(value))


def levels_of(rows: Iterable[Mapping[str, Any]], measure: str) -> StockLevels:
    """Rows already decoded (samples, tests, another reader) as levels, ids shared the same way."""
    levels = StockLevels()
    for row in rows:
        levels.add(row, measure)
    return levels


def parse_levels(body: bytes | str, measure: str) -> StockLevels:
    """Decode a report body into levels, a row at a time (no row outlives its own decoding).

    Raises:
        ValueError: not JSON, not an array, or a row without its ``assortmentId``.
    """
    levels = StockLevels()

    def hook(row: dict[str, Any]) -> None:
        if "assortmentId" not in row:
            raise ValueError(f"a stock report row without assortmentId: {sorted(row)[:5]}")
        levels.add(row, measure)

    decoded = json.loads(body, object_hook=hook)
    if not isinstance(decoded, list) or len(decoded) != len(levels):
        raise ValueError("a stock report is an array of rows")
    return levels


def stock_levels_body(response: httpx.Response, path: str, measure: str) -> StockLevels:
    """The levels of a report answer to ``path``.

    Raises:
        MalformedResponseError: the body is not a whole report (the request is then asked again).
    """
    try:
        return parse_levels(response.content, measure)
    except ValueError as exc:
        raise MalformedResponseError(
            "moysklad",
            endpoint_name(path),
            response.status_code,
            f"the stock report is not a JSON array of rows ({len(response.content)} bytes): {exc}",
        ) from None
