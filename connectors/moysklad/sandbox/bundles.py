"""Bundles (комплекты) in the sandbox: storing them, their ``components``, and the components list.

A bundle is an assortment item like a product; what it is made of is a nested collection of
``bundlecomponent`` rows (``{meta, id, accountId, assortment{meta}, quantity}``, the spec's
``bundleComponent``). A stored bundle keeps those rows under the private ``_components`` key and a
collapsed MetaArray under ``components``, as the API answers without ``expand``. With
``expand=components`` (on ``entity/bundle``, one bundle, or the assortment; only when ``limit`` ≤ 100,
which :func:`~connectors.moysklad.sandbox.query.page_params` already enforces) the rows are inlined,
at most :data:`EXPANDED_ROWS` of them: a nested collection carries its own ``limit``, and the rest is
read from ``GET /entity/bundle/{id}/components``, which pages like every other list.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from datetime import datetime
from typing import TYPE_CHECKING

from starlette.requests import Request

from connectors.moysklad.sandbox.documents import ItemError, render
from connectors.moysklad.sandbox.query import QueryError, collection, page_params
from connectors.moysklad.sandbox.state import (
    ASSORTMENT_TYPES,
    STORE_BASE,
    Json,
    SandboxStore,
    collection_meta,
    entity_meta,
    ref,
    ref_id,
)

if TYPE_CHECKING:
    from connectors.moysklad.sandbox.account import Account

#: component rows an expanded ``components`` carries (its ``meta.limit``, 1000 in the spec's
#: fixture); tests lower it to make a bundle whose expansion is cut short
EXPANDED_ROWS = 1000
#: what a bundle may be made of (``assortmentWithoutBundle``: never another bundle)
COMPONENT_TYPES = frozenset({"product", "service", "variant", "consignment"})


def components_href(bundle_id: str) -> str:
    return f"{STORE_BASE}/entity/bundle/{bundle_id}/components"


def add_bundle(
    store: SandboxStore,
    fields: Json,
    components: Sequence[tuple[str, str, float]],
    *,
    new_id: Callable[[], str] | None = None,
    updated: datetime | None = None,
) -> Json:
    """Store a bundle made of ``components`` (``(type, id, quantity)`` each) and return it.

    ``fields`` are its product-like fields (name, code, prices…); ids come from ``new_id`` (the
    generator's seeded one) or else the store's own.

    Raises:
        ValueError: a component is a bundle or not an item of the store, or its quantity is not positive.
    """
    make_id = new_id or store.new_id
    bundle_id = str(fields.get("id") or make_id())
    rows: list[Json] = []
    for type_, item_id, quantity in components:
        if type_ not in COMPONENT_TYPES or store.get(type_, item_id) is None:
            raise ValueError(f"a bundle component must be an item of the store, not a bundle: {type_} {item_id}")
        if quantity <= 0:
            raise ValueError(f"a bundle component's quantity must be positive, not {quantity}")
        row_id = make_id()
        rows.append(
            {
                "meta": {
                    "href": f"{components_href(bundle_id)}/{row_id}",
                    "type": "bundlecomponent",
                    "mediaType": "application/json",
                },
                "id": row_id,
                "accountId": store.account_id,
                "assortment": ref(type_, item_id),
                "quantity": float(quantity),
            }
        )
    # bundles share the product's metadata (attributes), so their meta says so, as the API's does
    meta = {**entity_meta("bundle", bundle_id), "metadataHref": f"{STORE_BASE}/entity/product/metadata"}
    obj = {
        "images": store.images_meta("bundle", bundle_id),
        **fields,
        "id": bundle_id,
        "meta": meta,
        "_components": rows,
        "components": {"meta": collection_meta(components_href(bundle_id), "bundlecomponent", len(rows))},
    }
    return store.put("bundle", obj, updated=updated)


def _component(sb: Account, row: Json, expand_assortment: bool) -> Json:
    if not expand_assortment:
        return row
    item = sb.store.find(ref_id(row.get("assortment")) or "", ASSORTMENT_TYPES)
    return row if item is None else {**row, "assortment": render(sb, item["meta"]["type"], item, set())}


def render_item(sb: Account, type_: str, obj: Json, expand: set[str], fields: AbstractSet[str] = frozenset()) -> Json:
    """:func:`~connectors.moysklad.sandbox.documents.render`, plus a bundle's expanded components."""
    out = render(sb, type_, obj, expand, fields)
    if type_ != "bundle" or not ({"components", "components.assortment"} & expand):
        return out
    rows = obj.get("_components", [])
    shown = [_component(sb, r, "components.assortment" in expand) for r in rows[:EXPANDED_ROWS]]
    meta = collection_meta(components_href(obj["id"]), "bundlecomponent", len(rows), limit=EXPANDED_ROWS)
    out["components"] = {"meta": meta, "rows": shown}
    return out


def components(sb: Account, request: Request, id_: str) -> tuple[int, Json]:
    """``GET /entity/bundle/{id}/components``: the spec's ``bundleComponentList``, paged."""
    bundle = sb.store.get("bundle", id_)
    if bundle is None:
        raise ItemError(1021, f"Объект с UUID '{id_}' не найден", status=404)
    query = dict(request.query_params)
    try:
        limit, offset, expand = page_params(query)
    except QueryError as exc:
        raise ItemError(exc.code, str(exc), exc.parameter, status=400) from None
    rows = bundle.get("_components", [])
    page = [_component(sb, r, "assortment" in expand) for r in rows[offset : offset + limit]]
    return 200, collection(components_href(id_), "bundlecomponent", page, len(rows), limit, offset, query)
