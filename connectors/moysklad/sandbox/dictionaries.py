"""Custom dictionaries (``customentity``), their entries, and the custom fields of documents.

Wire shapes as in the OpenAPI fixtures (``custom_entity.json``, ``custom_entity_element.json``): a
dictionary is ``{meta{type: customentity}, id, name}``; an entry lives at
``/entity/customentity/{dictionary id}/{entry id}`` with ``meta.metadataHref`` pointing at its
dictionary's metadata. A ``customentity`` attribute's metadata names its dictionary by
``customEntityMeta`` (``…/context/companysettings/metadata/customEntities/{id}``); its value is
``{meta, name}`` of an entry.

A document's ``attributes`` are kept the way MoySklad answers them — ``meta``, ``id``, ``name``,
``type``, ``value`` — and a write names them by ``meta`` alone: a PUT changes the fields it lists
and keeps the others, ``value: null`` clears one, a field the type does not have or an entry that
is not in the dictionary is error 1021 (a reference that does not load).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from connectors.moysklad.sandbox.errors import ItemError
from connectors.moysklad.sandbox.query import QueryError, collection, page_params
from connectors.moysklad.sandbox.state import JSON_MEDIA, STORE_BASE, Json, id_from_href

if TYPE_CHECKING:
    from connectors.moysklad.sandbox.account import Account

Result = tuple[int, Any]


def entries_type(dictionary_id: str) -> str:
    """The store's type key of a dictionary's entries."""
    return f"customentity/{dictionary_id}"


def entry_meta(dictionary_id: str, entry_id: str) -> Json:
    return {
        "href": f"{STORE_BASE}/entity/customentity/{dictionary_id}/{entry_id}",
        "metadataHref": f"{STORE_BASE}/entity/customentity/{dictionary_id}/metadata",
        "type": "customentity",
        "mediaType": JSON_MEDIA,
    }


def add_dictionary(sb: Account, name: str) -> Json:
    """Create a custom dictionary (as a user does in the settings)."""
    store = sb.store
    dict_id = store.new_id()
    meta = {"href": f"{STORE_BASE}/entity/customentity/{dict_id}", "type": "customentity", "mediaType": JSON_MEDIA}
    return store.put("customentity", {"meta": meta, "id": dict_id, "name": name})


def add_entry(sb: Account, dictionary_id: str, body: Json) -> Json:
    """Create one entry of a dictionary.

    Raises:
        ItemError: no such dictionary (1021, 404), or no ``name`` (3000).
    """
    if sb.store.get("customentity", dictionary_id) is None:
        raise ItemError(1021, f"Объект с UUID '{dictionary_id}' не найден", status=404)
    if not isinstance(body, dict):
        raise ItemError(2016, "Ошибка формата: ожидался объект", status=400)
    if body.get("name") in (None, ""):
        raise ItemError(3000, "Ошибка сохранения объекта: поле 'name' не может быть пустым или отсутствовать", "name")
    entry_id = sb.store.new_id()
    fields: Json = {k: body[k] for k in ("name", "code", "externalCode", "description") if k in body}
    return sb.store.put(
        entries_type(dictionary_id), {"meta": entry_meta(dictionary_id, entry_id), "id": entry_id, **fields}
    )


def add_custom_field(sb: Account, type_: str, name: str, kind: str = "string", dictionary: Json | None = None) -> Json:
    """Define a custom field of ``type_``'s documents; a ``customentity`` one names its dictionary."""
    attr = sb.store.add_attribute(type_, name, "customentity" if dictionary is not None else kind)
    if dictionary is not None:
        attr["customEntityMeta"] = {
            "href": f"{STORE_BASE}/context/companysettings/metadata/customEntities/{dictionary['id']}",
            "type": "customentitymetadata",
            "mediaType": JSON_MEDIA,
        }
    return attr


def entries(sb: Account, request: Request, dict_id: str) -> Result:
    """``GET /entity/customentity/{id}``: the dictionary's entries (a page)."""
    if sb.store.get("customentity", dict_id) is None:
        raise ItemError(1021, f"Объект с UUID '{dict_id}' не найден", status=404)
    query = dict(request.query_params)
    try:
        limit, offset, _ = page_params(query)
    except QueryError as exc:
        raise ItemError(exc.code, str(exc), exc.parameter, status=400) from None
    rows = list(sb.store.of_type(entries_type(dict_id)).values())
    href = f"{STORE_BASE}/entity/customentity/{dict_id}"
    return 200, collection(href, "customentity", rows[offset : offset + limit], len(rows), limit, offset, query)


def normalise_attributes(sb: Account, type_: str, given: Any, held: list[Json] | None) -> list[Json]:
    """A write's ``attributes`` merged into what the document holds, in MoySklad's answer shape.

    Raises:
        ItemError: not a list, an unknown field, or a dictionary value naming no entry (1021).
    """
    if given is None:
        return list(held or [])  # a client that writes every field sends null: nothing changes
    if isinstance(given, dict):  # written as a MetaArray, as positions may be
        given = given.get("rows") or []
    if not isinstance(given, list):
        raise ItemError(2016, "Ошибка формата: поле 'attributes' должно быть массивом", "attributes", status=400)
    known = {a["id"]: a for a in sb.store.attributes.get(type_, [])}
    out = {a["id"]: a for a in held or []}
    for item in given:
        href = ((item or {}).get("meta") or {}).get("href") if isinstance(item, dict) else None
        attr = known.get(id_from_href(href)) if isinstance(href, str) else None
        if attr is None:
            raise ItemError(1021, "Ошибка загрузки сущности по ссылке в поле 'attributes'", "attributes", 412)
        value = item.get("value")
        if value is None:
            out.pop(attr["id"], None)  # cleared
            continue
        if attr["type"] == "customentity":
            value = _entry_value(sb, attr, value)
        out[attr["id"]] = {
            "meta": attr["meta"],
            "id": attr["id"],
            "name": attr["name"],
            "type": attr["type"],
            "value": value,
        }
    return list(out.values())


def _entry_value(sb: Account, attr: Json, value: Any) -> Json:
    dict_id = id_from_href(str((attr.get("customEntityMeta") or {}).get("href") or ""))
    href = (value.get("meta") or {}).get("href") if isinstance(value, dict) else None
    entry = sb.store.get(entries_type(dict_id), id_from_href(href)) if isinstance(href, str) else None
    if entry is None:
        raise ItemError(1021, "Ошибка загрузки сущности по ссылке в поле 'attributes.value'", "attributes", 412)
    return {"meta": entry["meta"], "name": entry["name"]}
