"""Writes and rendering: creating and updating counterparties, documents and webhooks, and
turning stored objects back into wire JSON (collapsed MetaArrays, ``expand``, inherited prices).

Rules kept from the docs: required fields per type (error 3000), ``syncId`` returns the object
already created with it, positions are replaced as a whole by a PUT (matching ``id`` updates),
and webhooks are unique per (entityType, action, url) with at most 5 per (entityType, action) for a
user and 1 for a solution.

The documents around a customer order are kept in step with it the way MoySklad keeps them
(:mod:`.paperwork`): a *posted* shipment (``applicable``) counts as shipped on the order's positions,
which releases their reserve, and takes the stock (the ledger); an unposted one does neither until it
is posted; a deleted one gives both back. A return is listed on its shipment (``returns``); posted
payments' ``operations`` make the order's ``payedSum``. The order lists every document linked to it
(``demands``, ``payments``, ``moves``), posted or not.
"""

from __future__ import annotations

import copy
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any

from connectors.moysklad.sandbox.dictionaries import normalise_attributes
from connectors.moysklad.sandbox.errors import ItemError
from connectors.moysklad.sandbox.paperwork import settle
from connectors.moysklad.sandbox.state import (
    ASSORTMENT_TYPES,
    DOCUMENT_TYPES,
    STORE_BASE,
    Json,
    collection_meta,
    moscow,
    position_type,
    ref_id,
)

if TYPE_CHECKING:
    from connectors.moysklad.sandbox.account import Account

REQUIRED: dict[str, tuple[str, ...]] = {
    "counterparty": ("name",),
    "customerorder": ("organization", "agent"),
    "demand": ("organization", "agent", "store"),
    "supply": ("organization", "agent", "store"),
    "loss": ("organization", "store"),
    "enter": ("organization", "store"),
    "move": ("organization", "sourceStore", "targetStore"),
    "paymentin": ("organization", "agent"),
    "cashin": ("organization", "agent"),
    "salesreturn": ("organization", "agent", "store"),
    "purchasereturn": ("organization", "agent", "store"),
    # a retail sale is made in a cash register's shift (retailShift) at a point of sale; [RD] lists
    # retailShift, store and agent as required, and every document has an organization
    "retaildemand": ("organization", "retailShift", "store", "agent"),
    "retailstore": ("name", "organization", "store"),
    "retailshift": ("retailStore", "organization", "store"),
    "webhook": ("url", "action", "entityType"),
    "webhookstock": ("url", "reportType", "stockType"),
    "product": ("name",),  # created by the hub for a channel's one-time product
}
WRITABLE = frozenset(REQUIRED)
REF_TARGETS = {
    "organization": "organization",
    "agent": "counterparty",
    "store": "store",
    "sourceStore": "store",
    "targetStore": "store",
    "customerOrder": "customerorder",
    "demand": "demand",
    "owner": "employee",  # the responsible employee: one that exists (the API never creates one with a document)
    "retailStore": "retailstore",
    "retailShift": "retailshift",
}


