"""The sandbox's endpoints: the route table (path → handler), each handler answering like the real API.

Handlers take the sandbox, the request and the path's named groups and return ``(status, payload)``;
the table marks the routes that commit writes, so a ``drop_after_write`` fault can lose their answer.
A path that no route of its method matches is error 1005 (404), as in MoySklad.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

import connectors.moysklad.sandbox.bundles as bundles
import connectors.moysklad.sandbox.dictionaries as dictionaries
import connectors.moysklad.sandbox.files as files
from connectors.moysklad.sandbox.documents import WRITABLE, ItemError, image_rows, render, render_position
from connectors.moysklad.sandbox.query import (
    Clause,
    QueryError,
    collection,
    has_field,
    matcher,
    page_params,
    parse_filter,
)
from connectors.moysklad.sandbox.state import (
    ASSORTMENT_TYPES,
    DOCUMENT_TYPES,
    STORE_BASE,
    Json,
    collection_meta,
    parse_moscow_filter,
    position_type,
)
from connectors.moysklad.sandbox.stock import STOCK_TYPES
from connectors.moysklad.wire.limits import MAX_ARRAY_ITEMS
from connectors.sandboxing import Reply, RouteTable

if TYPE_CHECKING:
    from connectors.moysklad.sandbox.account import Account

Result = tuple[int, Any]
LISTABLE = frozenset(
    {
        *ASSORTMENT_TYPES,
        "productfolder",
        "currency",
        "organization",
        "store",
        "counterparty",
        "retailstore",
        "retailshift",
        *DOCUMENT_TYPES,
        "webhook",
        "webhookstock",
        "employee",  # read only: the API user never creates employees here
        "customentity",  # the dictionaries; their entries at /entity/customentity/{id}
    }
)
#: types whose lists hide archived rows unless the filter mentions ``archived``
ARCHIVABLE = frozenset({*ASSORTMENT_TYPES, "productfolder", "store", "counterparty"})
SEARCH_FIELDS = ("name", "code", "article", "externalCode", "phone", "email")


def _query(request: Request) -> dict[str, str]:
    return dict(request.query_params)


async def _body(request: Request) -> Any:
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
        return (
            json.loads(text.replace(str(request.base_url).rstrip("/") + "/api/remap/1.2", STORE_BASE)) if text else None
        )
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ItemError(2016, "Ошибка формата JSON в теле запроса", status=400) from None


def list_objects(sb: Account, request: Request, type_: str) -> Result:
    """``GET /entity/{type}`` (and the assortment): filter, search, page, expand."""
    query = _query(request)
    try:
        limit, offset, expand = page_params(query)
        clauses = parse_filter(query.get("filter", ""))
    except QueryError as exc:
        raise ItemError(exc.code, str(exc), exc.parameter, status=400) from None
    search = query.get("search", "").lower()
    # the same filtered list serves every page of one listing until the next write
    key = (type_, query.get("filter", ""), search, sb.store.version)
    cached = sb.list_cache.get(key)
    if cached is None:
        rows = _candidates(sb, type_, clauses)
        if (type_ == "assortment" or type_ in ARCHIVABLE) and not has_field(clauses, "archived"):
            rows = [r for r in rows if not r.get("archived")]
        if clauses:
            match = matcher(clauses)
            rows = [r for r in rows if match(r)]
        if search:
            rows = [r for r in rows if any(search in str(r.get(f, "")).lower() for f in SEARCH_FIELDS)]
        sb.list_cache.clear()
        sb.list_cache[key] = cached = rows
    rows = cached
    fields = {f for f in query.get("fields", "").split(",") if f}
    page = [bundles.render_item(sb, r["meta"]["type"], r, expand, fields) for r in rows[offset : offset + limit]]
    href = f"{STORE_BASE}/entity/{type_}"
    return 200, collection(href, type_, page, len(rows), limit, offset, query)


def _candidates(sb: Account, type_: str, clauses: list[Clause]) -> list[Json]:
    """The rows a listing filters: looked up by id when the filter names ids (``id=a;id=b``), as a
    client fetching images of 100 items does; the whole collection otherwise."""
    types = ASSORTMENT_TYPES if type_ == "assortment" else (type_,)
    ids = [c.value for c in clauses if c.field == "id" and c.op == "="]
    if ids:
        found = (sb.store.find(id_, types) for id_ in dict.fromkeys(ids))
        return [obj for obj in found if obj is not None]
    return sb.store.assortment() if type_ == "assortment" else list(sb.store.of_type(type_).values())


async def create(sb: Account, request: Request, type_: str) -> Result:
    """``POST /entity/{type}``: one object, or an array of ≤ 1000 (per-item errors in a 200)."""
    body = await _body(request)
    expand = page_params({"limit": "1", "expand": _query(request).get("expand", "")})[2]
    if isinstance(body, list):
        if len(body) > MAX_ARRAY_ITEMS:
            raise ItemError(
                3003, f"Превышено максимальное количество элементов в массиве ({MAX_ARRAY_ITEMS})", status=413
            )
        results: list[Json] = []
        for item in body:
            try:
                href = (item.get("meta") or {}).get("href") if isinstance(item, dict) else None
                saved = (
                    sb.writer.update(type_, href.rstrip("/").rsplit("/", 1)[-1], item)
                    if href
                    else sb.writer.create(type_, item)
                )
                results.append(render(sb, type_, saved, expand))
            except ItemError as exc:
                results.append(exc.body())
        return 200, results
    _check_positions(body)
    return 200, render(sb, type_, sb.writer.create(type_, body), expand)


def _check_positions(body: Any) -> None:
    if isinstance(body, dict) and isinstance(body.get("positions"), list) and len(body["positions"]) > MAX_ARRAY_ITEMS:
        raise ItemError(
            3003, f"Превышено максимальное количество элементов в массиве ({MAX_ARRAY_ITEMS})", "positions", status=413
        )


async def one(sb: Account, request: Request, type_: str, id_: str) -> Result:
    """``GET|PUT|DELETE /entity/{type}/{id}``."""
    expand = page_params({"limit": "1", "expand": _query(request).get("expand", "")})[2]
    if request.method == "PUT":
        body = await _body(request)
        _check_positions(body)
        return 200, render(sb, type_, sb.writer.update(type_, id_, body or {}), expand)
    if request.method == "DELETE":
        sb.writer.delete(type_, id_)
        return 200, None
    obj = sb.store.get(type_, id_)
    if obj is None:
        raise ItemError(1021, f"Объект с UUID '{id_}' не найден", status=404)
    fields = {f for f in _query(request).get("fields", "").split(",") if f}
    return 200, bundles.render_item(sb, type_, obj, expand, fields)


def sub_collection(sb: Account, request: Request, type_: str, id_: str, what: str) -> Result:
    """Images, positions, accounts and contact persons of one object."""
    obj = sb.store.get(type_, id_)
    if obj is None:
        raise ItemError(1021, f"Объект с UUID '{id_}' не найден", status=404)
    limit, offset, expand = page_params(_query(request))
    href = f"{STORE_BASE}/entity/{type_}/{id_}/{what}"
    if what == "images":
        rows = image_rows(sb, id_, {f for f in _query(request).get("fields", "").split(",") if f})
        item_type = "image"
        return 200, {
            "meta": collection_meta(href, item_type, len(rows), limit, offset),
            "rows": rows[offset : offset + limit],
        }
    if what == "positions":
        with_stock = "stock" in _query(request).get("fields", "").split(",")
        rows = [
            render_position(sb, type_, id_, p, "assortment" in expand, with_stock=with_stock)
            for p in obj.get("_positions", [])
        ]
        item_type = position_type(type_)
    else:
        rows, item_type = obj.get("_" + what, []), what.rstrip("s")
    return 200, collection(href, item_type, rows[offset : offset + limit], len(rows), limit, offset, _query(request))


def stock_current(sb: Account, request: Request, report: str) -> Result:
    """``GET /report/stock/{all|bystore}/current``: a flat array, one measure per call."""
    query = _query(request)
    stock_type = query.get("stockType", "stock")
    if stock_type not in STOCK_TYPES:
        raise ItemError(3002, f"Неизвестное значение параметра 'stockType': {stock_type}", "stockType", 400)
    since = None
    if "changedSince" in query:
        since = parse_moscow_filter(query["changedSince"])
        now = sb.store.now()
        if since > now or (now - since).total_seconds() > 24 * 3600:
            raise ItemError(
                3002,
                "Значение параметра 'changedSince' должно быть не более суток назад и не в будущем",
                "changedSince",
                400,
            )
    ids: dict[str, set[str]] = {}
    for clause in parse_filter(query.get("filter", "")):
        ids.setdefault(clause.field, set()).update(v for v in clause.value.split(",") if v)
    rows = sb.ledger.report(
        by_store=report == "bystore",
        stock_type=stock_type,
        include_zero=query.get("include") == "zeroLines",
        changed_since=since,
        assortment_ids=ids.get("assortmentId"),
        store_ids=ids.get("storeId"),
    )
    return 200, rows


def metadata(sb: Account, request: Request, type_: str) -> Result:
    """``GET /entity/{type}/metadata``: variants' characteristics, documents' attributes and states,
    counterparties' groups (``tags``)."""
    meta = {"href": f"{STORE_BASE}/entity/{type_}/metadata", "mediaType": "application/json"}
    if type_ == "variant":
        return 200, {"meta": meta, "characteristics": sb.store.characteristics}
    attributes = collection_meta(
        f"{STORE_BASE}/entity/{type_}/metadata/attributes", "attributemetadata", len(sb.store.attributes.get(type_, []))
    )
    if type_ == "counterparty":  # counterparty groups: every tag in use
        tags = sorted({t for cp in sb.store.of_type("counterparty").values() for t in cp.get("tags") or []})
        return 200, {
            "meta": meta,
            "attributes": {"meta": attributes},
            "states": [],
            "tags": tags,
            "createShared": False,
        }
    return 200, {
        "meta": meta,
        "attributes": {"meta": attributes},
        "states": sb.store.states if type_ == "customerorder" else [],
        "createShared": False,
    }


