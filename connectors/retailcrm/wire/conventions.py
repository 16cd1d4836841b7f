"""retailCRM wire conventions on the client side: envelopes, errors, form bodies, query brackets.

Kept apart from the client so that tests can check them against the verbatim samples alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: retailCRM's list page sizes; we always read with the largest
PAGE_LIMIT = 100
#: offers per ``store/inventories/upload`` request [lib: .NET client check]
INVENTORY_BATCH = 250
#: offers per ``store/prices/upload`` request: the same cap as inventories, a documented choice
#: (the server's limit is [unverified]; 250 keeps every request well under it and the 10 rps budget)
PRICE_BATCH = 250
#: orders per ``orders/upload`` request [unverified: commonly 50]
ORDER_BATCH = 50
#: requests a second per API key (go client rate.go ``RPS = 10``)
RPS = 10


@dataclass(frozen=True)
class UploadResult:
    """What a ``store/*/upload`` answered: offers processed and the ones the CRM does not know."""

    processed: int
    not_found: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class BatchResult:
    """``orders/upload``: created (``{id, externalId}``) and failed entries, with the error texts.

    HTTP 460 is a partial failure reported item by item, not an exception.
    """

    uploaded: list[dict[str, Any]]
    failed: list[dict[str, Any]]
    errors: list[str]


def error_texts(errors: Any) -> list[str]:
    """Flatten ``errors``, which retailCRM sends as an object *or* an array, into ``"key: text"``."""
    if isinstance(errors, Mapping):
        return [f"{k}: {v}" for k, v in errors.items()]
    if isinstance(errors, list):
        return [str(e) for e in errors]
    return [] if errors in (None, "") else [str(errors)]


def error_summary(body: Any) -> str:
    """``errorMsg`` plus the flattened ``errors`` (first few), for exception messages."""
    if not isinstance(body, Mapping):
        return ""
    texts = error_texts(body.get("errors"))
    msg = str(body.get("errorMsg") or "")
    if texts:
        more = f" (+{len(texts) - 5} more)" if len(texts) > 5 else ""
        msg = f"{msg}: {'; '.join(texts[:5])}{more}" if msg else "; ".join(texts[:5]) + more
    return msg


def is_html(text: str) -> bool:
    """An HTML body: the nginx page of a non-existent account (or of a rate refusal)."""
    return text.lstrip()[:1] == "<"


def form_fields(**fields: Any) -> dict[str, str]:
    """A form body: nested values become JSON strings (``order=``, ``offers=``...); None is dropped.

    ``ensure_ascii=False`` keeps Cyrillic readable and the body smaller; the form encoding escapes it.
    """
    out: dict[str, str] = {}
    for name, value in fields.items():
        if value is None:
            continue
        out[name] = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return out


def bracket_params(prefix: str, value: Any) -> list[tuple[str, str]]:
    """PHP-style query parameters: ``filter={"ids": [1, 2]}`` → ``filter[ids][]=1&filter[ids][]=2``."""
    if isinstance(value, Mapping):
        return [pair for k, v in value.items() for pair in bracket_params(f"{prefix}[{k}]", v)]
    if isinstance(value, list | tuple | set):
        return [pair for v in value for pair in bracket_params(f"{prefix}[]", v)]
    if isinstance(value, bool):
        return [(prefix, "1" if value else "0")]
    return [] if value is None else [(prefix, str(value))]


def query(filters: Mapping[str, Any] | None = None, **params: Any) -> list[tuple[str, str]]:
    """Query pairs: ``filter[...]`` from ``filters`` plus plain parameters (None dropped)."""
    pairs = bracket_params("filter", dict(filters)) if filters else []
    for name, value in params.items():
        pairs.extend(bracket_params(name, value))
    return pairs
