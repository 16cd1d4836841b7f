"""Customers: ``customers/*`` and ``customers/history``; orders create their customer on the fly."""

from __future__ import annotations

import re
from typing import Any

from connectors.retailcrm.sandbox.state import CrmState, now_local
from connectors.retailcrm.sandbox.wire import Call, as_list, not_found, paginate, validation

Reply = tuple[int, dict[str, Any]]

_CUSTOMER_FIELDS = ("firstName", "lastName", "patronymic", "email", "phones", "address", "externalId")


def new_customer(state: CrmState, data: dict[str, Any], site: str, author: str | None) -> int:
    """Store a customer and record ``id`` creation in the customers history."""
    ext = data.get("externalId")
    if ext and (site, str(ext)) in state.customer_by_external:
        raise validation({"externalId": "Customer with the same externalId already exists."})
    cid = state.next_id("customer")
    customer = {
        "type": "customer",
        "id": cid,
        "createdAt": now_local(),
        "site": site,
        "vip": False,
        "bad": False,
        "contragent": {"contragentType": "individual"},
        "customFields": {},
        "phones": [],
        "marginSumm": 0,
        "totalSumm": 0,
        "averageSumm": 0,
        "ordersCount": 0,
        "segments": [],
        "personalDiscount": 0,
        "cumulativeDiscount": 0,
    }
    customer.update(data)
    state.customers[cid] = customer
    if ext:
        state.customer_by_external[(site, str(ext))] = cid
    state.record(
        state.customer_history,
        field_name="id",
        old=None,
        new=cid,
        entity=dict(customer),
        author_key=author,
        created=True,
    )
    return cid


def ensure_customer(state: CrmState, order: dict[str, Any], site: str, author: str | None) -> int:
    """The order's customer: referenced by id/externalId, or created from the order's contact."""
    ref = order.get("customer") or {}
    if ref.get("id") is not None:
        if int(ref["id"]) not in state.customers:
            raise validation({"customer.id": f"Customer with id {ref['id']} not found."})
        return int(ref["id"])
    if ref.get("externalId") and (site, str(ref["externalId"])) in state.customer_by_external:
        return state.customer_by_external[(site, str(ref["externalId"]))]
    data: dict[str, Any] = {k: order[k] for k in ("firstName", "lastName", "patronymic", "email") if order.get(k)}
    if order.get("phone"):
        data["phones"] = [{"number": order["phone"]}]
    if ref.get("externalId"):
        data["externalId"] = str(ref["externalId"])
    return new_customer(state, data, site, author)


def render_customer_ref(state: CrmState, cid: int) -> dict[str, Any]:
    return dict(state.customers[cid])


def _find(state: CrmState, call: Call, uid: str) -> int:
    if call.param("by", "externalId") == "id":
        if uid.isdigit() and int(uid) in state.customers:
            return int(uid)
        raise not_found()
    for site in [call.extra["site"]] if call.extra.get("site") else call.sites:
        if (site, uid) in state.customer_by_external:
            return state.customer_by_external[(site, uid)]
    raise not_found()


def customers_list(state: CrmState, call: Call) -> Reply:
    limit, page = call.page()
    flt = call.filters()
    ids = sorted(state.customers, reverse=True)
    for param, attr in (("ids", "id"), ("externalIds", "externalId"), ("sites", "site")):
        values = as_list(flt.get(param))
        if values:
            ids = [i for i in ids if str(state.customers[i].get(attr)) in values]
    if flt.get("email"):
        ids = [i for i in ids if state.customers[i].get("email") == flt["email"]]
    if flt.get("name"):  # the search box: a name, a phone (by its digits) or an e-mail [inferred]
        ids = [i for i in ids if _matches(state.customers[i], str(flt["name"]))]
    page_ids, pagination = paginate(ids, limit, page)
    return 200, {"success": True, "pagination": pagination, "customers": [state.customers[i] for i in page_ids]}


def _matches(customer: dict[str, Any], text: str) -> bool:
    wanted = text.strip().lower()
    digits = re.sub(r"\D", "", wanted)
    names = " ".join(str(customer.get(k) or "") for k in ("firstName", "lastName", "patronymic")).lower()
    phones = [re.sub(r"\D", "", str(p.get("number") or "")) for p in customer.get("phones") or []]
    return (
        wanted in names
        or wanted == str(customer.get("email") or "").lower()
        or (len(digits) >= 6 and any(digits in p or p.endswith(digits[-9:]) for p in phones))
    )


def customers_get(state: CrmState, call: Call) -> Reply:
    return 200, {"success": True, "customer": state.customers[_find(state, call, call.args[0])]}


def customers_create(state: CrmState, call: Call) -> Reply:
    data = call.json_field("customer")
    if not isinstance(data, dict):
        raise validation({"customer": "This value should be of type object."})
    cid = new_customer(state, data, call.extra["site"], call.api_key)
    return 201, {"success": True, "id": cid}


def customers_edit(state: CrmState, call: Call) -> Reply:
    cid = _find(state, call, call.args[0])
    edit_customer(state, cid, call.json_field("customer"), call.api_key)
    return 200, {"success": True, "id": cid}


def edit_customer(state: CrmState, cid: int, data: Any, author: str | None) -> None:
    """Apply an edit; each changed field gets a customers history record (``author``: the key, None: a user)."""
    if not isinstance(data, dict):
        raise validation({"customer": "This value should be of type object."})
    customer = state.customers[cid]
    for key, new in data.items():
        if key in ("id", "site") or customer.get(key) == new:
            continue
        old, customer[key] = customer.get(key), new
        if key == "externalId":
            state.customer_by_external[(customer["site"], str(new))] = cid
        state.record(
            state.customer_history,
            field_name=key,
            old=old,
            new=new,
            entity={"id": cid, "externalId": customer.get("externalId"), "site": customer["site"]},
            author_key=author,
        )
