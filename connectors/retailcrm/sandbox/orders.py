"""Orders, payments and order history: ``orders/*`` with retailCRM's validation and history rules.

Validation texts [lib where noted]: an unknown offer is ``Offer with id N not found.`` keyed by the
item path (``items[0].offer.id``; go client fixture); an unknown status, delivery or payment type
answer ``Errors in the entity format`` with the field as key [text unverified].
"""

from __future__ import annotations

from typing import Any

from connectors.retailcrm.sandbox.catalog import render_offer
from connectors.retailcrm.sandbox.custom_fields import check_values
from connectors.retailcrm.sandbox.customers import ensure_customer, render_customer_ref
from connectors.retailcrm.sandbox.state import CrmState, now_local
from connectors.retailcrm.sandbox.wire import ApiError, Call, as_list, not_found, paginate, validation

Reply = tuple[int, dict[str, Any]]

# order fields the history reports under another name, or as {"code": ...} references
_HISTORY_FIELD = {
    "status": "status",
    "managerComment": "manager_comment",
    "customerComment": "customer_comment",
    "shipmentStore": "shipment_store",
    "shipmentDate": "shipment_date",
    "shipped": "shipped",
    "firstName": "first_name",
    "lastName": "last_name",
    "phone": "phone",
    "email": "email",
    "externalId": "external_id",
    "number": "number",
    "managerId": "manager",
}
_CODE_VALUED = {"status"}


def _validate(state: CrmState, order: dict[str, Any], site: str, errors: dict[str, str]) -> list[dict[str, Any]]:
    items = []
    for i, item in enumerate(order.get("items") or []):
        ref = item.get("offer") or {}
        offer_id = state.find_offer(ref, site) if ref else None
        if ref and offer_id is None:
            key = next((k for k in ("id", "externalId", "xmlId") if ref.get(k) not in (None, "")), "id")
            errors[f"items[{i}].offer.{key}"] = f"Offer with {key} {ref.get(key)} not found."
        items.append({"item": item, "offer_id": offer_id})
    if "status" in order and order["status"] not in state.statuses:
        errors["status"] = f'Status "{order["status"]}" does not exist.'
    code = (order.get("delivery") or {}).get("code")
    if code and code not in state.delivery_types:
        errors["delivery.code"] = f'Delivery type "{code}" does not exist.'
    for j, payment in enumerate(order.get("payments") or []):
        if payment.get("type") not in state.payment_types:
            errors[f"payments[{j}].type"] = f'Payment type "{payment.get("type")}" does not exist.'
    store = order.get("shipmentStore")
    if store and store not in state.store_codes:
        errors["shipmentStore"] = f'Store "{store}" does not exist.'
    check_values(state, order.get("customFields"), errors)
    for i, item in enumerate(order.get("items") or []):
        code = _item_store(item)
        if code is not None and code not in state.store_codes:
            errors[f"items[{i}].store"] = f'Store "{code}" does not exist.'
    return items


def _item_store(item: dict[str, Any]) -> str | None:
    store = item.get("store")
    code = store.get("code") if isinstance(store, dict) else store
    return None if code in (None, "") else str(code)


