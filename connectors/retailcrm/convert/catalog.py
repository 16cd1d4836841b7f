"""Canonical frames ⇄ retailCRM wire JSON: stock, prices, offers (orders and customers in
:mod:`connectors.retailcrm.convert.orders`, re-exported here).

Money: canonical frames carry Int64 kopecks; the wire carries decimal currency units. Conversion
goes through :class:`~decimal.Decimal` so that 123456 kopecks is exactly ``1234.56`` on the wire.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import pandas as pd

from connectors.retailcrm.convert.orders import (
    customer_from_crm,
    customer_to_crm,
    order_from_crm,
    order_to_crm,
    orders_from_crm,
    parse_crm_datetime,
)
from hub.model import frame

__all__ = [
    "customer_from_crm",
    "customer_to_crm",
    "kopecks_to_units",
    "offers_from_crm",
    "order_from_crm",
    "order_to_crm",
    "orders_from_crm",
    "parse_crm_datetime",
    "prices_from_crm",
    "prices_to_upload",
    "stock_from_crm",
    "stock_to_inventories",
    "units_to_kopecks",
]


def kopecks_to_units(kopecks: int) -> float | int:
    """123456 → 1234.56; whole amounts stay integers (``1000``, as the samples show)."""
    value = Decimal(int(kopecks)).scaleb(-2)
    return int(value) if value == value.to_integral_value() else float(value)


def units_to_kopecks(units: Any) -> int | None:
    """Wire currency units (number or string) → kopecks, rounding half up at the third decimal."""
    if units is None or units == "" or (isinstance(units, float) and pd.isna(units)):
        return None
    return int((Decimal(str(units)) * 100).quantize(Decimal(1), rounding="ROUND_HALF_UP"))


def _quantity(value: float) -> float | int:
    return int(value) if float(value).is_integer() else float(value)


def _offer_ref(offer_id: str, offer_key: Mapping[str, str] | None) -> dict[str, str]:
    if offer_key is not None and offer_id in offer_key:
        return {"externalId": offer_key[offer_id]}
    return {"xmlId": offer_id}


def stock_to_inventories(
    stock: pd.DataFrame,
    *,
    offer_key: Mapping[str, str] | None = None,
    store_map: Mapping[str, str],
) -> list[dict[str, Any]]:
    """Canonical stock → ``store/inventories/upload`` entries, one per offer.

    Args:
        stock: canonical ``stock`` frame (``offer_id, store_id, available, stock_type``).
        offer_key: source offer id → CRM ``externalId``; offers not in it (or all, when None) are
            referenced by ``xmlId`` = the source id.
        store_map: source store id → CRM store code. Several source stores mapped to one code are
            summed; rows of unmapped stores are ignored.

    Returns:
        ``[{xmlId|externalId, stores: [{code, available}]}]`` sorted by offer. Every mapped CRM store
        appears for every offer, with ``available`` 0 where the offer has no stock there: the CRM keeps
        the old value of a store left out, so an omitted zero would be a phantom stock. Negative
        balances count as 0 per source store, so one over-sold warehouse does not eat another's stock.
    """
    codes = sorted(set(store_map.values()))
    totals: dict[str, dict[str, float]] = defaultdict(lambda: dict.fromkeys(codes, 0.0))
    for offer_id, store_id, available in zip(stock["offer_id"], stock["store_id"], stock["available"], strict=True):
        if pd.isna(offer_id):
            continue
        per_store = totals[str(offer_id)]
        code = store_map.get(str(store_id)) if not pd.isna(store_id) else None
        if code is not None and not pd.isna(available):
            per_store[code] += max(float(available), 0.0)
    return [
        {
            **_offer_ref(offer_id, offer_key),
            "stores": [{"code": code, "available": _quantity(qty)} for code, qty in per_store.items()],
        }
        for offer_id, per_store in sorted(totals.items())
    ]


def prices_to_upload(
    prices: pd.DataFrame,
    *,
    price_type_map: Mapping[str, str],
    site: str | None,
    offer_key: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Canonical prices (kopecks) → ``store/prices/upload`` entries in currency units.

    Args:
        price_type_map: source price type id → CRM price type code; other price types are skipped.
        site: the CRM site the offers belong to (sent per entry, as the API wants).
        offer_key: as in :func:`stock_to_inventories`.
    """
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    rows = zip(prices["offer_id"], prices["price_type_id"], prices["amount"], strict=True)
    for offer_id, price_type_id, amount in rows:
        code = price_type_map.get(str(price_type_id))
        if code is None or pd.isna(amount) or pd.isna(offer_id):
            continue
        grouped[str(offer_id)].append({"code": code, "price": kopecks_to_units(int(amount))})
    out = []
    for offer_id, entries in sorted(grouped.items()):
        item: dict[str, Any] = {**_offer_ref(offer_id, offer_key), "prices": entries}
        if site:
            item["site"] = site
        out.append(item)
    return out


def _offer_id(offer: Mapping[str, Any], ref: str) -> str | None:
    value = offer.get(ref)
    return None if value in (None, "") else str(value)


def offers_from_crm(offers: Iterable[Mapping[str, Any]], *, ref: str = "id") -> pd.DataFrame:
    """``store/offers`` items → canonical ``offers`` (``ref``: which CRM field is ``offer_id``)."""
    rows = []
    for o in offers:
        product = o.get("product") or {}
        props = o.get("properties") or {}
        rows.append(
            {
                "offer_id": _offer_id(o, ref),
                "product_id": None if not product else str(product.get("id")),
                "kind": "product",
                "name": o.get("name"),
                "article": o.get("article"),
                "code": o.get("externalId"),
                "barcode": o.get("barcode"),
                "characteristics": "; ".join(f"{k}={v}" for k, v in props.items()) or None,
                "external_code": o.get("xmlId"),
                "archived": not o.get("active", True),
            }
        )
    return frame("offers", rows)


def prices_from_crm(offers: Iterable[Mapping[str, Any]], *, ref: str = "id", currency: str = "RUB") -> pd.DataFrame:
    """``store/offers`` items' ``prices[]`` → canonical ``prices`` (price type code as id)."""
    rows = [
        {
            "offer_id": _offer_id(o, ref),
            "price_type_id": p.get("priceType"),
            "amount": units_to_kopecks(p.get("price")),
            "currency_id": currency,
        }
        for o in offers
        for p in o.get("prices") or []
    ]
    return frame("prices", rows)


def stock_from_crm(
    inventories: Iterable[Mapping[str, Any]], *, ref: str = "id", stock_type: str = "available"
) -> pd.DataFrame:
    """``store/inventories`` items (with ``details``) → canonical ``stock`` by CRM store code."""
    rows = []
    for o in inventories:
        for s in o.get("stores") or []:
            rows.append(
                {
                    "offer_id": _offer_id(o, ref),
                    "store_id": s.get("store") or s.get("code"),
                    "available": float(s.get("quantity", s.get("available", 0)) or 0),
                    "stock_type": stock_type,
                }
            )
    return frame("stock", rows)
