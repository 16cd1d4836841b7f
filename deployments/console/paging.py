"""Filters and keyset paging shared by the queue and journal screens.

A page is the newest ``PAGE`` rows below an id (``before``): the database walks its primary-key index
from there, so page 1 000 costs what page 1 does (an OFFSET would read every row before it).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from deployments.console.shell import Refused

PAGE = 50


def choice(params: Mapping[str, str], key: str, allowed: list[str] | tuple[str, ...]) -> str | None:
    """The query parameter ``key`` if one of ``allowed`` (empty: no filter), else 400."""
    value = params.get(key) or None
    if value is not None and value not in allowed:
        raise Refused(400, f"{key} must be one of {sorted(allowed)}, not {value!r}")
    return value


def before_id(params: Mapping[str, str]) -> int | None:
    raw = params.get("before") or None
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > 19:
        raise Refused(400, f"before must be a row id (digits), not {raw[:20]!r}")
    return int(raw)


def next_link(filters: Mapping[str, str | None], last_id: int | None, full: bool) -> str | None:
    """The query string of the next (older) page, or None on the last page."""
    if not full or last_id is None:
        return None
    return "?" + urlencode({**{k: v for k, v in filters.items() if v}, "before": last_id})
