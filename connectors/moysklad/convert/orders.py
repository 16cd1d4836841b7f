"""Canonical orders and customers ⇄ MoySklad customer orders and counterparties.

Payloads carry two keys that make uploads idempotent: ``externalCode`` (the hub's key, filterable)
and ``syncId`` (a UUID derived deterministically from it, so a retried create returns the order
created the first time instead of a duplicate). References are built on the client's base URL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from connectors.moysklad.wire.meta import Json, ref_id
from connectors.moysklad.wire.moscow_time import format_moscow, parse_moscow
from hub import model

#: namespace of the syncIds the hub derives from its own keys
SYNC_NAMESPACE = uuid.UUID("3f1c2a8e-5b7d-4e0a-9c61-2d8f0b7a4e15")


def sync_id_for(key: str) -> str:
    """The deterministic ``syncId`` of a hub key (same key, same id, on every retry and re-run)."""
    return str(uuid.uuid5(SYNC_NAMESPACE, key))


def _moscow(ts: Any) -> str | None:
    if ts is None or (isinstance(ts, float) and pd.isna(ts)) or ts is pd.NaT:
        return None
    value = pd.Timestamp(ts)
    if value.tzinfo is None:
        raise ValueError("canonical timestamps must be timezone-aware")
    return format_moscow(value.to_pydatetime())


def _ref(base_url: str, path: str, type_: str) -> Json:
    return {"meta": {"href": f"{base_url.rstrip('/')}/{path}", "type": type_, "mediaType": "application/json"}}


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and pd.isna(value)) and value is not pd.NA


def order_to_payload(
    order: Mapping[str, Any],
    lines: Iterable[Mapping[str, Any]],
    *,
    base_url: str,
    organization_id: str,
    agent_id: str,
    store_id: str | None = None,
    state_id: str | None = None,
    offer_types: Mapping[str, str] | None = None,
    reserve: bool = False,
    sync_key: str | None = None,
) -> Json:
    """A canonical order (``orders`` row) and its ``order_lines`` → a ``customerorder`` create body.

    Args:
        base_url: the API root the references point to.
        organization_id, agent_id: own legal entity and the counterparty (required by MoySklad).
        store_id, state_id: optional store and state.
        offer_types: offer id → ``product``/``variant``/``service``/``bundle`` (default ``product``).
        reserve: reserve the ordered quantities at the store (a line with ``reserve`` False excepted).
        sync_key: the hub key the ``syncId`` derives from (default ``site:order_id``).

    ``name`` (the document number) is the order's ``number``; without one MoySklad numbers it.

    Line ``discount`` is canonical money (kopecks off the line); MoySklad wants a percent.
    """
    types = offer_types or {}
    key = sync_key or f"{order.get('site') or ''}:{order['order_id']}"
    payload: Json = {
        "externalCode": str(order.get("external_id") or order["order_id"]),
        "syncId": sync_id_for(key),
        "organization": _ref(base_url, f"entity/organization/{organization_id}", "organization"),
        "agent": _ref(base_url, f"entity/counterparty/{agent_id}", "counterparty"),
    }
    if _present(order.get("number")):
        payload["name"] = str(order["number"])  # none: MoySklad numbers the order itself
    moment = _moscow(order.get("created_at"))
    if moment:
        payload["moment"] = moment
    # MoySklad has one comment field: the customer's comment as it is, then the manager's, labelled
    notes = [str(order["comment"])] if _present(order.get("comment")) else []
    if _present(order.get("manager_comment")):
        notes.append(f"Комментарий менеджера: {order['manager_comment']}")
    if notes:
        payload["description"] = "\n".join(notes)
    if _present(order.get("delivery_address")):
        payload["shipmentAddress"] = str(order["delivery_address"])
    if store_id:
        payload["store"] = _ref(base_url, f"entity/store/{store_id}", "store")
    if state_id:
        payload["state"] = _ref(base_url, f"entity/customerorder/metadata/states/{state_id}", "state")
    positions = []
    for line in lines:
        offer = str(line["offer_id"])
        kind = types.get(offer, "product")
        qty, price = float(line["quantity"]), int(line.get("price") or 0)
        discount = int(line["discount"]) if _present(line.get("discount")) else 0
        pos: Json = {
            "quantity": qty,
            "price": float(price),
            "discount": round(discount / (price * qty) * 100, 4) if price and qty and discount else 0,
            "assortment": _ref(base_url, f"entity/{kind}/{offer}", kind),
        }
        if _present(line.get("vat_rate")):
            pos["vat"] = int(line["vat_rate"])
        if reserve and kind != "service" and line.get("reserve") is not False:  # False: its status holds nothing
            pos["reserve"] = qty
        positions.append(pos)
    payload["positions"] = positions
    return payload


def customer_to_payload(
    customer: Mapping[str, Any],
    *,
    accounts: Iterable[Mapping[str, Any]] = (),
    contact_person: Mapping[str, Any] | None = None,
    sync_key: str | None = None,
    group: str | None = None,
) -> Json:
    """A canonical customer → a ``counterparty`` create body (with bank accounts, contact person,
    and ``group`` as its counterparty group: MoySklad's ``tags``)."""
    kind = str(customer.get("company_type") or "individual")
    full_name = " ".join(str(customer[k]) for k in ("last_name", "first_name") if _present(customer.get(k)))
    payload: Json = {
        "name": str(customer.get("name") if _present(customer.get("name")) else full_name or customer["customer_id"]),
        "companyType": kind,
        "externalCode": str(customer["customer_id"]),
        "syncId": sync_id_for(sync_key or f"customer:{customer['customer_id']}"),
    }
    for src, dst in (("phone", "phone"), ("email", "email"), ("inn", "inn"), ("address", "actualAddress")):
        if _present(customer.get(src)):
            payload[dst] = str(customer[src])
    if kind == "legal" and _present(customer.get("kpp")):
        payload["kpp"] = str(customer["kpp"])
    if kind in ("individual", "entrepreneur"):
        for src, dst in (("first_name", "legalFirstName"), ("last_name", "legalLastName")):
            if _present(customer.get(src)):
                payload[dst] = str(customer[src])
    account_rows = [{k: v for k, v in a.items() if v is not None} for a in accounts]
    if account_rows:
        payload["accounts"] = account_rows
    if contact_person:
        payload["contactpersons"] = [{k: v for k, v in contact_person.items() if v is not None}]
    if group:
        payload["tags"] = [group]
    return payload


def orders_to_frames(
    rows: Iterable[Mapping[str, Any]], states: Mapping[str, str] | None = None
) -> dict[str, pd.DataFrame]:
    """Customer orders (positions expanded) → ``orders`` and ``order_lines``.

    ``status`` is the state's name when ``states`` (id → name) knows it, else the state id.
    """
    orders, lines = [], []
    for r in rows:
        sid = ref_id(r.get("state"))
        orders.append(
            {
                "order_id": r["id"],
                "number": r.get("name"),
                "site": None,
                "status": (states or {}).get(sid or "", sid),
                "customer_id": ref_id(r.get("agent")),
                "created_at": parse_moscow(r["created"]) if r.get("created") else None,
                "updated_at": parse_moscow(r["updated"]) if r.get("updated") else None,
                "total": round(float(r.get("sum", 0))),
                "currency": None,
                "store_id": ref_id(r.get("store")),
                "delivery_type": None,
                "delivery_cost": None,
                "delivery_address": r.get("shipmentAddress"),
                "comment": r.get("description"),
                "external_id": r.get("externalCode"),
            }
        )
        for n, p in enumerate((r.get("positions") or {}).get("rows", []), start=1):
            price, qty = round(float(p.get("price", 0))), float(p.get("quantity", 0))
            lines.append(
                {
                    "order_id": r["id"],
                    "line_no": n,
                    "offer_id": ref_id(p.get("assortment")),
                    "name": (p.get("assortment") or {}).get("name"),
                    "quantity": qty,
                    "price": price,
                    "discount": round(price * qty * float(p.get("discount", 0)) / 100),
                    "vat_rate": p.get("vat"),
                }
            )
    return {"orders": model.frame("orders", orders), "order_lines": model.frame("order_lines", lines)}


def utc_now() -> datetime:
    """Current time, aware UTC (a seam for tests)."""
    return datetime.now(UTC)