class Writer:
    """Creates and updates objects in a sandbox, keeping stock and webhooks in step."""

    def __init__(self, sandbox: Account) -> None:
        self.sb = sandbox
        self.store = sandbox.store

    def create(self, type_: str, body: Json) -> Json:
        """Create one object (or return the one created earlier with the same ``syncId``)."""
        if not isinstance(body, dict):
            raise ItemError(2016, "Ошибка формата: ожидался объект", status=400)
        sync_id = body.get("syncId")
        if isinstance(sync_id, str):
            existing = self.store.by_sync_id(type_, sync_id)
            if existing is not None:
                return existing
        for name in REQUIRED[type_]:
            if body.get(name) in (None, ""):
                raise ItemError(
                    3000, f"Ошибка сохранения объекта: поле '{name}' не может быть пустым или отсутствовать", name
                )
        obj = {k: v for k, v in body.items() if not k.startswith("_") and k not in ("meta", "id")}
        self._check_refs(obj)
        if type_ in ("webhook", "webhookstock"):
            self._check_webhook(type_, obj)
            obj.setdefault("enabled", True)
            obj["method"] = "POST"
        if type_ == "counterparty":
            obj["_accounts"] = body.get("accounts") or []
            obj["_contactpersons"] = body.get("contactpersons") or []
            obj.pop("accounts", None)
            obj.pop("contactpersons", None)
            obj.setdefault("companyType", "legal")
            obj.setdefault("archived", False)
        if type_ in DOCUMENT_TYPES:
            self._prepare_document(type_, obj, body, None)
        if type_ == "product":
            obj.setdefault("archived", False)
            obj.setdefault("salePrices", [])
        saved = self.store.put(type_, obj)
        self._after_write(type_, saved, "CREATE", None)
        return saved

    def update(self, type_: str, id_: str, body: Json) -> Json:
        """Apply a PUT: fields merge; a ``positions`` list replaces the positions."""
        obj = self.store.get(type_, id_)
        if obj is None:
            raise ItemError(1021, f"Объект с UUID '{id_}' не найден", status=404)
        if "syncId" in body and body["syncId"] != obj.get("syncId"):
            raise ItemError(1047, "Поле 'syncId' не может быть изменено", "syncId", status=412)
        changes = {k: v for k, v in body.items() if not k.startswith("_") and k not in ("meta", "id")}
        self._check_refs(changes)
        if type_ in DOCUMENT_TYPES:
            self._prepare_document(type_, changes, body, obj)
        # what the update changed (derived fields such as ``sum`` only when their value moved)
        before = copy.deepcopy({k: obj.get(k) for k in changes})
        old = copy.deepcopy(obj)
        obj.update(changes)
        saved = self.store.put(type_, obj)
        fields = [k for k in changes if k != "_positions" and before.get(k) != changes[k]]
        if "positions" in body:
            fields.append("positions")
        self._after_write(type_, saved, "UPDATE", fields, old)
        return saved

    def delete(self, type_: str, id_: str) -> None:
        """Delete one object (webhooks, documents); a deleted document no longer counts on its order."""
        gone = self.store.delete(type_, id_)
        if gone is None:
            raise ItemError(1021, f"Объект с UUID '{id_}' не найден", status=404)
        self.sb.ledger.withdraw(id_, self.store.now())
        if type_ in DOCUMENT_TYPES:
            settle(self.sb, type_, gone, None)
        self.sb.webhooks.notify(type_, id_, "DELETE", None)

    def _check_refs(self, obj: Json) -> None:
        for field, target in REF_TARGETS.items():
            rid = ref_id(obj.get(field))
            if obj.get(field) is not None and (rid is None or self.store.get(target, rid) is None):
                raise ItemError(1021, f"Ошибка загрузки сущности по ссылке в поле '{field}'", field, 412)
        sid = ref_id(obj.get("state"))
        if sid is not None and all(s["id"] != sid for s in self.store.states):
            raise ItemError(1021, "Ошибка загрузки сущности по ссылке в поле 'state'", "state", 412)

    def _check_webhook(self, type_: str, obj: Json) -> None:
        key = ("entityType", "action") if type_ == "webhook" else ("reportType", "stockType")
        same = [w for w in self.store.of_type(type_).values() if all(w.get(k) == obj.get(k) for k in key)]
        if any(w.get("url") == obj.get("url") for w in same):
            raise ItemError(30003, "Вебхук с данным набором параметров уже существует", "url")
        if len(same) >= (1 if self.sb.token_kind != "user" else 5):
            raise ItemError(30007, "Превышено ограничение на количество вебхуков", "url")

    def _prepare_document(self, type_: str, obj: Json, body: Json, old: Json | None) -> None:
        if "attributes" in body:
            obj["attributes"] = normalise_attributes(self.sb, type_, body["attributes"], (old or {}).get("attributes"))
        if old is None:
            obj.setdefault("name", self.store.next_number(type_))
            obj.setdefault("moment", moscow(self.store.now()))
            obj.setdefault("applicable", True)
            obj.setdefault("vatEnabled", True)
            obj.setdefault("vatIncluded", True)
            cur = self.store.default_currency()
            if cur is not None:
                obj.setdefault("rate", {"currency": {"meta": cur["meta"]}})
            if type_ == "customerorder" and self.store.states and "state" not in obj:
                obj["state"] = {"meta": self.store.states[0]["meta"]}
        positions = body.get("positions")
        if isinstance(positions, dict):
            positions = positions.get("rows")
        if isinstance(positions, list):
            old_rows = {p["id"]: p for p in (old or {}).get("_positions", [])}
            doc_id = (old or {}).get("id") or "new"
            rows = []
            for pos in positions:
                pid = pos.get("id") or self.store.new_id()
                merged = {**old_rows.get(pid, {"shipped": 0}), **pos, "id": pid}
                if (
                    ref_id(merged.get("assortment")) is None
                    or self.store.find(ref_id(merged.get("assortment")) or "", ASSORTMENT_TYPES) is None
                ):
                    raise ItemError(
                        1021, "Ошибка загрузки сущности по ссылке в поле 'assortment'", "positions.assortment", 412
                    )
                merged.setdefault("quantity", 1)
                merged.setdefault("price", 0.0)
                merged.setdefault("discount", 0)
                merged.setdefault("vat", 0)
                rows.append(merged)
            obj["_positions"] = rows
            obj["_doc_hint"] = doc_id
        obj.pop("positions", None)
        rows_now: list[Json] = obj.get("_positions", (old or {}).get("_positions", [])) or []
        if type_ not in ("paymentin", "cashin"):
            obj["sum"] = float(round(sum(_line_sum(p) for p in rows_now)))
        obj.pop("_doc_hint", None)

    def _after_write(
        self, type_: str, saved: Json, action: str, fields: list[str] | None, old: Json | None = None
    ) -> None:
        if type_ in DOCUMENT_TYPES:
            self.sb.ledger.record(type_, saved, self.store.now())
            settle(self.sb, type_, old, saved)
        self.sb.webhooks.notify(type_, saved["id"], action, fields)


