"""Reference books and the catalog: ``reference/*``, ``store/*`` and ICML loading."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from connectors.retailcrm.convert.icml import IcmlCategory, IcmlOffer
from connectors.retailcrm.sandbox.state import CrmState, now_local
from connectors.retailcrm.sandbox.wire import ApiError, Call, as_list, paginate, site_refusal

Reply = tuple[int, dict[str, Any]]

#: batch limit of inventories/prices upload [lib: .NET client's check; server-side text not seen]
UPLOAD_LIMIT = 250

#: reference book path -> response key; every book is keyed by code except stores (an array)
REFERENCE_KEYS = {
    "statuses": "statuses",
    "stores": "stores",
    "sites": "sites",
    "delivery-types": "deliveryTypes",
    "payment-types": "paymentTypes",
    "payment-statuses": "paymentStatuses",
    "price-types": "priceTypes",
}


def reference(state: CrmState, call: Call) -> Reply:
    name = call.args[0]
    books: dict[str, Any] = {
        "statuses": state.statuses,
        "stores": state.stores,
        "sites": state.sites,
        "delivery-types": state.delivery_types,
        "payment-types": state.payment_types,
        "payment-statuses": state.payment_statuses,
        "price-types": state.price_types,
    }
    if name not in books:
        raise ApiError(404, "API method not found")
    return 200, {"success": True, REFERENCE_KEYS[name]: books[name]}


def site_edit(state: CrmState, call: Call) -> Reply:
    """``POST /reference/sites/{code}/edit``: how the hub points a store at its ICML feed."""
    code = call.args[0]
    data = call.json_field("site")
    if not isinstance(data, dict):
        raise ApiError(400, "Errors in the entity format", {"site": "Invalid value"})
    created = code not in state.sites
    site = state.sites.setdefault(code, {"id": state.next_id("site") + 100, "code": code, "name": code})
    site.update({k: v for k, v in data.items() if k != "code"})
    return (201 if created else 200), {"success": True, "id": site["id"]}


def upsert_catalog(state: CrmState, site: str, categories: list[IcmlCategory], offers: Iterable[IcmlOffer]) -> int:
    """Load a parsed ICML into ``site``'s catalog; offers absent from the feed become inactive."""
    seen: set[int] = set()
    base = state.default_price_type()
    for item in offers:
        product_key = (site, item.product_id)
        product_id = state.product_by_external.get(product_key)
        if product_id is None:
            product_id = state.next_id("product")
            state.product_by_external[product_key] = product_id
        article = next((value for _name, code, value in item.params if code == "article"), None)
        state.products[product_id] = {
            "id": product_id,
            "externalId": item.product_id,
            "name": item.product_name,
            "article": article,
            "manufacturer": item.vendor,
            "active": item.active,
            "type": "product",
            "url": item.url,
            "imageUrl": item.pictures[0] if item.pictures else None,
            "groups": [{"externalId": c} for c in item.category_ids],
            "site": site,
        }
        offer_id = state.offer_by_external.get((site, item.id))
        if offer_id is None:
            offer_id = state.next_id("offer")
            state.offer_by_external[(site, item.id)] = offer_id
        if item.xml_id:
            state.offer_by_xml[(site, item.xml_id)] = offer_id
        state.offers[offer_id] = {
            "id": offer_id,
            "externalId": item.id,
            "xmlId": item.xml_id,
            "name": item.name,
            "article": article,
            "site": site,
            "productId": product_id,
            "active": item.active,
            "purchasePrice": None if item.purchase_price is None else float(item.purchase_price),
            "vatRate": item.vat_rate or "none",
            "weight": item.weight,
            "images": list(item.pictures),
            "properties": {code or name: value for name, code, value in item.params if code != "article"},
            "icmlQuantity": item.quantity,
        }
        if item.price is not None:
            state.prices.setdefault(offer_id, {})[base] = float(item.price)
        seen.add(offer_id)
    for offer_id, offer in state.offers.items():
        if offer["site"] == site and offer_id not in seen:
            offer["active"] = False
    stamp = now_local()
    state.sites[site].update({"catalogUpdatedAt": stamp, "catalogLoadingAt": stamp})
    return len(seen)


