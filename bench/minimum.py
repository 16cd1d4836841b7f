"""The minimum requests (and weight) the data of a sandbox world needs, with the formula spelled out.

Derived from the sandboxes' own state, not from what the flow did, so the comparison is honest:
MoySklad needs its assortment in 1000-row pages, the reference books, one current-stock report and
the images of the items that have any (per item, or 100 ids per ``expand=images`` page, whichever
is fewer); retailCRM needs 250-offer upload batches of stock and prices plus its reference books.
Weights come from :func:`connectors.moysklad.wire.limits.request_weight`, the table the sandbox enforces.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from connectors.moysklad.sandbox import MoySkladSandbox
from connectors.moysklad.wire.limits import MAX_EXPAND_LIMIT, MAX_PAGE_LIMIT, TokenKind, request_weight

CRM_BATCH = 250
STOCKED_KINDS = ("product", "variant", "bundle")
OFFER_KINDS = (*STOCKED_KINDS, "service")


@dataclass
class Minimum:
    """Minimum requests and weight of one system, the formula and the data counts behind it."""

    requests: int
    weight: float
    formula: str
    parts: dict[str, int] = field(default_factory=dict)
    data: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _is_offer(type_: str, obj: dict[str, Any]) -> bool:
    """An assortment row the CRM sees as an offer: not a product that has variants."""
    return not (type_ == "product" and int(obj.get("variantsCount", 0) or 0) > 0)


def moysklad_data(sandbox: MoySkladSandbox) -> dict[str, int]:
    """Counts of what the extraction must read."""
    store = sandbox.store
    rows = sum(len(store.of_type(t)) for t in ("product", "service", "bundle", "variant"))
    with_images = sum(
        1 for t in ("product", "service", "bundle", "variant") for oid in store.of_type(t) if store.images.get(oid)
    )
    return {
        "assortment_rows": rows,
        "folders": len(store.of_type("productfolder")),
        "stores": len(store.of_type("store")),
        "organizations": len(store.of_type("organization")),
        "currencies": len(store.of_type("currency")),
        "owners_with_images": with_images,
    }


def moysklad_minimum(sandbox: MoySkladSandbox, kind: TokenKind, day: date) -> Minimum:
    """Assortment pages + reference calls + 1 stock report + images (per item or 100-id pages)."""
    d = moysklad_data(sandbox)
    pages = max(1, math.ceil(d["assortment_rows"] / MAX_PAGE_LIMIT))
    owners = d["owners_with_images"]
    images = min(owners, math.ceil(owners / MAX_EXPAND_LIMIT))
    reference = {
        "/entity/currency": max(1, math.ceil(d["currencies"] / MAX_PAGE_LIMIT)),
        "/context/companysettings/pricetype": 1,
        "/entity/store": max(1, math.ceil(d["stores"] / MAX_PAGE_LIMIT)),
        "/entity/organization": max(1, math.ceil(d["organizations"] / MAX_PAGE_LIMIT)),
        "/entity/productfolder": max(1, math.ceil(d["folders"] / MAX_PAGE_LIMIT)),
        "/entity/variant/metadata": 1,
    }
    w_plain = request_weight("/entity/assortment", kind, day)
    w_stock = request_weight("/report/stock/bystore/current", kind, day)
    ref_calls = sum(reference.values())
    requests = pages + ref_calls + 1 + images
    weight = (pages + ref_calls + images) * w_plain + w_stock
    formula = (
        f"ceil({d['assortment_rows']} rows / 1000) = {pages} assortment pages"
        f" + {ref_calls} reference (currency, pricetype, store, organization,"
        f" productfolder ceil({d['folders']}/1000), variant metadata)"
        f" + 1 stock report + min({owners}, ceil({owners}/100)) = {images} image requests"
        f" = {requests} requests; weight = {requests - 1} x {w_plain} + 1 x {w_stock} = {weight}"
    )
    return Minimum(
        requests,
        float(weight),
        formula,
        {"assortment_pages": pages, "reference": ref_calls, "stock_report": 1, "images": images},
        {**d, "weight_plain": w_plain, "weight_stock_report": w_stock},
    )


def crm_offers(sandbox: MoySkladSandbox) -> dict[str, int]:
    """Live (not archived) offers the CRM gets stock for, and those it gets prices for."""
    stocked = priced = 0
    for type_ in OFFER_KINDS:
        for obj in sandbox.store.of_type(type_).values():
            if obj.get("archived") or not _is_offer(type_, obj):
                continue
            priced += 1
            stocked += type_ in STOCKED_KINDS
    return {"stocked_offers": stocked, "priced_offers": priced}


def retailcrm_minimum(sandbox: MoySkladSandbox, *, polls_sites: bool = True) -> Minimum:
    """Inventory uploads + price uploads (250 offers each) + reference books (stores, price types, and
    sites: the configured site is checked before any write, and its stamp read), and, when the run
    waits for the CRM to load the feed: one poll that sees the load and one ``store/offers`` check
    that the load brought our new offers."""
    d = crm_offers(sandbox)
    inv = math.ceil(d["stocked_offers"] / CRM_BATCH)
    prices = math.ceil(d["priced_offers"] / CRM_BATCH)
    reference = 3 + (2 if polls_sites else 0)
    requests = inv + prices + reference
    formula = (
        f"ceil({d['stocked_offers']} stocked offers / 250) = {inv} inventory uploads"
        f" + ceil({d['priced_offers']} priced offers / 250) = {prices} price uploads"
        f" + {reference} reference (stores, price-types, sites"
        f"{', one sites poll, one store/offers check' if polls_sites else ''})"
        f" = {requests} requests (10 rps: >= {requests / 10:.1f} s)"
    )
    return Minimum(
        requests,
        float(requests),
        formula,
        {"inventory_uploads": inv, "price_uploads": prices, "reference": reference},
        d,
    )