def _line_sum(pos: Json) -> float:
    discount = float(pos.get("discount", 0))
    return float(pos["price"]) * float(pos["quantity"]) * (1 - discount / 100)


PERMANENT_HOST = "https://cdn.moysklad-sandbox.invalid"  # the real host is not documented


def image_rows(sb: Account, owner_id: str, fields: AbstractSet[str] = frozenset()) -> list[Json]:
    """The images of an owner; with ``fields=downloadPermanentHref`` on a paid tariff, each image's
    ``meta`` carries a permanent link that needs no auth."""
    rows = sb.store.images.get(owner_id, [])
    if "downloadPermanentHref" not in fields or not sb.paid_tariff:
        return rows

    def permanent(img: Json) -> str:
        image_id = img["meta"]["href"].rsplit("/", 1)[-1]
        return f"{PERMANENT_HOST}/{sb.store.account_id}/{image_id}/{img.get('filename', 'image')}"

    return [{**img, "meta": {**img["meta"], "downloadPermanentHref": permanent(img)}} for img in rows]


def render(sb: Account, type_: str, obj: Json, expand: set[str], fields: AbstractSet[str] = frozenset()) -> Json:
    """A stored object as the API returns it (private ``_`` keys out, MetaArrays collapsed)."""
    out = {k: v for k, v in obj.items() if not k.startswith("_")}
    store = sb.store
    if type_ == "variant" and "salePrices" not in out:
        product = store.get("product", ref_id(obj.get("product")) or "")
        if product is not None and "salePrices" in product:
            out["salePrices"] = product["salePrices"]
    if "images" in expand and type_ in ASSORTMENT_TYPES and "images" in out:
        out["images"] = {"meta": out["images"]["meta"], "rows": image_rows(sb, obj["id"], fields)}
    if "product" in expand and type_ == "variant":
        product = store.get("product", ref_id(obj.get("product")) or "")
        if product is not None:
            out["product"] = render(sb, "product", product, set())
    if type_ == "organization" and "_accounts" in obj:
        href = f"{STORE_BASE}/entity/organization/{obj['id']}/accounts"
        out["accounts"] = {"meta": collection_meta(href, "account", len(obj["_accounts"]))}
    if type_ == "counterparty":
        for key in ("accounts", "contactpersons"):
            href = f"{STORE_BASE}/entity/counterparty/{obj['id']}/{key}"
            out[key] = {
                "meta": collection_meta(
                    href, "account" if key == "accounts" else "contactperson", len(obj.get("_" + key, []))
                )
            }
    if type_ in DOCUMENT_TYPES and type_ not in ("paymentin", "cashin"):
        href = f"{STORE_BASE}/entity/{type_}/{obj['id']}/positions"
        positions = [
            render_position(sb, type_, obj["id"], p, "positions.assortment" in expand, with_stock="stock" in fields)
            for p in obj.get("_positions", [])
        ]
        out["positions"] = {"meta": collection_meta(href, position_type(type_), len(positions))}
        if "positions" in expand:
            out["positions"]["rows"] = positions
    for field in ("agent", "organization", "store"):
        if field in expand and ref_id(out.get(field)):
            target = store.get(REF_TARGETS[field], ref_id(out[field]) or "")
            if target is not None:
                out[field] = render(sb, REF_TARGETS[field], target, set())
    if "state" in expand and ref_id(out.get("state")):
        out["state"] = next((s for s in store.states if s["id"] == ref_id(out["state"])), out["state"])
    return out


