"""MoySklad's JSON as the connector handles it, and references as MoySklad writes them:
``{"meta": {"href": …/<id>, "type": …}}``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: a JSON object as MoySklad sends or takes it (the connector's one name for it)
Json = dict[str, Any]


def ref_id(value: Any) -> str | None:
    """The id of a reference ``{"meta": {"href": …/<id>}}`` (or of an object with ``id``)."""
    if not isinstance(value, Mapping):
        return None
    if isinstance(value.get("id"), str):
        return str(value["id"])
    href = (value.get("meta") or {}).get("href")
    return href.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] if isinstance(href, str) else None
