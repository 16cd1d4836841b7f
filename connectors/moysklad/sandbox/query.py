"""List semantics of the sandbox: ``filter``, ``search``, paging and ``expand`` as MoySklad applies them.

``filter=field<op>value;…`` with ``= != > < >= <= ~ ~= =~``; repeating ``=`` on one field is OR,
everything else is AND; reference fields compare by the id in the href; ``updated`` compares as
Moscow time. ``expand`` is honoured only when ``limit`` ≤ 100 (silently ignored above, as the API
does). The collection envelope is ``context``/``meta``/``rows`` with ``nextHref`` and
``previousHref`` only when there is a next or previous page.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from connectors.moysklad.sandbox.state import (
    STORE_BASE,
    Json,
    collection_meta,
    id_from_href,
    parse_moscow_filter,
    ref_id,
)
from connectors.moysklad.wire.limits import MAX_EXPAND_LIMIT, MAX_PAGE_LIMIT

_CLAUSE = re.compile(r"^(?P<field>[^=!<>~]+?)(?P<op>>=|<=|!=|~=|=~|=|>|<|~)(?P<value>.*)$", re.S)
REF_FIELDS = frozenset(
    {
        "agent",
        "organization",
        "store",
        "productFolder",
        "parent",
        "owner",
        "group",
        "supplier",
        "state",
        "product",
        "project",
        "contract",
    }
)
CONTEXT = {
    "employee": {
        "meta": {
            "href": f"{STORE_BASE}/context/employee",
            "metadataHref": f"{STORE_BASE}/entity/employee/metadata",
            "type": "employee",
            "mediaType": "application/json",
        }
    }
}


class QueryError(ValueError):
    """A list parameter MoySklad would reject (answered as 400/412 with the error code)."""

    def __init__(self, code: int, message: str, parameter: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.parameter = parameter


@dataclass(frozen=True)
class Clause:
    """One ``field op value`` of a filter."""

    field: str
    op: str
    value: str


def parse_filter(text: str) -> list[Clause]:
    """Split a ``filter`` value on unescaped ``;`` into clauses."""
    clauses: list[Clause] = []
    for part in re.split(r"(?<!\\);", text):
        if not part:
            continue
        m = _CLAUSE.match(part.replace("\\;", ";"))
        if m is None:
            raise QueryError(1002, f"Неизвестный оператор фильтрации в '{part}'", "filter")
        clauses.append(Clause(m["field"].strip(), m["op"], m["value"]))
    return clauses


def _field_value(obj: Json, field: str) -> Any:
    if field.startswith(("http://", "https://")):  # custom attribute by metadata href
        aid = id_from_href(field)
        return next((a.get("value") for a in obj.get("attributes", []) if a.get("id") == aid), None)
    if field == "productid":
        return ref_id(obj.get("product"))
    if field == "type":
        return obj.get("meta", {}).get("type")
    value: Any = obj
    for part in field.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if field in REF_FIELDS:
        return ref_id(value)
    return value


def _compare(actual: Any, op: str, raw: str, field: str) -> bool:
    if field in REF_FIELDS and raw.startswith(("http://", "https://")):
        raw = id_from_href(raw)
    if raw == "" and op in ("=", "!="):
        empty = actual is None or actual == ""
        return empty if op == "=" else not empty
    if isinstance(actual, bool) or raw in ("true", "false"):
        want = raw == "true"
        return (actual is want) if op == "=" else (actual is not want)
    if field in ("updated", "created", "moment"):
        if actual is None:
            return False
        ta, tb = parse_moscow_filter(str(actual)), parse_moscow_filter(raw)
        return {"=": ta == tb, "!=": ta != tb, ">": ta > tb, "<": ta < tb, ">=": ta >= tb, "<=": ta <= tb}[op]
    text = "" if actual is None else str(actual)
    if op in ("~", "~=", "=~"):
        t, r = text.lower(), raw.lower()
        return r in t if op == "~" else t.startswith(r) if op == "~=" else t.endswith(r)
    if isinstance(actual, int | float) and op in (">", "<", ">=", "<="):
        a, b = float(actual), float(raw)
        return {">": a > b, "<": a < b, ">=": a >= b, "<=": a <= b}[op]
    return {
        "=": text == raw,
        "!=": text != raw,
        ">": text > raw,
        "<": text < raw,
        ">=": text >= raw,
        "<=": text <= raw,
    }[op]


def matcher(clauses: list[Clause]) -> Callable[[Json], bool]:
    """A predicate for the clauses: ``=`` on the same field ORs, the rest ANDs."""
    eq: dict[str, list[Clause]] = {}
    rest: list[Clause] = []
    for c in clauses:
        (eq.setdefault(c.field, []) if c.op == "=" else rest).append(c)  # type: ignore[union-attr]

    def match(obj: Json) -> bool:
        for field, options in eq.items():
            actual = _field_value(obj, field)
            if not any(_compare(actual, "=", c.value, field) for c in options):
                return False
        return all(_compare(_field_value(obj, c.field), c.op, c.value, c.field) for c in rest)

    return match


def has_field(clauses: list[Clause], field: str) -> bool:
    """True if the filter mentions ``field``."""
    return any(c.field == field for c in clauses)


def page_params(query: dict[str, str]) -> tuple[int, int, set[str]]:
    """Validate ``limit``/``offset``/``expand``; returns (limit, offset, effective expand set).

    Raises:
        QueryError: ``limit`` outside 1–1000 or a negative ``offset``.
    """
    try:
        limit = int(query.get("limit", MAX_PAGE_LIMIT))
        offset = int(query.get("offset", 0))
    except ValueError:
        raise QueryError(1004, "Параметр limit/offset должен быть целым числом", "limit") from None
    if not 1 <= limit <= MAX_PAGE_LIMIT:
        raise QueryError(3002, f"Значение параметра 'limit' должно быть в диапазоне от 1 до {MAX_PAGE_LIMIT}", "limit")
    if offset < 0:
        raise QueryError(3002, "Значение параметра 'offset' не может быть отрицательным", "offset")
    expand = {e.strip() for e in query.get("expand", "").split(",") if e.strip()}
    return limit, offset, expand if limit <= MAX_EXPAND_LIMIT else set()


def collection(
    href: str, type_: str, rows: list[Json], total: int, limit: int, offset: int, query: dict[str, str]
) -> Json:
    """The ``context``/``meta``/``rows`` envelope of one page, with next/previous hrefs."""
    meta = collection_meta(href, type_, total, limit, offset)
    kept = {k: v for k, v in query.items() if k not in ("limit", "offset")}
    if offset + limit < total:
        meta["nextHref"] = f"{href}?{urlencode({**kept, 'limit': limit, 'offset': offset + limit})}"
    if offset > 0:
        meta["previousHref"] = f"{href}?{urlencode({**kept, 'limit': limit, 'offset': max(0, offset - limit)})}"
    return {"context": CONTEXT, "meta": meta, "rows": rows}
