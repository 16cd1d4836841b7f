"""What a whole MoySklad answer is: a JSON body, a collection page with every row it promises.

A page is ``{meta: {size, limit, offset}, rows: [...]}``; for its offset it must carry
``min(limit, size - offset)`` rows. Anything less is an answer cut short on its way (by a proxy, a
dropped connection), so the checks here raise :class:`MalformedResponseError` and the client asks
for that one page again (``BaseClient.request_parsed``) instead of silently losing rows.
"""

from __future__ import annotations

from typing import Any

import httpx

from connectors.http import MalformedResponseError, endpoint_name
from connectors.paging import OffsetPaginator

__all__ = ["checked_assortment", "json_body", "offset_paging", "page_rows", "page_size", "whole_page"]


def json_body(response: httpx.Response, path: str) -> Any:
    """The decoded body of an answer to ``path``.

    Raises:
        MalformedResponseError: the body is not JSON (cut off or mangled on its way).
    """
    try:
        return response.json()
    except ValueError as exc:
        raise MalformedResponseError(
            "moysklad",
            endpoint_name(path),
            response.status_code,
            f"the answer is not JSON ({len(response.content)} bytes): {exc}",
        ) from None


def page_rows(page: Any, path: str, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    """The rows and collection size of one page, or a clear error when the page is not whole.

    A page must be ``{meta: {size}, rows: [...]}`` with as many rows as ``size``, ``offset`` and
    ``limit`` imply: fewer means the answer was cut short, and taking it for the whole page would
    silently lose rows.

    Raises:
        MalformedResponseError: the page is not a collection, or has fewer rows than it must.
    """
    where = f"{endpoint_name(path)} page at offset {offset}"

    def malformed(what: str) -> MalformedResponseError:
        return MalformedResponseError("moysklad", endpoint_name(path), 200, f"{where}: {what}")

    if not isinstance(page, dict) or not isinstance(page.get("rows"), list):
        raise malformed("no 'rows' array in the answer")
    size = (page.get("meta") or {}).get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise malformed(f"meta.size is {size!r}, not a count")
    rows: list[dict[str, Any]] = page["rows"]
    expected = max(0, min(limit, size - offset))
    if len(rows) < expected:
        raise malformed(f"{len(rows)} rows where meta.size {size} means {expected} (a partial answer)")
    return rows, size


def whole_page(response: httpx.Response, path: str, offset: int, limit: int) -> dict[str, Any]:
    """The page an answer carries, checked by :func:`page_rows`.

    Raises:
        MalformedResponseError: not JSON, not a collection, or fewer rows than it must have.
    """
    page = json_body(response, path)
    page_rows(page, path, offset, limit)
    return dict(page)


def checked_assortment(page: dict[str, Any], offset: int) -> list[dict[str, Any]]:
    """The rows of an assortment page, each a whole item (an id and a type).

    Raises:
        MalformedResponseError: a row without an id or ``meta.type``.
    """
    rows: list[dict[str, Any]] = page["rows"]
    for n, row in enumerate(rows):
        if not isinstance(row, dict) or not row.get("id") or not (row.get("meta") or {}).get("type"):
            raise MalformedResponseError(
                "moysklad",
                "entity/assortment",
                200,
                f"entity/assortment page at offset {offset}: row {n} has no id or meta.type",
            )
    return rows


def page_size(page: dict[str, Any]) -> int:
    """The collection size a (checked) page reports."""
    return int(page["meta"]["size"])


def _rows(page: dict[str, Any]) -> list[dict[str, Any]]:
    return list(page["rows"])


def _offset(page: dict[str, Any]) -> int | None:
    offset = page["meta"].get("offset")
    return offset if isinstance(offset, int) and not isinstance(offset, bool) else None


def offset_paging(path: str, limit: int) -> OffsetPaginator:
    """The loop guard of ``path``'s pages: each must be the offset asked for, its rows not read at another."""
    return OffsetPaginator(
        limit, system="moysklad", endpoint=endpoint_name(path), rows=_rows, total=page_size, echoed=_offset
    )
