"""keyCRM orders (``GET /order`` with ``include=products.offer,buyer,shipping``) → canonical frames.

* timestamps: both wire formats → UTC, here and only here (:func:`parse_time`);
* money: keyCRM sends decimal hryvnias (``122.5``): integer minor units;
* a line's offer is named by SKU (the catalog offer's ``offer.sku``, else the line's ``sku``): the
  hub matches it to the stock system's article or code. A line with no catalog offer is a
  *one-time product*: its offer ref is a SKU generated from its name and properties, stable for
  the same product (``auto-`` + a hash), so re-reading the order names the same item;
* properties go into the line name after commas: "Сорочка, біла, M" (the seed's rule);
* payments (``include=payments``: the seed's "payment transactions") are canonical ``payments``: the
  type is the keyCRM payment method id as text (what ``mappings.payment_documents`` names), the
  status keyCRM's own (``paid``, ``not_paid``, ``canceled``), the date ``payment_date``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pandas as pd

from connectors.keycrm.wire.conventions import parse_time
from hub.model import frame

#: the prefix of a SKU the hub generates for a one-time product
GENERATED_SKU = "auto-"


def minor(value: Any) -> int | None:
    """``122.5`` or ``"2.00"`` → 12250 / 200 (kopiykas); None stays None."""
    if value in (None, ""):
        return None
    return int((Decimal(str(value)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def line_name(line: Mapping[str, Any]) -> str:
    """The line's name with its properties' values after commas: "Сорочка, біла, M"."""
    name = str(line.get("name") or (line.get("offer") or {}).get("sku") or "")
    values = [str(p.get("value")) for p in line.get("properties") or [] if p.get("value") not in (None, "")]
    return ", ".join([name, *values]) if values else name


def generated_sku(line: Mapping[str, Any]) -> str:
    """A SKU for a product keyCRM has none for: the same name and properties give the same SKU."""
    basis = "|".join(
        [str(line.get("name") or "").strip().lower()]
        + [f"{p.get('name')}={p.get('value')}" for p in line.get("properties") or []]
    )
    return GENERATED_SKU + hashlib.sha1(basis.encode()).hexdigest()[:12]


def line_sku(line: Mapping[str, Any]) -> str:
    """What names a line's offer: the catalog offer's SKU, the line's, else a generated one."""
    offer = line.get("offer") or {}
    return str(offer.get("sku") or line.get("sku") or generated_sku(line))


def is_one_time(line: Mapping[str, Any]) -> bool:
    """A line with no catalog offer behind it (entered by hand in the order)."""
    return not (line.get("offer") or {}).get("id")


def _address(shipping: Mapping[str, Any]) -> str | None:
    parts = [
        shipping.get(k)
        for k in (
            "shipping_address_country",
            "shipping_address_region",
            "shipping_address_city",
            "shipping_receive_point",
            "shipping_secondary_line",
            "shipping_address_zip",
        )
    ]
    text = ", ".join(str(p) for p in parts if p not in (None, ""))
    return text or None


def _ts(value: Any) -> pd.Timestamp | None:
    at = parse_time(value)
    return None if at is None else pd.Timestamp(at)


def orders_from_keycrm(
    orders: Iterable[Mapping[str, Any]], warehouse_codes: Mapping[str, str] | None = None
) -> dict[str, pd.DataFrame]:
    """Canonical ``orders``, ``order_lines``, ``payments`` and ``customers`` of these keyCRM orders.

    ``warehouse_codes``: keyCRM warehouse id → the code the config maps it by (the order's
    ``store_id``; an unmapped id stays the id)."""
    rows: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    customers: dict[str, dict[str, Any]] = {}
    payments: list[dict[str, Any]] = []
    for order in orders:
        oid = str(order["id"])
        buyer = order.get("buyer") or {}
        shipping = order.get("shipping") or {}
        customer_id = str(buyer["id"]) if buyer.get("id") is not None else None
        if customer_id is not None:
            full = str(buyer.get("full_name") or "").strip()
            first, _, last = full.partition(" ")
            customers[customer_id] = {
                "customer_id": customer_id,
                "company_type": "individual",
                "name": full or None,
                "first_name": first or None,
                "last_name": last or None,
                "phone": buyer.get("phone"),
                "email": buyer.get("email"),
            }
        warehouse = next(
            (p["warehouse"]["id"] for p in order.get("products") or [] if (p.get("warehouse") or {}).get("id")), None
        )
        rows.append(
            {
                "order_id": oid,
                "number": oid,
                "site": str(order["source_id"]) if order.get("source_id") is not None else None,
                "status": str(order["status_id"]) if order.get("status_id") is not None else None,
                "customer_id": customer_id,
                "created_at": _ts(order.get("created_at") or order.get("ordered_at")),
                "updated_at": _ts(order.get("updated_at")),
                "total": minor(order.get("grand_total")),
                "currency": None,
                "store_id": (warehouse_codes or {}).get(str(warehouse), str(warehouse))
                if warehouse is not None
                else None,
                "delivery_type": str(shipping["delivery_service_id"])
                if shipping.get("delivery_service_id") is not None
                else None,
                "delivery_cost": minor(order.get("shipping_price")),
                "delivery_address": _address(shipping),
                "comment": order.get("buyer_comment"),
                "manager_comment": order.get("manager_comment"),
                "external_id": str(order["source_uuid"]) if order.get("source_uuid") else None,
            }
        )
        for no, line in enumerate(order.get("products") or [], start=1):
            quantity = float(line.get("quantity") or 0)
            price = minor(line.get("price"))
            sold = minor(line.get("price_sold"))
            discount = minor(line.get("total_discount"))
            if discount is None and price is not None and sold is not None:
                discount = round((price - sold) * quantity)
            lines.append(
                {
                    "order_id": oid,
                    "line_no": no,
                    "offer_id": line_sku(line),
                    "name": line_name(line),
                    "quantity": quantity,
                    "price": price,
                    "discount": discount or 0,
                    "vat_rate": None,
                    "status": str(line["product_status_id"]) if line.get("product_status_id") is not None else None,
                }
            )
        payments += [payment_row(oid, p) for p in order.get("payments") or [] if p.get("id") is not None]
    return {
        "orders": frame("orders", rows),
        "order_lines": frame("order_lines", lines),
        "payments": frame("payments", payments),
        "customers": frame("customers", list(customers.values())),
    }


def payment_row(order_id: str, payment: Mapping[str, Any]) -> dict[str, Any]:
    """One keyCRM payment (``GET /order/{id}?include=payments``, C.5) as a canonical ``payments`` row.

    A payment entered with a method name only (``payment_method``, no id) is typed by that name."""
    method = payment.get("payment_method_id")
    if method is None:
        method = payment.get("payment_method")
    return {
        "payment_id": str(payment["id"]),
        "order_id": order_id,
        "type": None if method is None else str(method),
        "status": None if payment.get("status") is None else str(payment["status"]),
        "amount": minor(payment.get("amount")),
        "paid_at": _ts(payment.get("payment_date") or payment.get("created_at")),
        "external_id": payment.get("transaction_uuid") or None,
    }
