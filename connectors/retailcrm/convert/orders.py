"""retailCRM orders and customers ⇄ canonical ``orders``, ``order_lines``, ``payments``, ``customers``.

retailCRM dates are account-local ``Y-m-d H:i:s`` without an offset; they become UTC here, once.
``payments`` is an object keyed by payment id in responses and an array on create (crm.md A.6).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from hub.model import frame

DEFAULT_TZ = "Europe/Moscow"
_CONTRAGENT = {
    "individual": "individual",
    "legal-entity": "legal",
    "enterpreneur": "entrepreneur",
    "entrepreneur": "entrepreneur",
}
#: canonical customers column -> retailCRM ``contragent`` field (a legal entity's settlement account)
_BANK = {"bank_account": "bankAccount", "bank_bic": "BIK", "bank_name": "bank", "bank_corr_account": "corrAccount"}
_CONTRAGENT_BACK = {"individual": "individual", "legal": "legal-entity", "entrepreneur": "enterpreneur"}


def parse_crm_datetime(text: str | None, tz: str = DEFAULT_TZ) -> pd.Timestamp | None:
    """``2021-02-25 17:05:06`` in the account's zone → a UTC timestamp."""
    if not text:
        return None
    local = datetime.strptime(str(text)[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=ZoneInfo(tz))
    return pd.Timestamp(local).tz_convert("UTC")


def format_crm_datetime(ts: Any, tz: str = DEFAULT_TZ) -> str | None:
    """A UTC timestamp → account-local ``Y-m-d H:i:s``."""
    if ts is None or pd.isna(ts):
        return None
    stamp = pd.Timestamp(ts)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
    return str(stamp.tz_convert(tz).strftime("%Y-%m-%d %H:%M:%S"))


def _kopecks(units: Any) -> int | None:
    if units is None or units == "":
        return None
    return int((Decimal(str(units)) * 100).quantize(Decimal(1), rounding="ROUND_HALF_UP"))


def _units(kopecks: Any) -> float | int | None:
    if kopecks is None or pd.isna(kopecks):
        return None
    value = Decimal(int(kopecks)).scaleb(-2)
    return int(value) if value == value.to_integral_value() else float(value)


def _vat(value: Any) -> int | None:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None  # "none" = without VAT


def _address_text(address: Mapping[str, Any] | None) -> str | None:
    if not address:
        return None
    if address.get("text"):
        return str(address["text"])
    parts = [address.get(k) for k in ("index", "region", "city", "street", "building", "flat", "notes")]
    return ", ".join(str(p) for p in parts if p) or None


def custom_fields_text(fields: Any) -> str | None:
    """``customFields`` → canonical ``custom_fields`` (JSON object text, keys sorted; None when empty).

    retailCRM answers ``[]`` for an order without custom fields (a PHP empty array), an object otherwise.
    """
    if not isinstance(fields, Mapping) or not fields:
        return None
    return json.dumps({str(k): v for k, v in sorted(fields.items())}, ensure_ascii=False)


def item_store(item: Mapping[str, Any]) -> str | None:
    """The warehouse an item is reserved at, where the order names one per item (``items[].store``:
    ``{"code": …}`` or a code) — [unverified] field name: the API reference of per-store reserves was
    not retrieved (crm.md A.6 lists none); absent, the line ships from the order's ``shipmentStore``."""
    store = item.get("store")
    if isinstance(store, Mapping):
        store = store.get("code")
    return None if store in (None, "") else str(store)


def _customer_row(customer: Mapping[str, Any], order: Mapping[str, Any] | None = None) -> dict[str, Any]:
    order = order or {}
    phones = customer.get("phones") or []
    phone = phones[0].get("number") if phones and isinstance(phones[0], Mapping) else order.get("phone")
    contragent = customer.get("contragent") or order.get("contragent") or {}
    first, last = customer.get("firstName") or order.get("firstName"), customer.get("lastName") or order.get("lastName")
    return {
        "customer_id": str(customer["id"]) if customer.get("id") is not None else None,
        "company_type": _CONTRAGENT.get(str(contragent.get("contragentType", "individual")), "individual"),
        "name": contragent.get("legalName") or " ".join(p for p in (last, first) if p) or None,
        "first_name": first,
        "last_name": last,
        "phone": phone,
        "email": customer.get("email") or order.get("email"),
        "inn": contragent.get("INN"),
        "kpp": contragent.get("KPP"),
        "address": _address_text(customer.get("address")),
        **{column: contragent.get(wire) for column, wire in _BANK.items()},
        "updated_at": None,
    }


def customer_from_crm(customer: Mapping[str, Any]) -> pd.DataFrame:
    """A retailCRM customer → a one-row canonical ``customers`` frame."""
    return frame("customers", [_customer_row(customer)])


def customer_to_crm(row: Mapping[Any, Any], *, external_id: str | None = None) -> dict[str, Any]:
    """A canonical ``customers`` row → retailCRM customer JSON (``externalId`` = source id)."""
    out: dict[str, Any] = {"externalId": external_id or row.get("customer_id")}
    for key, wire in (("first_name", "firstName"), ("last_name", "lastName"), ("email", "email")):
        if row.get(key) is not None and not pd.isna(row[key]):
            out[wire] = row[key]
    if row.get("phone") is not None and not pd.isna(row["phone"]):
        out["phones"] = [{"number": row["phone"]}]
    kind = row.get("company_type")
    if kind is not None and not pd.isna(kind) and kind != "individual":
        contragent = {
            "contragentType": _CONTRAGENT_BACK.get(str(kind), "individual"),
            "legalName": row.get("name"),
            "INN": row.get("inn"),
            "KPP": row.get("kpp"),
            **{wire: row.get(column) for column, wire in _BANK.items()},
        }
        out["contragent"] = {k: v for k, v in contragent.items() if v is not None and not pd.isna(v)}
    return {k: v for k, v in out.items() if v is not None}


def order_from_crm(order: Mapping[str, Any], *, tz: str = DEFAULT_TZ, offer_ref: str = "id") -> dict[str, pd.DataFrame]:
    """One retailCRM order → canonical frames ``orders``, ``order_lines``, ``payments``, ``customers``.

    Args:
        tz: the account's time zone (retailCRM dates carry no offset).
        offer_ref: which ``items[].offer`` field becomes ``offer_id`` (``id``, ``externalId``, ``xmlId``).
    """
    return orders_from_crm([order], tz=tz, offer_ref=offer_ref)


def orders_from_crm(
    orders: Iterable[Mapping[str, Any]], *, tz: str = DEFAULT_TZ, offer_ref: str = "id"
) -> dict[str, pd.DataFrame]:
    """Many orders → the same four frames (customers de-duplicated by id)."""
    order_rows, lines, payments, customers = [], [], [], {}
    for order in orders:
        oid = str(order["id"])
        delivery = order.get("delivery") or {}
        customer = order.get("customer") or {}
        order_rows.append(
            {
                "order_id": oid,
                "number": order.get("number"),
                "site": order.get("site"),
                "status": order.get("status"),
                "customer_id": str(customer["id"]) if customer.get("id") is not None else None,
                "created_at": parse_crm_datetime(order.get("createdAt"), tz),
                "updated_at": parse_crm_datetime(order.get("statusUpdatedAt"), tz),
                "total": _kopecks(order.get("totalSumm")),
                "currency": order.get("currency"),
                "store_id": order.get("shipmentStore"),
                "delivery_type": delivery.get("code"),
                "delivery_cost": _kopecks(delivery.get("cost")),
                "delivery_address": _address_text(delivery.get("address")),
                "comment": order.get("customerComment"),
                "manager_comment": order.get("managerComment"),
                "external_id": order.get("externalId"),
                "custom_fields": custom_fields_text(order.get("customFields")),
                "manager_id": None if order.get("managerId") is None else str(order["managerId"]),
            }
        )
        for n, item in enumerate(order.get("items") or [], start=1):
            offer = item.get("offer") or {}
            lines.append(
                {
                    "order_id": oid,
                    "line_no": n,
                    "offer_id": None if offer.get(offer_ref) is None else str(offer[offer_ref]),
                    "name": item.get("productName") or offer.get("name"),
                    "quantity": float(item.get("quantity") or 0),
                    "price": _kopecks(item.get("initialPrice")),
                    "discount": _kopecks(item.get("discountTotal")),
                    "vat_rate": _vat(item.get("vatRate")),
                    "status": item.get("status"),
                    "store_id": item_store(item),
                }
            )
        raw_payments = order.get("payments") or {}
        for p in raw_payments.values() if isinstance(raw_payments, Mapping) else raw_payments:
            payments.append(
                {
                    "payment_id": None if p.get("id") is None else str(p["id"]),
                    "order_id": oid,
                    "type": p.get("type"),
                    "status": p.get("status"),
                    "amount": _kopecks(p.get("amount")),
                    "paid_at": parse_crm_datetime(p.get("paidAt"), tz),
                    "external_id": p.get("externalId"),
                }
            )
        if customer.get("id") is not None:
            customers[str(customer["id"])] = _customer_row(customer, order)
    return {
        "orders": frame("orders", order_rows),
        "order_lines": frame("order_lines", lines),
        "payments": frame("payments", payments),
        "customers": frame("customers", list(customers.values())),
    }


def order_to_crm(
    order: Mapping[Any, Any],
    lines: pd.DataFrame | Iterable[Mapping[str, Any]],
    *,
    offer_key: Mapping[str, str] | None = None,
    status_map: Mapping[str, str] | None = None,
    delivery_map: Mapping[str, str] | None = None,
    customer: Mapping[Any, Any] | None = None,
    tz: str = DEFAULT_TZ,
) -> dict[str, Any]:
    """A canonical ``orders`` row and its ``order_lines`` → retailCRM order JSON for create/edit.

    ``externalId`` is the source order id (what makes a repeated create safe). Offers are referenced
    by ``xmlId`` = source offer id, or by ``externalId`` through ``offer_key``.
    """
    rows: list[Mapping[str, Any]] = (
        [{str(k): v for k, v in r.items()} for r in lines.to_dict("records")]
        if isinstance(lines, pd.DataFrame)
        else list(lines)
    )
    items = []
    for line in sorted(rows, key=lambda r: int(r.get("line_no") or 0)):
        item: dict[str, Any] = {
            "productName": line.get("name"),
            "quantity": float(line["quantity"]),
            "initialPrice": _units(line.get("price")) or 0,
        }
        offer_id = line.get("offer_id")
        if offer_id is not None and not pd.isna(offer_id):
            key = str(offer_id)
            item["offer"] = {"externalId": offer_key[key]} if offer_key and key in offer_key else {"xmlId": key}
        if line.get("discount") is not None and not pd.isna(line["discount"]):
            item["discountManualAmount"] = _units(line["discount"])
        items.append(item)
    status = order.get("status")
    out: dict[str, Any] = {
        "externalId": order.get("external_id") if _present(order.get("external_id")) else order.get("order_id"),
        "number": order.get("number"),
        "createdAt": format_crm_datetime(order.get("created_at"), tz),
        "status": (status_map or {}).get(str(status), status) if _present(status) else None,
        "customerComment": order.get("comment"),
        "shipmentStore": order.get("store_id"),
        "items": items,
    }
    if _present(order.get("manager_comment")):
        out["managerComment"] = order.get("manager_comment")
    if _present(order.get("delivery_type")) or _present(order.get("delivery_cost")):
        dtype = order.get("delivery_type")
        out["delivery"] = {
            k: v
            for k, v in {
                "code": (delivery_map or {}).get(str(dtype), dtype) if _present(dtype) else None,
                "cost": _units(order.get("delivery_cost")),
                "address": {"text": order["delivery_address"]} if _present(order.get("delivery_address")) else None,
            }.items()
            if v is not None
        }
    if customer is not None:
        out.update({k: v for k, v in customer_to_crm(customer).items() if k in ("firstName", "lastName", "email")})
        if _present(customer.get("phone")):
            out["phone"] = customer["phone"]
        out["customer"] = {"externalId": str(customer["customer_id"])}
    return {k: v for k, v in out.items() if _present(v)}


def _present(value: Any) -> bool:
    if value is None:
        return False
    try:
        return not bool(pd.isna(value))
    except (TypeError, ValueError):
        return True  # lists and dicts