def offer_quantity(state: CrmState, offer_id: int) -> float:
    stores = state.inventories.get(offer_id)
    if stores:
        return float(sum(s["available"] for s in stores.values()))
    return float(state.offers[offer_id].get("icmlQuantity") or 0.0)


def render_offer(state: CrmState, offer_id: int, with_product: bool = True) -> dict[str, Any]:
    offer = state.offers[offer_id]
    out = {k: v for k, v in offer.items() if k not in ("icmlQuantity", "productId")}
    out["prices"] = [
        {"priceType": code, "price": price, "ordering": state.price_types.get(code, {}).get("ordering", 990)}
        for code, price in state.prices.get(offer_id, {}).items()
    ]
    out["quantity"] = offer_quantity(state, offer_id)
    out["unit"] = {"code": "pc", "name": "Штука", "sym": "шт."}
    if with_product:
        out["product"] = dict(state.products[offer["productId"]])
    return out


def _filter_offers(state: CrmState, flt: dict[str, Any]) -> list[int]:
    ids = sorted(state.offers)
    wanted = {
        "ids": ("id", as_list(flt.get("ids"))),
        "externalIds": ("externalId", as_list(flt.get("externalIds"))),
        "xmlIds": ("xmlId", as_list(flt.get("xmlIds"))),
        "sites": ("site", as_list(flt.get("sites"))),
    }
    for attr, values in wanted.values():
        if values:
            ids = [i for i in ids if str(state.offers[i].get(attr)) in values]
    if flt.get("active") not in (None, ""):
        active = str(flt["active"]) in ("1", "true")
        ids = [i for i in ids if state.offers[i]["active"] == active]
    if flt.get("sinceId") not in (None, ""):
        ids = [i for i in ids if i > int(flt["sinceId"])]
    return ids


def store_offers(state: CrmState, call: Call) -> Reply:
    limit, page = call.page()
    ids, pagination = paginate(_filter_offers(state, call.filters()), limit, page)
    return 200, {"success": True, "pagination": pagination, "offers": [render_offer(state, i) for i in ids]}


def store_products(state: CrmState, call: Call) -> Reply:
    limit, page = call.page()
    flt = call.filters()
    ids = sorted(state.products)
    if flt.get("sites"):
        ids = [i for i in ids if state.products[i]["site"] in as_list(flt["sites"])]
    if flt.get("externalId"):
        ids = [i for i in ids if state.products[i]["externalId"] == str(flt["externalId"])]
    page_ids, pagination = paginate(ids, limit, page)
    products = []
    for pid in page_ids:
        product = dict(state.products[pid])
        product["offers"] = [
            render_offer(state, oid, with_product=False) for oid, o in state.offers.items() if o["productId"] == pid
        ]
        products.append(product)
    return 200, {"success": True, "pagination": pagination, "products": products}


def store_inventories(state: CrmState, call: Call) -> Reply:
    limit, page = call.page()
    flt = call.filters()
    ids = _filter_offers(state, {"sites": flt.get("sites")})
    if flt.get("offerExternalId"):
        ids = [i for i in ids if state.offers[i]["externalId"] == str(flt["offerExternalId"])]
    if flt.get("offerXmlId"):
        ids = [i for i in ids if state.offers[i]["xmlId"] == str(flt["offerXmlId"])]
    page_ids, pagination = paginate(ids, limit, page)
    details = str(flt.get("details", "")) in ("1", "true")
    offers = []
    for oid in page_ids:
        offer = state.offers[oid]
        row: dict[str, Any] = {
            "id": oid,
            "externalId": offer["externalId"],
            "xmlId": offer["xmlId"],
            "site": offer["site"],
            "quantity": offer_quantity(state, oid),
        }
        if offer.get("purchasePrice") is not None:
            row["purchasePrice"] = offer["purchasePrice"]
        if details:
            row["stores"] = [
                {"store": code, "quantity": s["available"], "purchasePrice": s.get("purchasePrice")}
                for code, s in state.inventories.get(oid, {}).items()
            ]
        offers.append(row)
    return 200, {"success": True, "pagination": pagination, "offers": offers}


