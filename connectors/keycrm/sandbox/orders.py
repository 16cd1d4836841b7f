"""Orders: ``GET /order`` (filters, include), ``GET/PUT /order/{id}``, payments, the dictionaries, and
orders placed or moved by a manager (what fires the "change order status" trigger).

An order in a status with ``is_reserved`` holds its lines' quantity as reserve on the line's
warehouse, as keyCRM's stock accounting does; leaving such a status releases it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.keycrm.sandbox.pages import page_of
from connectors.keycrm.sandbox.state import Json, KeyState
from connectors.keycrm.sandbox.wire import Call, LaravelError, invalid
from connectors.keycrm.wire.conventions import parse_time

#: order keys that appear only when ``include`` names them [spec include list]
INCLUDED = ("buyer", "products", "shipping", "payments", "status", "manager", "tags", "marketing")
FLAT = (
    "id source_uuid global_source_uuid status_on_source source_id client_id grand_total total_discount margin_sum "
    "expenses_sum discount_amount discount_percent shipping_price taxes register_id fiscal_result fiscal_status "
    "shipping_type_id manager_id status_group_id status_id closed_from status_changed_at status_expired_at "
    "parent_id manager_comment client_comment payment_status created_at updated_at closed_at deleted_at ordered_at "
    "source_updated_at payments_total is_expired has_reserves"
).split()


def shaped(state: KeyState, order: Json, includes: set[str]) -> Json:
    """The order as ``GET /order`` answers it with these ``include`` names."""
    out = {k: v for k, v in order.items() if k not in INCLUDED and not k.startswith("_")}
    for name in ("buyer", "shipping", "payments", "manager", "tags", "marketing"):
        if name in includes:
            out[name] = order.get(name)
    if "status" in includes:
        out["status"] = state.status(order["status_id"])
    if "products" in includes or "products.offer" in includes:
        out["products"] = [
            {k: v for k, v in line.items() if k != "offer" or "products.offer" in includes}
            for line in order.get("products") or []
        ]
    return out


def flat_row(state: KeyState, order: Json) -> Json:
    """The flat order row a trigger webhook carries as ``context`` (C.6): no products, buyer or shipping."""
    row = {k: order.get(k) for k in FLAT}
    row["client_id"] = (order.get("buyer") or {}).get("id")
    row["client_comment"] = order.get("buyer_comment")
    row["has_reserves"] = bool((state.status(order["status_id"]) or {}).get("is_reserved"))
    row["is_expired"] = False
    row["payments_total"] = sum(float(p["amount"]) for p in order.get("payments") or [] if p.get("status") == "paid")
    return row


def _between(text: str | None) -> tuple[float, float] | None:
    if not text:
        return None
    first, _, last = text.partition(",")
    start, end = parse_time(first.strip()), parse_time(last.strip())
    if start is None or end is None:
        raise invalid({"filter.between": ["The between filter must be two dates, comma separated."]})
    return start.timestamp(), end.timestamp()


def list_orders(state: KeyState, call: Call) -> tuple[int, Any]:
    statuses = call.filter("status_id")
    wanted = None if statuses is None else {s.strip() for s in statuses.split(",")}
    windows = {k: _between(call.filter(f"{k}_between")) for k in ("created", "updated")}
    rows = []
    for oid in sorted(state.orders, reverse=call.query.get("sort") == "-id"):
        order = state.orders[oid]
        if wanted is not None and str(order["status_id"]) not in wanted:
            continue
        if any(
            w is not None and not (w[0] <= (parse_time(order[f"{k}_at"]) or 0).timestamp() <= w[1])  # type: ignore[union-attr]
            for k, w in windows.items()
        ):
            continue
        rows.append(shaped(state, order, call.includes()))
    return 200, page_of(call, rows)


def _order(state: KeyState, call: Call) -> Json:
    try:
        return state.orders[int(call.args[0])]
    except (KeyError, ValueError):
        raise LaravelError(404, "Order not found.") from None


def get_order(state: KeyState, call: Call) -> tuple[int, Any]:
    return 200, shaped(state, _order(state, call), call.includes())


def put_order(state: KeyState, call: Call) -> tuple[int, Any]:
    order = _order(state, call)
    body = call.body if isinstance(call.body, dict) else {}
    if "status_id" in body:
        status = body["status_id"]
        if not isinstance(status, int) or state.status(status) is None:
            raise invalid({"status_id": ["The selected status id is invalid."]})
        set_status(state, order, status)
    for name in ("buyer_comment", "manager_comment"):
        if name in body:
            order[name] = body[name]
            order["updated_at"] = state.now_iso()
    if "products" in body:
        update_lines(state, order, body["products"])
    return 202, shaped(state, order, set())


def update_lines(state: KeyState, order: Json, items: Any) -> None:
    """Change quantity or price of lines the order has, each named by its SKU: keyCRM's ``PUT
    /order/{id}`` "can only update a product already added to the order, not add a new one" [spec]. A
    reserving order's reserve follows the quantity."""
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise invalid({"products": ["The products must be an array of objects."]})
    by_sku = {str(line.get("sku") or (line.get("offer") or {}).get("sku")): line for line in order["products"]}
    errors = {
        f"products.{n}.sku": ["The product is not in the order."]
        for n, item in enumerate(items)
        if str(item.get("sku")) not in by_sku
    }
    if errors:
        raise invalid(errors)
    reserving = bool((state.status(order["status_id"]) or {}).get("is_reserved"))
    for item in items:
        line = by_sku[str(item["sku"])]
        if "quantity" in item:
            before, line["quantity"] = float(line["quantity"]), float(item["quantity"])
            offer, wid = (line.get("offer") or {}).get("id"), (line.get("warehouse") or {}).get("id")
            if reserving and offer is not None and wid is not None:
                state.stock.setdefault((offer, wid), [0.0, 0.0])[1] += line["quantity"] - before
        if "price" in item:
            line["price"] = line["price_sold"] = float(item["price"])
    order["grand_total"] = round(
        sum(line["price_sold"] * line["quantity"] for line in order["products"])
        + float(order.get("shipping_price") or 0),
        2,
    )
    order["updated_at"] = state.now_iso()