def _build_items(state: CrmState, resolved: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for entry in resolved:
        item, offer_id = entry["item"], entry["offer_id"]
        price = float(item.get("initialPrice", 0) or 0)
        quantity = float(item.get("quantity", 1) or 1)
        row: dict[str, Any] = {
            "id": state.next_id("item"),
            "initialPrice": price,
            "quantity": quantity,
            "discountTotal": float(item.get("discountManualAmount", 0) or 0),
            "prices": [{"price": price, "quantity": quantity}],
            "status": "new",
            "createdAt": now_local(),
            "vatRate": item.get("vatRate", "none"),
            "purchasePrice": item.get("purchasePrice", 0),
            "externalIds": item.get("externalIds", []),
            "priceType": item.get("priceType") or {"code": state.default_price_type()},
        }
        if offer_id is not None:
            offer = render_offer(state, offer_id, with_product=False)
            row["offer"] = {k: offer.get(k) for k in ("id", "externalId", "xmlId", "name", "article")}
            row["offer"]["displayName"] = offer["name"]
        row["productName"] = item.get("productName") or (row.get("offer") or {}).get("name") or ""
        if _item_store(item) is not None:  # the warehouse the item is reserved at (see convert.item_store)
            row["store"] = {"code": _item_store(item)}
        out.append(row)
    return out


#: item fields an edit naming the item by ``id`` may change (the rest stays as it is)
_ITEM_EDITABLE = ("quantity", "initialPrice", "purchasePrice", "status", "comment", "vatRate", "store")


def _edit_items(state: CrmState, items: list[dict[str, Any]], resolved: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An edit's ``items``: the list replaces the order's; an item named by ``id`` is that item,
    updated by the fields given (a new item otherwise), as retailCRM edits order items."""
    by_id = {str(it["id"]): it for it in items}
    out = []
    for entry in resolved:
        item = entry["item"]
        old = by_id.get(str(item.get("id")))
        if old is None:
            out.extend(_build_items(state, [entry]))
            continue
        row = {**old, **{k: item[k] for k in _ITEM_EDITABLE if k in item}}
        row["prices"] = [{"price": row["initialPrice"], "quantity": row["quantity"]}]
        out.append(row)
    return out


def _totals(order: dict[str, Any]) -> None:
    summ = sum((it["initialPrice"] * it["quantity"]) - it["discountTotal"] for it in order["items"])
    order["summ"] = round(summ, 2)
    order["totalSumm"] = round(summ + float((order.get("delivery") or {}).get("cost", 0) or 0), 2)


def _payments(state: CrmState, order_id: int, payments: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in payments:
        pid = state.next_id("payment")
        state.payments[pid] = {"id": pid, "orderId": order_id, "status": "not-paid", **p}
        out[str(pid)] = {k: v for k, v in state.payments[pid].items() if k != "orderId"}
    return out


def create_order(state: CrmState, data: dict[str, Any], site: str, author: str | None) -> dict[str, Any]:
    """Validate and store one order; record its creation in the history. Raises ApiError."""
    if not isinstance(data, dict):
        raise validation({"order": "This value should be of type object."})
    errors: dict[str, str] = {}
    resolved = _validate(state, data, site, errors)
    ext = data.get("externalId")
    if ext and (site, str(ext)) in state.order_by_external:
        errors["externalId"] = "Order with the same externalId already exists."
    if errors:
        raise validation(errors)
    order_id = state.next_id("order")
    stamp = now_local()
    order = {k: v for k, v in data.items() if k not in ("items", "payments", "customer")}
    order.update(
        {
            "id": order_id,
            "slug": order_id,
            "number": data.get("number") or f"{order_id}A",
            "site": site,
            "status": data.get("status", "new"),
            "createdAt": data.get("createdAt", stamp),
            "statusUpdatedAt": stamp,
            "currency": "RUB",
            "customFields": data.get("customFields", {}),
            "delivery": data.get("delivery", {}),
            "items": _build_items(state, resolved),
        }
    )
    customer_id = ensure_customer(state, data, site, author)
    order["customer"] = render_customer_ref(state, customer_id)
    order["payments"] = _payments(state, order_id, data.get("payments") or [])
    _totals(order)
    state.orders[order_id] = order
    if ext:
        state.order_by_external[(site, str(ext))] = order_id
    state.record(
        state.history, field_name="id", old=None, new=order_id, entity=dict(order), author_key=author, created=True
    )
    return order


def find_order(state: CrmState, call: Call, uid: str) -> int:
    by = call.param("by", "externalId")
    if by == "id":
        if uid.isdigit() and int(uid) in state.orders:
            return int(uid)
        raise not_found()
    for site in [call.extra["site"]] if call.extra.get("site") else call.sites:
        if (site, uid) in state.order_by_external:
            return state.order_by_external[(site, uid)]
    raise not_found()


def _ref(order: dict[str, Any]) -> dict[str, Any]:
    return {"id": order["id"], "externalId": order.get("externalId"), "site": order["site"]}


def edit_order(state: CrmState, order_id: int, data: dict[str, Any], author: str | None) -> dict[str, Any]:
    """Apply an edit; each changed field gets a history record. Raises ApiError."""
    if not isinstance(data, dict):
        raise validation({"order": "This value should be of type object."})
    order = state.orders[order_id]
    errors: dict[str, str] = {}
    resolved = _validate(state, data, order["site"], errors)
    if errors:
        raise validation(errors)
    for key, new in data.items():
        if key in ("id", "by", "site", "items", "payments", "customer"):
            continue
        if key == "customFields" and isinstance(new, dict):
            _edit_custom_fields(state, order, new, author)
            continue
        old = order.get(key)
        if old == new:
            continue
        order[key] = new
        if key == "status":
            order["statusUpdatedAt"] = now_local()
        if key == "externalId":
            state.order_by_external[(order["site"], str(new))] = order_id
        name = _HISTORY_FIELD.get(key, key)
        wrap = (lambda v: None if v is None else {"code": v}) if key in _CODE_VALUED else (lambda v: v)
        state.record(
            state.history, field_name=name, old=wrap(old), new=wrap(new), entity=_ref(order), author_key=author
        )
    if "items" in data:
        order["items"] = _edit_items(state, order["items"], resolved)
        state.record(
            state.history, field_name="order_product", old=None, new=None, entity=_ref(order), author_key=author
        )
    _totals(order)
    return order


def _edit_custom_fields(state: CrmState, order: dict[str, Any], fields: dict[str, Any], author: str | None) -> None:
    """An edit's ``customFields`` sets the fields it names (the others stay); each change is a
    history record ``custom_<code>`` (crm.md A.7)."""
    held = order.get("customFields")
    held = dict(held) if isinstance(held, dict) else {}  # an order without any answers []
    for code, value in fields.items():
        if held.get(code) == value:
            continue
        old, held[code] = held.get(code), value
        state.record(
            state.history, field_name=f"custom_{code}", old=old, new=value, entity=_ref(order), author_key=author
        )
    order["customFields"] = held


def orders_list(state: CrmState, call: Call) -> Reply:
    limit, page = call.page()
    flt = call.filters()
    ids = sorted(state.orders, reverse=True)
    checks = {
        "ids": "id",
        "externalIds": "externalId",
        "numbers": "number",
        "sites": "site",
        "extendedStatus": "status",
    }
    for param, attr in checks.items():
        values = as_list(flt.get(param))
        if values:
            ids = [i for i in ids if str(state.orders[i].get(attr)) in values]
    for param, keep in (("createdAtFrom", lambda a, b: a >= b), ("createdAtTo", lambda a, b: a <= b)):
        bound = str(flt.get(param) or "")
        if bound:  # "Y-m-d" (a whole day) or "Y-m-d H:i:s", both account-local
            ids = [i for i in ids if keep(str(state.orders[i]["createdAt"])[: len(bound)], bound)]
    page_ids, pagination = paginate(ids, limit, page)
    return 200, {"success": True, "pagination": pagination, "orders": [state.orders[i] for i in page_ids]}


def orders_get(state: CrmState, call: Call) -> Reply:
    return 200, {"success": True, "order": state.orders[find_order(state, call, call.args[0])]}


def orders_create(state: CrmState, call: Call) -> Reply:
    order = create_order(state, call.json_field("order"), call.extra["site"], call.api_key)
    return 201, {"success": True, "id": order["id"], "order": order}


def orders_edit(state: CrmState, call: Call) -> Reply:
    order_id = find_order(state, call, call.args[0])
    order = edit_order(state, order_id, call.json_field("order"), call.api_key)
    return 200, {"success": True, "id": order_id, "order": order}


def orders_upload(state: CrmState, call: Call) -> Reply:
    """Create many; a partial failure answers HTTP 460 with errors as an array (go fixture)."""
    orders = call.json_field("orders")
    if not isinstance(orders, list):
        raise validation({"orders": "This value should be of type array."})
    if len(orders) > 50:
        raise ApiError(400, "Parameter 'orders' must contain 50 or less records")
    uploaded: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    errors: list[str] = []
    for data in orders:
        try:
            order = create_order(state, data, call.extra["site"], call.api_key)
        except ApiError as exc:
            failed.append({"externalId": (data or {}).get("externalId")})
            errs = exc.errors or {}
            errors.extend([f"{k}: {v}" for k, v in errs.items()] if isinstance(errs, dict) else errs)
            continue
        uploaded.append({"id": order["id"], "externalId": order.get("externalId")})
    if failed:
        return 460, {
            "success": False,
            "uploadedOrders": uploaded,
            "failedOrders": failed,
            "errorMsg": "Orders are loaded with errors",
            "errors": errors,
        }
    return 201, {"success": True, "uploadedOrders": uploaded}


def fix_external_ids(state: CrmState, call: Call) -> Reply:
    pairs = call.json_field("orders")
    pairs = pairs if isinstance(pairs, list) else []
    if any(int(pair.get("id", 0)) not in state.orders for pair in pairs):
        raise not_found()  # nothing is changed then
    for pair in pairs:
        oid = int(pair["id"])
        order = state.orders[oid]
        old, order["externalId"] = order.get("externalId"), str(pair["externalId"])
        if old is not None:
            state.order_by_external.pop((order["site"], str(old)), None)
        state.order_by_external[(order["site"], order["externalId"])] = oid
        if old != order["externalId"]:
            state.record(
                state.history,
                field_name="external_id",
                old=old,
                new=order["externalId"],
                entity=_ref(order),
                author_key=call.api_key,
            )
    return 200, {"success": True}


def order_statuses(state: CrmState, call: Call) -> Reply:
    ids = set(as_list(call.query.get("ids")))
    ext = set(as_list(call.query.get("externalIds")))
    found = [o for o in state.orders.values() if str(o["id"]) in ids or str(o.get("externalId")) in ext]
    return 200, {
        "success": True,
        "orders": [
            {
                "id": o["id"],
                "externalId": o.get("externalId"),
                "status": o["status"],
                "group": state.statuses[o["status"]]["group"],
            }
            for o in found
        ],
    }


def payment_create(state: CrmState, call: Call) -> Reply:
    data = call.json_field("payment")
    ref = data.get("order") or {}
    order_id = None
    if ref.get("id") is not None and int(ref["id"]) in state.orders:
        order_id = int(ref["id"])
    elif ref.get("externalId") is not None:
        order_id = next((oid for (s, e), oid in state.order_by_external.items() if e == str(ref["externalId"])), None)
    if order_id is None:
        raise validation({"order": "Order not found."})
    if data.get("type") not in state.payment_types:
        raise validation({"type": f'Payment type "{data.get("type")}" does not exist.'})
    payment = {k: v for k, v in data.items() if k != "order"}
    created = _payments(state, order_id, [payment])
    state.orders[order_id]["payments"].update(created)
    pid = int(next(iter(created)))
    state.record(
        state.history,
        field_name="payments",
        old=None,
        new={"id": pid},
        entity=_ref(state.orders[order_id]),
        author_key=call.api_key,
    )
    return 201, {"success": True, "id": pid}


def payment_edit(state: CrmState, call: Call) -> Reply:
    data = call.json_field("payment")
    uid, by = call.args[0], call.param("by", "externalId")
    pid = next(
        (p for p, v in state.payments.items() if (str(p) == uid if by == "id" else str(v.get("externalId")) == uid)),
        None,
    )
    if pid is None:
        raise not_found()
    payment = state.payments[pid]
    old_status = payment.get("status")
    payment.update({k: v for k, v in data.items() if k not in ("id", "order")})
    order = state.orders[payment["orderId"]]
    order["payments"][str(pid)] = {k: v for k, v in payment.items() if k != "orderId"}
    if payment.get("status") != old_status:
        state.record(
            state.history,
            field_name="payments.status",
            old={"code": old_status},
            new={"code": payment.get("status")},
            entity=_ref(order),
            author_key=call.api_key,
        )
    return 200, {"success": True, "id": pid}


#: payment fields whose change the history records, and the field name it records them under
_PAYMENT_HISTORY = {"status": "payments.status", "paidAt": "payments.paid_at", "amount": "payments.amount"}


def add_payment(state: CrmState, order_id: int, payment: dict[str, Any], author: str | None) -> int:
    """Add one payment to an order (validated as ``orders/payments/create``); returns its id."""
    if payment.get("type") not in state.payment_types:
        raise validation({"type": f'Payment type "{payment.get("type")}" does not exist.'})
    created = _payments(state, order_id, [payment])
    state.orders[order_id]["payments"].update(created)
    pid = int(next(iter(created)))
    order = state.orders[order_id]
    state.record(state.history, field_name="payments", old=None, new={"id": pid}, entity=_ref(order), author_key=author)
    return pid


def change_payment(state: CrmState, payment_id: int, changes: dict[str, Any], author: str | None) -> None:
    """Change a payment; each changed field the history knows gets its record."""
    payment = state.payments[payment_id]
    order = state.orders[payment["orderId"]]
    for key, value in changes.items():
        old = payment.get(key)
        if key in ("id", "order") or old == value:
            continue
        payment[key] = value
        if key in _PAYMENT_HISTORY:
            wrap = (lambda v: {"code": v}) if key == "status" else (lambda v: v)
            state.record(
                state.history,
                field_name=_PAYMENT_HISTORY[key],
                old=wrap(old),
                new=wrap(value),
                entity=_ref(order),
                author_key=author,
            )
    order["payments"][str(payment_id)] = {k: v for k, v in payment.items() if k != "orderId"}


def delete_order(state: CrmState, order_id: int, author: str | None) -> None:
    """Delete an order; the history says so with a record marked ``deleted`` (as the official
    modules read it: retailcrm/bitrix-module skips an assembled order whose ``deleted`` is set)."""
    order = state.orders.pop(order_id)
    if order.get("externalId"):
        state.order_by_external.pop((order["site"], str(order["externalId"])), None)
    state.record(
        state.history, field_name="id", old=order_id, new=None, entity=_ref(order), author_key=author, deleted=True
    )
