"""``orders/get``, ``orders/get_available_statuses``, ``orders/update`` as the shop answers them.

Rules (crm.md D): ``from``/``to`` inclusive, as ``YYYY-MM-DD`` or ``DD.MM.YYYY`` with an optional
time; ``ids``; ``status`` (one or a list); ``offset`` ignored unless ``limit`` is sent; nothing found
is ``EMPTY``. ``orders/update`` applies each order on its own and answers ``WARNING`` with a
per-order log when any is refused; a cancelled order (status 4) is read-only (D.1).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from connectors.horoshop.sandbox.state import ShopState
from connectors.horoshop.wire import envelope as wire
from connectors.horoshop.wire.limits import READ_ONLY_STATUS
from connectors.horoshop.wire.shop_time import from_wire

Answer = dict[str, Any]


class BadRequest(Exception):
    """A request the shop refuses as a whole (``ERROR`` under HTTP 200)."""


def _moment(value: Any, state: ShopState, *, end: bool) -> datetime:
    text = str(value).strip()
    found = from_wire(text, state.timezone)
    if found is None:
        raise BadRequest(f"wrong date format: {text!r} (YYYY-MM-DD or DD.MM.YYYY, optionally with HH:mm:ss)")
    if end and len(text) <= 10:  # a bare date is inclusive: the whole day
        found += timedelta(hours=23, minutes=59, seconds=59)
    return found


def _page(rows: list[Answer], body: Mapping[str, Any], cap: int | None = None) -> list[Answer]:
    if "limit" not in body:
        return rows  # offset alone is ignored (the doc)
    try:
        limit, offset = int(body["limit"]), int(body.get("offset") or 0)
    except (TypeError, ValueError) as exc:
        raise BadRequest("offset and limit must be integers") from exc
    if limit <= 0:
        return []
    if cap is not None:
        limit = min(limit, cap)
    return rows[max(offset, 0) : max(offset, 0) + limit]


def orders_get(state: ShopState, body: Mapping[str, Any]) -> Answer:
    rows = sorted(state.orders.values(), key=lambda o: o["order_id"])
    if body.get("from") or body.get("to"):
        start = _moment(body["from"], state, end=False) if body.get("from") else None
        stop = _moment(body["to"], state, end=True) if body.get("to") else None
        rows = [o for o in rows if _within(from_wire(o["stat_created"], state.timezone), start, stop)]
    if body.get("ids"):
        wanted = {int(i) for i in _as_list(body["ids"])}
        rows = [o for o in rows if o["order_id"] in wanted]
    if body.get("status") not in (None, "", []):
        statuses = {int(s) for s in _as_list(body["status"])}
        rows = [o for o in rows if o["stat_status"] in statuses]
    rows = _page(rows, body)
    if not rows:
        return {"status": wire.EMPTY, "response": {"message": "Orders not found"}}
    return {"status": wire.OK, "response": {"orders": [_shown(o, bool(body.get("additionalData"))) for o in rows]}}


def _within(moment: datetime | None, start: datetime | None, stop: datetime | None) -> bool:
    return moment is not None and (start is None or moment >= start) and (stop is None or moment <= stop)


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _shown(order: Answer, additional: bool) -> Answer:
    shown = {k: v for k, v in order.items() if not k.startswith("_")}
    if not additional:
        shown.pop("delivery_data", None)
    return shown


def available_statuses(state: ShopState, body: Mapping[str, Any]) -> Answer:
    return {"status": wire.OK, "response": {"statuses": list(state.statuses.values())}}


def orders_update(state: ShopState, body: Mapping[str, Any]) -> Answer:
    changes = body.get("orders")
    if not isinstance(changes, list) or not changes:
        raise BadRequest("orders must be a non-empty array")
    log: list[Answer] = []
    for change in changes:
        log.append(_update_one(state, change))
    failed = any(entry["code"] != "OK" for entry in log)
    return {"status": wire.WARNING if failed else wire.OK, "response": {"log": log}}


def _update_one(state: ShopState, change: Any) -> Answer:
    if not isinstance(change, Mapping) or "order_id" not in change:
        return {"order_id": None, "code": "ERROR", "message": "order_id is required"}
    try:
        order_id = int(change["order_id"])
    except (TypeError, ValueError):
        return {"order_id": change["order_id"], "code": "ERROR", "message": "order_id must be an integer"}
    order = state.orders.get(order_id)
    if order is None:
        return {"order_id": order_id, "code": "NOT_FOUND", "message": "no such order"}
    if order["stat_status"] == READ_ONLY_STATUS:
        return {"order_id": order_id, "code": "ERROR", "message": "the order is cancelled and read-only"}
    if "status" in change:
        try:
            status = int(change["status"])
        except (TypeError, ValueError):
            status = -1
        if status not in state.statuses:
            return {"order_id": order_id, "code": "ERROR", "message": f"unknown status {change['status']!r}"}
        if status != order["stat_status"]:
            order["stat_status"] = status
            state.notifications.append((order_id, status))
    if "payed" in change:
        order["payed"] = 1 if str(change["payed"]) in ("1", "true", "True") else 0
    for key in ("own_tracking_code", "tracking_code"):
        if key in change:
            order.setdefault("delivery_data", {})["tnNumber"] = str(change[key])
    return {"order_id": order_id, "code": "OK", "message": "UPDATED"}