def set_status(state: KeyState, order: Json, status_id: int) -> bool:
    """Move an order to a status (reserves follow it); False when it already was there."""
    if order["status_id"] == status_id:
        return False
    before = bool((state.status(order["status_id"]) or {}).get("is_reserved"))
    after = bool((state.status(status_id) or {}).get("is_reserved"))
    if before != after:
        for line in order.get("products") or []:
            offer, wid = (line.get("offer") or {}).get("id"), (line.get("warehouse") or {}).get("id")
            if offer is not None and wid is not None:
                level = state.stock.setdefault((offer, wid), [0.0, 0.0])
                level[1] += float(line["quantity"]) * (1 if after else -1)
    status = state.status(status_id) or {}
    order["status_id"], order["status_group_id"] = status_id, status.get("group_id")
    order["status_changed_at"] = order["updated_at"] = state.now_iso()
    if status.get("is_closing_order"):
        order["closed_at"] = order["updated_at"][:19].replace("T", " ")
    return True


def new_order(state: KeyState, data: Mapping[str, Any], warehouse_id: int | None = None) -> Json:
    """An order as a manager enters it: lines matched to offers by SKU; a line with no such offer is
    a one-time product (``offer`` null). Starts in status 1 (new) unless ``status_id`` says."""
    oid = state.new_id("order", 1000)
    now = state.now_iso()
    buyer_in = data.get("buyer") or {}
    buyer_id = state.new_id("buyer")
    buyer: Json = {
        "id": buyer_id,
        "full_name": buyer_in.get("full_name"),
        "email": buyer_in.get("email"),
        "phone": buyer_in.get("phone"),
    }
    state.buyers[buyer_id] = buyer
    wid = warehouse_id or next(iter(state.warehouses))
    lines = []
    for item in data.get("products") or []:
        offer = state.offer_by_sku(str(item["sku"])) if item.get("sku") else None
        price = float(item.get("price") or (offer or {}).get("price") or 0)
        lines.append(
            {
                "name": item.get("name") or (state.products.get(offer["product_id"], {}).get("name") if offer else ""),
                "sku": item.get("sku"),
                "price": price,
                "price_sold": price,
                "purchased_price": (offer or {}).get("purchased_price"),
                "discount_percent": 0,
                "discount_amount": 0,
                "total_discount": 0,
                "quantity": float(item.get("quantity") or 1),
                "unit_type": "шт",
                "properties": item.get("properties") or (offer or {}).get("properties") or [],
                "shipment_type": "warehouse",
                "warehouse": {"id": wid, "name": state.warehouses[wid], "description": None, "is_active": True}
                if offer
                else None,
                "offer": dict(offer) if offer else None,
            }
        )
    total = sum(line["price_sold"] * line["quantity"] for line in lines)
    order: Json = {
        "id": oid,
        "parent_id": None,
        "source_uuid": data.get("source_uuid"),
        "source_id": data.get("source_id", 1),
        "status_id": 1,
        "status_group_id": 1,
        "grand_total": round(total + float(data.get("shipping_price") or 0), 2),
        "total_discount": 0,
        "shipping_price": data.get("shipping_price", 0),
        "taxes": 0,
        "manager_comment": data.get("manager_comment"),
        "buyer_comment": data.get("buyer_comment"),
        "payment_status": "not_paid",
        "created_at": now,
        "ordered_at": now,
        "updated_at": now,
        "status_changed_at": now,
        "closed_at": None,
        "last_synced_at": None,
        "buyer": buyer,
        "products": lines,
        "shipping": {
            "delivery_service_id": (data.get("shipping") or {}).get("delivery_service_id"),
            "shipping_address_city": (data.get("shipping") or {}).get("shipping_address_city"),
            "recipient_full_name": buyer["full_name"],
        },
        "payments": [],
    }
    state.orders[oid] = order
    if data.get("status_id") and data["status_id"] != 1:
        set_status(state, order, int(data["status_id"]))
    return order


