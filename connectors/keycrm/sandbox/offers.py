"""Offers and stock: ``GET /offers``, ``GET /offers/stocks``, ``PUT /offers/stocks`` (202, applied later).

A stock write is validated at once (Laravel 422 naming ``stocks.N.*`` [inferred]) and applied after
``apply_delay`` seconds as a movement to the absolute quantity [spec]; applying fires the stock
webhook for the offers whose stock changed — the hub's own writes included, as keyCRM does [help].
"""

from __future__ import annotations

from typing import Any

from connectors.keycrm.sandbox.pages import page_of
from connectors.keycrm.sandbox.state import Json, KeyState, PendingWrite
from connectors.keycrm.sandbox.wire import Call, invalid
from connectors.keycrm.wire.conventions import STOCK_BATCH


def _ids(text: str | None) -> set[str] | None:
    return None if text is None else {p.strip() for p in text.split(",") if p.strip()}


def _offers(state: KeyState, call: Call) -> list[Json]:
    ids, skus = (
        _ids(call.filter("id") or call.filter("offers_id")),
        _ids(call.filter("sku") or call.filter("offers_sku")),
    )
    product = call.filter("product_id")
    return [
        o
        for oid, o in sorted(state.offers.items())
        if (ids is None or str(oid) in ids)
        and (skus is None or str(o.get("sku")) in skus)
        and (product is None or str(o["product_id"]) == product)
    ]


def list_offers(state: KeyState, call: Call) -> tuple[int, Any]:
    rows = _offers(state, call)
    if "product" in call.includes():
        rows = [{**o, "product": state.products.get(o["product_id"])} for o in rows]
    return 200, page_of(call, rows)


def list_stocks(state: KeyState, call: Call) -> tuple[int, Any]:
    details = call.filter("details") in ("true", "1") and not state.totals_only
    rows = []
    for offer in _offers(state, call):
        stock, reserve = state.totals(offer["id"])
        row: Json = {
            "id": offer["id"],
            "sku": offer.get("sku"),
            "price": offer.get("price"),
            "purchased_price": offer.get("purchased_price"),
            "quantity": stock,
            "reserve": reserve,
        }
        if details:
            row["warehouse"] = [
                {"id": wid, "name": name, "quantity": q[0], "reserve": q[1]}
                for wid, name in state.warehouses.items()
                if (q := state.stock.get((offer["id"], wid))) is not None
            ]
        rows.append(row)
    return 200, page_of(call, rows)


def put_stocks(state: KeyState, call: Call) -> tuple[int, Any]:
    body = call.body if isinstance(call.body, dict) else {}
    errors: dict[str, list[str]] = {}
    wid = body.get("warehouse_id")
    if wid is None:
        errors["warehouse_id"] = ["The warehouse id field is required."]
    elif not isinstance(wid, int) or wid not in state.warehouses:
        errors["warehouse_id"] = ["The selected warehouse id is invalid."]
    stocks = body.get("stocks")
    if not isinstance(stocks, list) or not stocks:
        errors["stocks"] = ["The stocks field is required."]
        stocks = []
    elif len(stocks) > STOCK_BATCH:
        errors["stocks"] = [f"The stocks may not have more than {STOCK_BATCH} items."]
    items: list[Json] = []
    for n, item in enumerate(stocks[:STOCK_BATCH]):
        if not isinstance(item, dict):
            errors[f"stocks.{n}"] = [f"The stocks.{n} must be an object."]
            continue
        quantity = item.get("quantity")
        if not isinstance(quantity, int | float) or isinstance(quantity, bool):
            errors[f"stocks.{n}.quantity"] = [f"The stocks.{n}.quantity field is required."]
        offer = state.offers.get(item["id"]) if isinstance(item.get("id"), int) else None
        if offer is None and item.get("sku") is not None:
            offer = state.offer_by_sku(str(item["sku"]))
        if offer is None:
            which = "id" if item.get("id") is not None and item.get("sku") is None else "sku"
            errors[f"stocks.{n}.{which}"] = [f"The selected stocks.{n}.{which} is invalid."]
            continue
        items.append({"offer_id": offer["id"], "quantity": quantity})
    if errors:
        raise invalid(errors)
    assert isinstance(wid, int)
    state.pending.append(PendingWrite(state.clock() + state.apply_delay, wid, items))
    return 202, {"status": True}


def apply_due(state: KeyState) -> list[Json]:
    """Apply the stock writes that are due; the stock webhook's items for the offers that changed."""
    now, changed = state.clock(), set[int]()
    due = [w for w in state.pending if w.due <= now]
    state.pending = [w for w in state.pending if w.due > now]
    for write in due:
        for item in write.items:
            level = state.stock.setdefault((item["offer_id"], write.warehouse_id), [0.0, 0.0])
            if level[0] != float(item["quantity"]):
                level[0] = float(item["quantity"])
                changed.add(item["offer_id"])
    return [stock_item(state, oid) for oid in sorted(changed)]


def stock_item(state: KeyState, offer_id: int) -> Json:
    """One item of the stock webhook's array [help: offer_id, sku, in_stock, in_reserve]."""
    stock, reserve = state.totals(offer_id)
    return {"offer_id": offer_id, "sku": state.offers[offer_id].get("sku"), "in_stock": stock, "in_reserve": reserve}
