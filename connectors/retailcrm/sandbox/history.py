"""``/orders/history`` and ``/customers/history``: records after ``sinceId``, ascending, as the reader sees them."""

from __future__ import annotations

from typing import Any

from connectors.retailcrm.sandbox.state import CrmState, now_local
from connectors.retailcrm.sandbox.wire import Call, paginate

Reply = tuple[int, dict[str, Any]]


def history_page(state: CrmState, call: Call, log_name: str, entity: str) -> Reply:
    """``/orders/history`` and ``/customers/history``: records with ``id > sinceId``, ascending."""
    limit, page = call.page()
    flt = call.filters()
    log = state.history if log_name == "orders" else state.customer_history
    records = log
    if flt.get("sinceId") not in (None, ""):
        since = int(flt["sinceId"])
        # ids are increasing: binary search keeps sinceId paging cheap on big histories
        lo, hi = 0, len(records)
        while lo < hi:
            mid = (lo + hi) // 2
            lo, hi = (mid + 1, hi) if records[mid].id <= since else (lo, mid)
        records = records[lo:]
    if flt.get("startDate"):
        records = [r for r in records if r.created_at >= str(flt["startDate"])]
    if flt.get("endDate"):
        records = [r for r in records if r.created_at <= str(flt["endDate"])]
    if flt.get(f"{entity}Id"):
        records = [r for r in records if str(r.entity.get("id")) == str(flt[f"{entity}Id"])]
    rows, pagination = paginate(list(records), limit, page)
    return 200, {
        "success": True,
        "generatedAt": now_local(),
        "history": [r.render(entity, call.api_key) for r in rows],
        "pagination": pagination,
    }