def attributes(sb: Account, request: Request, type_: str) -> Result:
    """``GET /entity/{type}/metadata/attributes``: the custom fields of a type."""
    rows, href = sb.store.attributes.get(type_, []), f"{STORE_BASE}/entity/{type_}/metadata/attributes"
    return 200, {"meta": collection_meta(href, "attributemetadata", len(rows)), "rows": rows}


async def dictionary_entries(sb: Account, request: Request, dict_id: str) -> Result:
    """``GET|POST /entity/customentity/{id}``: a dictionary's entries, or a new entry."""
    if request.method == "POST":
        return 200, dictionaries.add_entry(sb, dict_id, await _body(request))
    return dictionaries.entries(sb, request, dict_id)


def dictionary_entry(sb: Account, request: Request, dict_id: str, entry_id: str) -> Result:
    """``GET /entity/customentity/{id}/{entry id}``."""
    entry = sb.store.get(dictionaries.entries_type(dict_id), entry_id)
    if entry is None:
        raise ItemError(1021, f"Объект с UUID '{entry_id}' не найден", status=404)
    return 200, entry


def characteristics(sb: Account, request: Request) -> Result:
    """``GET /entity/variant/metadata/characteristics``."""
    chars, href = sb.store.characteristics, f"{STORE_BASE}/entity/variant/metadata/characteristics"
    return 200, {"meta": collection_meta(href, "attributemetadata", len(chars)), "rows": chars}


