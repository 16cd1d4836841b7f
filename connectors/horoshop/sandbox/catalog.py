"""``catalog/export`` and the reference books (``pages``, ``delivery``, ``payment``, ``currency``).

``catalog/export`` pages by ``offset``/``limit`` with 500 as both default and cap (523 → 500, and
``limit: 0`` returns nothing: D.1); ``expr`` filters by ``parent``/``parent.id``,
``display_in_showcase`` and ``article``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.horoshop.sandbox.orders import Answer, BadRequest, _as_list, _page
from connectors.horoshop.sandbox.state import ShopState
from connectors.horoshop.wire import envelope as wire
from connectors.horoshop.wire.limits import CATALOG_PAGE


def catalog_export(state: ShopState, body: Mapping[str, Any]) -> Answer:
    rows = list(state.products.values())
    expr = body.get("expr") or {}
    if not isinstance(expr, Mapping):
        raise BadRequest("expr must be an object")
    if "article" in expr:
        wanted = {str(a) for a in _as_list(expr["article"])}
        rows = [p for p in rows if p["article"] in wanted]
    parent = expr.get("parent.id", expr.get("parent"))
    if parent is not None:
        parents = {int(p) for p in _as_list(parent)}
        rows = [p for p in rows if p["parent"]["id"] in parents]
    if "display_in_showcase" in expr:
        rows = [p for p in rows if p["display_in_showcase"] == int(expr["display_in_showcase"])]
    page = _page(rows, {"limit": CATALOG_PAGE, **body}, cap=CATALOG_PAGE)
    return {"status": wire.OK, "response": {"products": page}}


def pages_export(state: ShopState, body: Mapping[str, Any]) -> Answer:
    return {"status": wire.OK, "response": {"pages": list(state.pages.values())}}


def delivery_export(state: ShopState, body: Mapping[str, Any]) -> Answer:
    return {"status": wire.OK, "response": {"deliveryTypes": list(state.deliveries.values())}}


def payment_export(state: ShopState, body: Mapping[str, Any]) -> Answer:
    return {"status": wire.OK, "response": {"paymentMethods": list(state.payments.values())}}


def currency_export(state: ShopState, body: Mapping[str, Any]) -> Answer:
    return {"status": wire.OK, "response": {"currencies": state.currencies}}
