"""Stock between canonical frames and keyCRM: ``PUT /offers/stocks`` items, ``GET /offers/stocks`` rows
and the stock webhook's array.

An upload entry is one offer with every mapped warehouse (the publish pipeline diffs and batches
per offer); the sink splits a batch into one request per keyCRM warehouse, since a request carries
one ``warehouse_id`` [spec]. Offers are named by SKU (keyCRM's ``sku`` = the stock system's article
or code, as configured): keyCRM matches systems by SKU [help.keycrm.app], and the hub never learns
keyCRM offer ids it would need otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from hub.capabilities import Entry
from hub.model import frame


def stock_entries(stock: pd.DataFrame, keys: Mapping[str, str], warehouses: Mapping[str, int]) -> list[Entry]:
    """Canonical ``stock`` (``store_id`` = warehouse code of the config) → one entry per offer:
    ``{"offer": source id, "sku": its SKU, "warehouses": {keyCRM warehouse id: quantity}}``.

    Offers without a SKU (``keys`` lacks them) cannot be named to keyCRM and are left out; codes
    with no keyCRM id in ``warehouses`` likewise (the mapping check reports both before a run).
    Quantities are whole (keyCRM counts pieces [inferred]): floored, never negative.
    """
    per_offer: dict[str, dict[str, int]] = {}
    for offer, code, qty in zip(stock["offer_id"], stock["store_id"], stock["available"], strict=True):
        if pd.isna(offer) or pd.isna(code) or str(code) not in warehouses or not keys.get(str(offer)):
            continue
        target = per_offer.setdefault(str(offer), {})
        wid = str(warehouses[str(code)])
        target[wid] = target.get(wid, 0) + max(0, math.floor(float(qty) if not pd.isna(qty) else 0.0))
    return [
        {"offer": offer, "sku": keys[offer], "warehouses": dict(sorted(by_wh.items()))}
        for offer, by_wh in per_offer.items()
    ]


def stock_requests(entries: Sequence[Entry]) -> dict[int, list[dict[str, Any]]]:
    """Entries → ``{warehouse_id: [{"sku", "quantity"}]}``: one ``PUT /offers/stocks`` body per warehouse."""
    out: dict[int, list[dict[str, Any]]] = {}
    for entry in entries:
        for wid, qty in entry["warehouses"].items():
            out.setdefault(int(wid), []).append({"sku": entry["sku"], "quantity": qty})
    return out


def stock_from_keycrm(rows: Iterable[Mapping[str, Any]], measure: str = "stock") -> pd.DataFrame:
    """``GET /offers/stocks`` rows → canonical ``stock`` by keyCRM warehouse id, offer = SKU.

    With ``filter[details]=true`` a row lists ``warehouse[]``; a live account answered totals only
    (C.7): such a row becomes one row with no ``store_id``. ``measure`` ``freeStock`` subtracts the
    reserve, as keyCRM shows "available" (``in_stock - in_reserve``).
    """
    out: list[dict[str, Any]] = []
    for row in rows:
        sku = row.get("sku")
        if not sku:
            continue
        places = row.get("warehouse")
        parts = places if isinstance(places, list) and places else [dict(row, id=None)]
        for place in parts:
            qty = float(place.get("quantity") or 0)
            if measure == "freeStock":
                qty -= float(place.get("reserve") or 0)
            store = place.get("id")
            out.append(
                {
                    "offer_id": str(sku),
                    "store_id": None if store is None else str(store),
                    "available": qty,
                    "stock_type": measure,
                }
            )
    return frame("stock", out)


def webhook_levels(body: Any) -> dict[str, tuple[float, float]]:
    """The stock webhook's array ``[{offer_id, sku, in_stock, in_reserve}]`` → SKU → (in stock, reserved).

    Raises:
        ValueError: the body is not that array.
    """
    if not isinstance(body, list):
        raise ValueError("a keyCRM stock webhook posts a JSON array of {offer_id, sku, in_stock, in_reserve}")
    out: dict[str, tuple[float, float]] = {}
    for item in body:
        if not isinstance(item, Mapping) or "in_stock" not in item:
            raise ValueError("each item needs offer_id, sku, in_stock and in_reserve")
        key = item.get("sku") or item.get("offer_id")
        if not isinstance(key, str | int) or isinstance(key, bool):
            raise ValueError("an item names no offer: sku (or offer_id) must be a text or a number")
        out[str(key)] = (_number(item.get("in_stock"), "in_stock"), _number(item.get("in_reserve"), "in_reserve"))
    return out


def _number(value: Any, name: str) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{name} must be a number")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{name} must be a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(f"{name} must be a finite number")
    return number