#: the statuses a payment takes [spec enum, inferred: not_paid, paid, canceled]
PAYMENT_STATUSES = ("not_paid", "paid", "canceled")


def payment_fields(state: KeyState, body: Mapping[str, Any], *, required: bool) -> Json:
    """The fields of a payment body (``{payment_method_id | payment_method, amount, status,
    description, payment_date}`` [spec]), checked as keyCRM's validation does (422)."""
    errors: dict[str, list[str]] = {}
    out: Json = {}
    methods = {m["id"]: m for m in state.payment_methods}
    if "payment_method_id" in body:
        if body["payment_method_id"] not in methods:
            errors["payment_method_id"] = ["The selected payment method id is invalid."]
        out["payment_method_id"] = body["payment_method_id"]
    elif "payment_method" in body:
        named = next((m for m in state.payment_methods if m["name"] == body["payment_method"]), None)
        if named is None:
            errors["payment_method"] = ["The selected payment method is invalid."]
        else:
            out["payment_method_id"] = named["id"]
    elif required:
        errors["payment_method_id"] = ["The payment method id field is required when payment method is not present."]
    if "amount" in body or required:
        amount = body.get("amount")
        if not isinstance(amount, int | float) or isinstance(amount, bool) or amount < 0:
            errors["amount"] = ["The amount field is required." if amount is None else "The amount must be a number."]
        out["amount"] = amount
    if "status" in body:
        if body["status"] not in PAYMENT_STATUSES:
            errors["status"] = ["The selected status is invalid."]
        out["status"] = body["status"]
    for name in ("description", "payment_date"):
        if name in body:
            out[name] = body[name]
    if out.get("payment_date") is not None:
        try:
            parse_time(out["payment_date"])
        except ValueError:
            errors["payment_date"] = ["The payment date is not a valid date."]
    if errors:
        raise invalid(errors)
    return out


def _paid_status(order: Json) -> str:
    """The order's ``payment_status`` from its payments (paid | overpaid | part_paid | not_paid) [spec]."""
    paid = sum(float(p["amount"]) for p in order.get("payments") or [] if p.get("status") == "paid")
    total = float(order.get("grand_total") or 0)
    if paid <= 0:
        return "not_paid"
    return "paid" if paid == total else "overpaid" if paid > total else "part_paid"


def record_payment(state: KeyState, order: Json, fields: Mapping[str, Any], payment_id: int | None = None) -> Json:
    """Add a payment to an order (or change one, by id); the order's ``updated_at`` and
    ``payment_status`` follow, as keyCRM's do. Returns the payment."""
    now = state.now_iso()
    if payment_id is None:
        payment: Json = {
            "id": state.new_id("payment"),
            "destination_id": None,
            "payment_method_id": fields.get("payment_method_id"),
            "amount": fields["amount"],
            "actual_currency": "UAH",
            "transaction_uuid": None,
            "description": fields.get("description"),
            "status": fields.get("status", "not_paid"),
            "fiscal_result": None,
            "payment_date": fields.get("payment_date") or now[:19].replace("T", " "),
            "created_at": now,
            "updated_at": now,
        }
        order.setdefault("payments", []).append(payment)
    else:
        payment = next(p for p in order.get("payments") or [] if p["id"] == payment_id)
        payment.update(fields)
        payment["updated_at"] = now
    order["payment_status"] = _paid_status(order)
    order["updated_at"] = now
    return payment


def add_payment(state: KeyState, call: Call) -> tuple[int, Any]:
    order = _order(state, call)
    body = call.body if isinstance(call.body, dict) else {}
    return 201, record_payment(state, order, payment_fields(state, body, required=True))


def put_payment(state: KeyState, call: Call) -> tuple[int, Any]:
    order = _order(state, call)
    pid = int(call.args[1])
    if not any(p["id"] == pid for p in order.get("payments") or []):
        raise LaravelError(404, "Payment not found.")
    body = call.body if isinstance(call.body, dict) else {}
    return 202, record_payment(state, order, payment_fields(state, body, required=False), pid)


def dictionary(name: str) -> Any:
    def handler(state: KeyState, call: Call) -> tuple[int, Any]:
        return 200, page_of(call, list(getattr(state, name)))

    return handler
