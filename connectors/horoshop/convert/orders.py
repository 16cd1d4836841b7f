"""``orders/get`` rows → canonical ``orders``, ``order_lines``, ``customers`` and ``payments`` frames.

The field reports' traps (crm.md D.1) are handled here, once:

* ``user`` is the storefront account's number (0 for a guest), not a customer id: the customer is
  identified by the normalised phone (else the e-mail), which is also how CRMs match customers;
* ``delivery_price`` −1 means "not calculated": the delivery cost is unknown (null), not −1 ₴;
* ``total_sum`` excludes the delivery: the canonical ``total`` adds a known delivery cost;
* dates are the shop's local time without an offset (converted to UTC with the shop's time zone).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from connectors.horoshop.wire.shop_time import from_wire
from hub import model

#: ``delivery_price`` of a delivery the shop has not calculated
NOT_CALCULATED = -1


def minor(value: Any) -> int | None:
    """Hryvnias (a number or a numeric string) → kopecks; None when absent or unreadable."""
    if value in (None, ""):
        return None
    try:
        return round(float(str(value).replace(",", ".")) * 100)
    except ValueError:
        return None


def phone_key(phone: Any) -> str:
    """A phone reduced to its digits, with Ukraine's country code (``067 123 4567`` → ``380671234567``)."""
    digits = re.sub(r"\D", "", str(phone or ""))
    if len(digits) == 10 and digits.startswith("0"):
        digits = "38" + digits
    return digits


def customer_key(order: Mapping[str, Any]) -> str:
    """The customer an order belongs to: by phone, else e-mail, else the order itself (a guest with neither)."""
    phone = phone_key(order.get("delivery_phone"))
    if phone:
        return f"phone:{phone}"
    email = str(order.get("delivery_email") or "").strip().lower()
    return f"email:{email}" if email else f"order:{order.get('order_id')}"


def delivery_cost(order: Mapping[str, Any]) -> int | None:
    """The delivery cost in kopecks; None when the shop has not calculated it (−1)."""
    price = order.get("delivery_price")
    try:
        if price is None or float(price) == NOT_CALCULATED:
            return None
    except (TypeError, ValueError):
        return None
    return minor(price)


def _title(value: Any) -> str | None:
    if isinstance(value, Mapping):
        return str(value.get("ua") or value.get("ru") or next(iter(value.values()), "")) or None
    return str(value) if value not in (None, "") else None


def _ref(value: Any) -> str | None:
    if isinstance(value, Mapping):
        return str(value["id"]) if value.get("id") not in (None, "") else None
    return str(value) if value not in (None, "") else None


def orders_from_shop(rows: Sequence[Mapping[str, Any]], *, tz: str) -> dict[str, pd.DataFrame]:
    """Canonical frames of ``orders/get`` rows (``offer_id`` of a line: the product's article)."""
    orders, lines, customers, payments = [], [], {}, []
    for row in rows:
        oid = str(row["order_id"])
        created = from_wire(row.get("stat_created"), tz)
        cost = delivery_cost(row)
        goods = minor(row.get("total_sum")) or 0
        who = customer_key(row)
        address = ", ".join(str(p) for p in (row.get("delivery_city"), row.get("delivery_address")) if p)
        orders.append(
            {
                "order_id": oid,
                "number": oid,
                "status": str(row.get("stat_status")) if row.get("stat_status") is not None else None,
                "customer_id": who,
                "created_at": created,
                "updated_at": created,
                "total": goods + (cost or 0),
                "currency": row.get("currency") or "UAH",
                "delivery_type": _ref(row.get("delivery_type")),
                "delivery_cost": cost,
                "delivery_address": address or None,
                "comment": row.get("comment") or None,
                "manager_comment": row.get("manager_comment") or None,
            }
        )
        for no, item in enumerate(row.get("products") or [], start=1):
            if item.get("type") == "set_item":  # a set's parts ride on its main line (priced there)
                continue
            quantity = float(item.get("quantity") or 0)
            price = minor(item.get("price")) or 0
            total = minor(item.get("total_price"))
            discount = max(0, round(price * quantity) - total) if total is not None else 0
            lines.append(
                {
                    "order_id": oid,
                    "line_no": no,
                    "offer_id": str(item["article"]) if item.get("article") else None,
                    "name": _title(item.get("title")),
                    "quantity": quantity,
                    "price": price,
                    "discount": discount,
                }
            )
        ptype = _ref(row.get("payment_type"))
        if ptype is not None:
            # one payment per order: its method, the whole sum (goods + a known delivery), and the paid flag
            payments.append(
                {
                    "payment_id": f"{oid}:1",
                    "order_id": oid,
                    "type": ptype,
                    "status": "paid" if str(row.get("payed")) in ("1", "true", "True") else "not-paid",
                    "amount": goods + (cost or 0) + (minor(row.get("payment_price")) or 0),
                }
            )
        name = str(row.get("delivery_name") or "").strip()
        first, _, last = name.partition(" ")
        customers[who] = {
            "customer_id": who,
            "company_type": "individual",
            "name": name or None,
            "first_name": first or None,
            "last_name": last or None,
            "phone": str(row.get("delivery_phone") or "") or None,
            "email": str(row.get("delivery_email") or "") or None,
            "address": address or None,
            "updated_at": created,
        }
    return {
        "orders": model.frame("orders", orders),
        "order_lines": model.frame("order_lines", lines),
        "customers": model.frame("customers", list(customers.values())),
        "payments": model.frame("payments", payments),
    }


def status_change(order_id: str, status: str) -> dict[str, Any]:
    """One ``orders/update`` entry setting a status (ids are integers on the wire)."""
    return {"order_id": int(order_id), "status": int(status)}