def _ref(item: dict[str, Any]) -> dict[str, Any]:
    return {k: item[k] for k in ("id", "externalId", "xmlId") if item.get(k) not in (None, "")}


def _batch(call: Call, name: str) -> list[dict[str, Any]]:
    items = call.json_field(name)
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ApiError(400, "Errors in the entity format", {name: "This value should be of type array."})
    if len(items) > UPLOAD_LIMIT:
        raise ApiError(400, f"Parameter '{name}' must contain {UPLOAD_LIMIT} or less records")
    return items


def inventories_upload(state: CrmState, call: Call) -> Reply:
    """Absolute stock per (offer, store); a store entry without ``available`` leaves it unchanged."""
    items = _batch(call, "offers")
    site = call.extra.get("site")
    errors: dict[str, str] = {}
    for i, item in enumerate(items):
        for j, store in enumerate(item.get("stores") or []):
            if store.get("code") not in state.store_codes:
                errors[f"offers[{i}].stores[{j}].code"] = f'Store with code "{store.get("code")}" not found.'
            elif "available" in store and not isinstance(store["available"], int | float):
                errors[f"offers[{i}].stores[{j}].available"] = "This value should be a number."
    if errors:
        raise ApiError(400, "Errors in the entity format", errors)
    processed, not_found_offers = 0, []
    for item in items:
        offer_id = state.find_offer(item, site)
        if offer_id is None:
            not_found_offers.append(_ref(item))
            continue
        processed += 1
        per_store = state.inventories.setdefault(offer_id, {})
        for store in item.get("stores") or []:
            slot = per_store.setdefault(store["code"], {"available": 0.0, "purchasePrice": None})
            if "available" in store:
                slot["available"] = float(store["available"])
            if store.get("purchasePrice") is not None:
                slot["purchasePrice"] = float(store["purchasePrice"])
    return 200, {"success": True, "processedOffersCount": processed, "notFoundOffers": not_found_offers}


def prices_upload(state: CrmState, call: Call) -> Reply:
    """Prices per (offer, price type); each entry names its ``site``, refused unless the key's."""
    items = _batch(call, "prices")
    errors = {
        f"prices[{i}].prices[{j}].code": f'Price type with code "{p.get("code")}" not found.'
        for i, item in enumerate(items)
        for j, p in enumerate(item.get("prices") or [])
        if p.get("code") not in state.price_types
    }
    for i, item in enumerate(items):
        site = item.get("site")
        if site not in (None, "") and site not in call.sites:
            refusal = site_refusal(str(site), state.sites)
            if refusal.status != 400:
                raise refusal  # another key's store: the whole call is denied
            errors[f"prices[{i}].site"] = refusal.message
    if errors:
        raise ApiError(400, "Errors in the entity format", errors)
    processed, not_found_offers = 0, []
    for item in items:
        offer_id = state.find_offer(item, item.get("site") or call.extra.get("site"))
        if offer_id is None:
            not_found_offers.append(_ref(item))
            continue
        processed += 1
        current = state.prices.setdefault(offer_id, {})
        for p in item.get("prices") or []:
            if p.get("remove") in (True, 1, "1", "true"):
                current.pop(p["code"], None)
            else:
                current[p["code"]] = float(p["price"])
    return 200, {"success": True, "processedOffersCount": processed, "notFoundOffers": not_found_offers}
