"""``limit``/``page`` as keyCRM reads them: 1..50 rows, default 15, the ``PaginatedResponse`` envelope."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connectors.keycrm.sandbox.wire import Call, invalid
from connectors.keycrm.wire.conventions import DEFAULT_PAGE_LIMIT, PAGE_LIMIT, page_envelope


def page_of(call: Call, rows: Sequence[Any]) -> dict[str, Any]:
    """One page of ``rows``; a ``limit`` over 50 or a bad ``page`` is refused with a 422 [spec limits]."""
    try:
        limit = int(call.query.get("limit", DEFAULT_PAGE_LIMIT))
        page = int(call.query.get("page", 1))
    except ValueError:
        raise invalid({"limit": ["The limit must be an integer."]}) from None
    if not 1 <= limit <= PAGE_LIMIT:
        raise invalid({"limit": [f"The limit must be between 1 and {PAGE_LIMIT}."]})
    if page < 1:
        raise invalid({"page": ["The page must be at least 1."]})
    start = (page - 1) * limit
    return page_envelope(
        list(rows[start : start + limit]), total=len(rows), page=page, per_page=limit, url=call.url, query=call.query
    )