def states(sb: Account, request: Request) -> Result:
    """``GET /entity/customerorder/metadata/states``."""
    return 200, sb.store.states


def price_types(sb: Account, request: Request, pt: str | None) -> Result:
    """``GET /context/companysettings/pricetype[/{id|default}]``."""
    types = sb.store.price_types
    if pt is None:
        return 200, types
    found = types[0] if pt == "default" and types else next((t for t in types if t["id"] == pt), None)
    if found is None:
        raise ItemError(1021, f"Объект с UUID '{pt}' не найден", status=404)
    return 200, found


def _types(names: Iterable[str]) -> str:
    """A regex alternative of type names (a type outside it is 1005, as an unknown type is)."""
    return "|".join(sorted(names, key=len, reverse=True))


Handler = Callable[..., Result | Reply | Awaitable[Result]]
_ID = r"(?P<id_>[0-9a-f-]{36})"
_LISTED, _WRITTEN = f"(?P<type_>{_types(LISTABLE)})", f"(?P<type_>{_types(WRITABLE)})"
_DESCRIBED = f"(?P<type_>{_types(('variant', 'counterparty', *DOCUMENT_TYPES))})"
ROUTES: RouteTable[Handler] = RouteTable(
    [
        ("GET", r"/report/stock/(?P<report>all|bystore)/current", stock_current, False),
        ("GET", r"/context/companysettings/pricetype(?:/(?P<pt>[^/]+))?", price_types, False),
        ("GET", rf"/entity/{_DESCRIBED}/metadata", metadata, False),
        ("GET", rf"/entity/{_DESCRIBED}/metadata/attributes", attributes, False),
        ("GET", r"/entity/variant/metadata/characteristics", characteristics, False),
        ("GET", r"/entity/customerorder/metadata/states", states, False),
        ("GET", rf"/entity/bundle/{_ID}/components", bundles.components, False),
        ("GET", r"/entity/customentity/(?P<dict_id>[0-9a-f-]{36})", dictionary_entries, False),
        ("POST", r"/entity/customentity/(?P<dict_id>[0-9a-f-]{36})", dictionary_entries, True),
        (
            "GET",
            r"/entity/customentity/(?P<dict_id>[0-9a-f-]{36})/(?P<entry_id>[0-9a-f-]{36})",
            dictionary_entry,
            False,
        ),
        ("GET", rf"/entity/{_LISTED}/{_ID}/(?P<what>images|positions|accounts|contactpersons)", sub_collection, False),
        ("GET", rf"/entity/{_LISTED}/{_ID}", one, False),
        ("PUT", rf"/entity/{_WRITTEN}/{_ID}", one, True),
        ("DELETE", rf"/entity/{_WRITTEN}/{_ID}", one, True),
        ("GET", rf"/entity/(?P<type_>assortment|{_types(LISTABLE)})", list_objects, False),
        ("POST", rf"/entity/{_WRITTEN}", create, True),
        ("GET", r"/download/(?P<image_id>[0-9a-f-]{36})", files.download, False),
    ]
)


async def dispatch(sb: Account, request: Request, path: str) -> Reply:
    """Route one admitted request."""
    found = ROUTES.find(request.method, path)
    if found is None:
        raise ItemError(1005, f"Неизвестный тип или метод: {request.method} {path}", status=404)
    route, match = found
    result = route.handler(sb, request, **match.groupdict())
    answered = await result if inspect.isawaitable(result) else result
    if isinstance(answered, Reply):  # a handler that sets headers (a redirect)
        return answered
    status, payload = answered
    return Reply(status, payload, wrote=route.writes)
