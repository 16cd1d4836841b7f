"""keyCRM OpenAPI v1 conventions (crm.md C): limits, page envelopes, Laravel error bodies, wire time.

Kept apart from the client so that the sandbox enforces the same numbers the client paces by, and
tests can check them against the vendor samples alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

#: the OpenAPI root [spec]
API_URL = "https://openapi.keycrm.app/v1"
#: requests a minute per API key (and IP) [spec; confirmed by a live integration, C.7]
REQUESTS_PER_MINUTE = 60
#: rows per page: ``limit`` 1..50, default 15 [spec]; we always read with the largest
PAGE_LIMIT = 50
DEFAULT_PAGE_LIMIT = 15
#: items per ``PUT /offers/stocks`` request [spec]
STOCK_BATCH = 10_000
#: what an order is read with when it is uploaded [spec include names]
ORDER_INCLUDE = "products.offer,buyer,shipping,payments,status"

#: the two timestamp formats keyCRM emits (C.5): ISO with microseconds and Z, and ``Y-m-d H:i:s``
_WIRE_FORMATS = ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M:%S")


def parse_time(value: Any) -> datetime | None:
    """A keyCRM timestamp as an aware UTC datetime (keyCRM is UTC everywhere [spec]); None for empty.

    Raises:
        ValueError: a text in neither format.
    """
    if value in (None, ""):
        return None
    text = str(value)
    for fmt in _WIRE_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))  # any other ISO 8601 offset
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def format_time(at: datetime) -> str:
    """``Y-m-d H:i:s`` in UTC: what filters (``created_between``) and POST bodies take [spec]."""
    aware = at if at.tzinfo else at.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def iso_time(at: datetime) -> str:
    """The ISO form live payloads use (``2024-05-28T09:24:01.000000Z``)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def between(start: datetime, end: datetime) -> str:
    """A ``filter[*_between]`` value: ``"2020-08-24 00:00:00, 2020-09-22 23:59:59"`` [spec]."""
    return f"{format_time(start)}, {format_time(end)}"


def error_summary(body: Any) -> str:
    """Laravel's ``{"message", "errors": {field: [texts]}}`` as one line (the first few fields).

    The body shape is [inferred] (the spec documents only "422 Помилка валідації"; keyCRM is a
    Laravel application and answers its framework's validation envelope).
    """
    if not isinstance(body, Mapping):
        return ""
    message = str(body.get("message") or "")
    errors = body.get("errors")
    texts: list[str] = []
    if isinstance(errors, Mapping):
        for name, said in errors.items():
            first = said[0] if isinstance(said, list) and said else said
            texts.append(f"{name}: {first}")
    if texts:
        more = f" (+{len(texts) - 5} more)" if len(texts) > 5 else ""
        return f"{message} {'; '.join(texts[:5])}{more}".strip()
    return message


def field_errors(body: Any) -> dict[str, list[str]]:
    """``errors`` of a 422 body: field path (``stocks.3.sku``) → texts."""
    errors = body.get("errors") if isinstance(body, Mapping) else None
    if not isinstance(errors, Mapping):
        return {}
    return {str(k): [str(t) for t in (v if isinstance(v, list) else [v])] for k, v in errors.items()}


def page_envelope(
    rows: list[Any], *, total: int, page: int, per_page: int, url: str, query: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The ``PaginatedResponse`` envelope [spec], with Laravel's ``last_page`` [3p]; links as keyCRM
    writes them: the path with ``?page=N`` and the other parameters kept."""
    last = max(1, -(-total // per_page))

    def link(n: int) -> str:
        params = "&".join(f"{k}={v}" for k, v in (query or {}).items() if k != "page")
        return f"{url}?{params + '&' if params else ''}page={n}"

    return {
        "total": total,
        "current_page": page,
        "per_page": per_page,
        "last_page": last,
        "data": rows,
        "first_page_url": link(1),
        "last_page_url": link(last),
        "next_page_url": link(page + 1) if page < last else None,
    }
