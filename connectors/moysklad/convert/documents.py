"""Document drafts ⇄ MoySklad shipments, returns, incoming payments and cash receipts.

Every create carries ``syncId = uuid5(<hub key>)`` and ``externalCode = <hub key>``: a repeated create
answers the document made the first time, and the order's documents say which of them the hub made.
A shipment is built from the customer order it ships — its lines are the order's (what is not yet
shipped), its organization, counterparty, store and settlement account the order's — and a return
from the shipment it returns. Money is kopecks on both sides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connectors.moysklad.convert.orders import sync_id_for
from connectors.moysklad.wire.meta import Json, ref_id
from connectors.moysklad.wire.moscow_time import format_moscow
from hub.capabilities import BANK_PAYMENT, CASH_PAYMENT, MOVE, RETURN, SHIPMENT, DocumentDraft, ErpDocument

#: MoySklad entity of each kind of document
ENTITY = {
    SHIPMENT: "demand",
    RETURN: "salesreturn",
    BANK_PAYMENT: "paymentin",
    CASH_PAYMENT: "cashin",
    MOVE: "move",
}
KIND = {entity: kind for kind, entity in ENTITY.items()}
#: position fields a shipment or return copies from the document it follows
LINE_FIELDS = ("assortment", "price", "discount", "vat", "vatEnabled")
#: the header the documents of an order share with it
SHARED = ("organization", "agent")


class NothingToShip(ValueError):
    """Every line of the order is shipped already (by shipments the ERP's users made)."""


def _meta_ref(doc: Mapping[str, Any]) -> Json:
    return {"meta": dict(doc["meta"])}


def _rows(doc: Mapping[str, Any]) -> list[Json]:
    return list((doc.get("positions") or {}).get("rows") or [])


def _header(draft: DocumentDraft, source: Mapping[str, Any]) -> Json:
    body: Json = {"syncId": sync_id_for(draft.key), "externalCode": draft.key, "applicable": draft.posted}
    body.update({k: source[k] for k in SHARED if source.get(k) is not None})
    if draft.number:
        body["name"] = draft.number
    return body


def shipment_payload(draft: DocumentDraft, order: Mapping[str, Any], attributes: Mapping[str, Json]) -> Json:
    """A ``demand`` create body for an order (positions expanded): the lines not yet shipped.

    ``attributes``: the shipment's custom fields by name (their metadata), which the order's
    custom fields of the same name are copied into when the draft asks.

    Raises:
        ValueError: the order has no store (a shipment needs one).
        NothingToShip: every line is shipped already.
    """
    if order.get("store") is None:
        raise ValueError("the order has no store: a shipment needs the store it leaves from")
    positions = []
    for pos in _rows(order):
        left = float(pos.get("quantity", 0)) - float(pos.get("shipped", 0) or 0)
        if left > 0:
            positions.append({**{k: pos[k] for k in LINE_FIELDS if k in pos}, "quantity": left})
    if not positions:
        raise NothingToShip("every line of the order is shipped already")
    body = _header(draft, order)
    body.update(store=order["store"], customerOrder=_meta_ref(order), positions=positions)
    if order.get("organizationAccount") is not None:
        body["organizationAccount"] = order["organizationAccount"]
    if draft.copy_custom_fields:
        copied = [
            {"meta": attributes[str(a.get("name"))]["meta"], "value": a.get("value")}
            for a in order.get("attributes") or []
            if str(a.get("name")) in attributes
        ]
        if copied:
            body["attributes"] = copied
    return body


def move_payload(draft: DocumentDraft, order: Mapping[str, Any], source_store: Json) -> Json:
    """A ``move`` create body: the draft's lines from ``source_store`` (``{"meta": …}``) to the order's
    store, linked to the order (``customerOrder``), each line priced as the order's position of it.

    Raises:
        ValueError: the order has no store, or a line's item is not on the order.
        NothingToShip: the goods are at the order's store already (nothing to move).
    """
    if order.get("store") is None:
        raise ValueError("the order has no store: a move needs the store the goods go to")
    if ref_id(source_store) == ref_id(order["store"]):
        raise NothingToShip("the line's store is the order's store: nothing to move")
    by_item = {ref_id(p.get("assortment")): p for p in _rows(order)}
    positions = []
    for offer, quantity in draft.lines:
        pos = by_item.get(offer)
        if pos is None:
            raise ValueError(f"item {offer} is not on the order")
        positions.append({"assortment": pos["assortment"], "quantity": float(quantity), "price": pos.get("price", 0)})
    if not positions:
        raise NothingToShip("no line to move")
    body: Json = {
        "syncId": sync_id_for(draft.key),
        "externalCode": draft.key,
        "applicable": draft.posted,
        "organization": order["organization"],
        "sourceStore": {"meta": dict(source_store["meta"])},
        "targetStore": order["store"],
        "customerOrder": _meta_ref(order),
        "positions": positions,
    }
    return body


def return_payload(draft: DocumentDraft, shipment: Mapping[str, Any]) -> Json:
    """A ``salesreturn`` create body returning the whole of a shipment (positions expanded)."""
    body = _header(draft, shipment)
    body.update(
        store=shipment["store"],
        demand=_meta_ref(shipment),
        positions=[
            {**{k: p[k] for k in LINE_FIELDS if k in p}, "quantity": float(p.get("quantity", 0))}
            for p in _rows(shipment)
        ],
    )
    return body


def payment_payload(draft: DocumentDraft, order: Mapping[str, Any], account: Json | None) -> Json:
    """A ``paymentin`` / ``cashin`` body linked to the order (an update by ``meta`` when the draft
    names the document: its sum, posting and moment follow the channel's payment)."""
    amount = float(draft.amount or 0)
    body: Json = {
        "applicable": draft.posted,
        "sum": amount,
        "operations": [{"meta": dict(order["meta"]), "linkedSum": amount}],
    }
    if draft.paid_at is not None:
        body["moment"] = format_moscow(draft.paid_at)
    if draft.kind == BANK_PAYMENT and account is not None:
        body["organizationAccount"] = {"meta": dict(account["meta"])}
    if draft.erp_id:
        return body
    return {**_header(draft, order), **body}


def erp_document(entity: str, doc: Mapping[str, Any]) -> ErpDocument:
    """A MoySklad document as the hub sees it on an order."""
    kind = KIND[entity]
    return ErpDocument(
        kind=kind,
        erp_id=str(doc["id"]),
        key=str(doc["externalCode"]) if doc.get("externalCode") else None,
        posted=bool(doc.get("applicable", True)),
        amount=round(float(doc.get("sum", 0))),
        shipment_id=ref_id(doc.get("demand")) if kind == RETURN else None,
        returned=bool(doc.get("returns")) if kind == SHIPMENT else False,
    )


def linked_ids(order: Mapping[str, Any]) -> dict[str, list[str]]:
    """MoySklad entity → ids of the documents an order lists (``demands``, ``payments``, ``moves``)."""
    out: dict[str, list[str]] = {}
    for link in [*(order.get("demands") or []), *(order.get("payments") or []), *(order.get("moves") or [])]:
        entity = str((link.get("meta") or {}).get("type") or "")
        doc_id = ref_id(link)
        if entity in KIND and doc_id:
            out.setdefault(entity, []).append(doc_id)
    return out


def cost_prices(shipment: Mapping[str, Any]) -> dict[str, int]:
    """ERP offer id → cost of one unit (kopecks) from a shipment read with ``fields=stock``."""
    out: dict[str, int] = {}
    for pos in _rows(shipment):
        aid, cost = ref_id(pos.get("assortment")), (pos.get("stock") or {}).get("cost")
        if aid and cost is not None:
            out[aid] = round(float(cost))
    return out


def returned_shipments(returns: Sequence[Mapping[str, Any]]) -> set[str]:
    """The shipments these returns return."""
    return {sid for r in returns if (sid := ref_id(r.get("demand")))}