def render_position(
    sb: Account, type_: str, doc_id: str, pos: Json, expand_assortment: bool, *, with_stock: bool = False
) -> Json:
    """One document position as the API returns it; ``with_stock`` (``fields=stock``) adds its
    ``stock``: the item's cost price (kopecks a unit: here its buying price) and its stock, reserve,
    in transit and available at the document's store."""
    out: dict[str, Any] = {
        "meta": {
            "href": f"{STORE_BASE}/entity/{type_}/{doc_id}/positions/{pos['id']}",
            "type": position_type(type_),
            "mediaType": "application/json",
        },
        "accountId": sb.store.account_id,
        **{k: v for k, v in pos.items() if not k.startswith("_")},
    }
    if type_ != "customerorder":
        out.pop("shipped", None)
        out.pop("reserve", None)
    if with_stock:
        out["stock"] = _position_stock(sb, type_, doc_id, pos)
    if expand_assortment:
        aid = ref_id(pos.get("assortment")) or ""
        item = sb.store.find(aid, ASSORTMENT_TYPES)
        if item is not None:
            out["assortment"] = render(sb, item["meta"]["type"], item, set())
    return out


def _position_stock(sb: Account, type_: str, doc_id: str, pos: Json) -> Json:
    aid = ref_id(pos.get("assortment")) or ""
    item = sb.store.find(aid, ASSORTMENT_TYPES) or {}
    if item.get("meta", {}).get("type") == "variant" and "buyPrice" not in item:
        item = sb.store.get("product", ref_id(item.get("product")) or "") or item
    doc = sb.store.get(type_, doc_id) or {}
    store = ref_id(doc.get("store") or doc.get("sourceStore"))
    totals = sb.ledger.totals.get((aid, store), {"stock": 0.0, "reserve": 0.0, "inTransit": 0.0})
    stock, reserve, transit = totals["stock"], totals["reserve"], totals["inTransit"]
    return {
        "cost": float((item.get("buyPrice") or {}).get("value", 0.0)),
        "quantity": stock,
        "reserve": reserve,
        "intransit": transit,
        "available": stock - reserve,
    }
