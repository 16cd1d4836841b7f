"""MoySklad wire JSON → canonical frames (payloads the other way: :mod:`connectors.moysklad.convert.orders`).

Conventions applied once, here at the edge: money ``value``s are kopecks already and become
integers; timestamps are Moscow time without offset and become aware UTC; ids are taken from the
object (or the last segment of a reference's href). A product with variants yields a product row
and one offer per variant; a product, service or bundle without variants is its own offer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from connectors.moysklad.convert.orders import (
    customer_to_payload,
    order_to_payload,
    orders_to_frames,
)
from connectors.moysklad.wire.meta import ref_id
from connectors.moysklad.wire.moscow_time import parse_moscow
from connectors.moysklad.wire.stock_levels import StockLevels, levels_of
from hub import model

__all__ = [
    "assortment_to_frames",
    "bundle_components_to_frame",
    "characteristics_to_frame",
    "currencies_to_frame",
    "customer_to_payload",
    "folders_to_frame",
    "images_to_frame",
    "order_to_payload",
    "orders_to_frames",
    "organizations_to_frame",
    "parse_moscow",
    "price_types_to_frame",
    "ref_id",
    "stock_levels_to_frame",
    "stock_to_frame",
    "stores_to_frame",
]

#: a MoySklad JSON object as read (conversions only read it)
JsonView = Mapping[str, Any]
PRODUCT_KINDS = ("product", "service", "bundle")


def _ts(value: Any) -> datetime | None:
    return parse_moscow(value) if isinstance(value, str) and value else None


def _kopecks(value: Any) -> int | None:
    return None if value is None else round(float(value))


def _barcode(row: JsonView) -> str | None:
    for item in row.get("barcodes") or []:
        for code in item.values():
            return str(code)
    return None


def _price_rows(offer_id: str, sale_prices: Iterable[JsonView]) -> list[dict[str, Any]]:
    return [
        {
            "offer_id": offer_id,
            "price_type_id": ref_id(p.get("priceType")),
            "amount": _kopecks(p.get("value")),
            "currency_id": ref_id(p.get("currency")),
        }
        for p in sale_prices
    ]


def assortment_to_frames(rows: list[dict[str, Any]]) -> dict[str, pd.DataFrame]:
    """Assortment rows → ``products``, ``offers``, ``prices`` and ``purchase_prices`` frames.

    A variant without ``salePrices`` (the API normally sends the product's) inherits the prices of
    its product when the product is among ``rows``, whatever their order.
    """
    products, offers, prices, buys = [], [], [], []
    product_prices = {
        r["id"]: r.get("salePrices")
        for r in rows
        if r.get("meta", {}).get("type") == "product" and r.get("salePrices") is not None
    }
    product_buy = {r["id"]: r.get("buyPrice") for r in rows if r.get("meta", {}).get("type") == "product"}
    for row in rows:
        kind = row.get("meta", {}).get("type")
        common = {
            "name": row.get("name"),
            "article": row.get("article"),
            "code": row.get("code"),
            "external_code": row.get("externalCode"),
            "archived": bool(row.get("archived", False)),
            "updated_at": _ts(row.get("updated")),
        }
        if kind in PRODUCT_KINDS:
            products.append(
                {
                    "product_id": row["id"],
                    "kind": kind,
                    **common,
                    "category_id": ref_id(row.get("productFolder")),
                    "vendor": None,
                    "description": row.get("description"),
                    "vat_rate": row.get("effectiveVat", row.get("vat"))
                    if row.get("effectiveVatEnabled", row.get("vatEnabled"))
                    else None,
                    "weight": row.get("weight"),
                    "volume": row.get("volume"),
                    "uom": ref_id(row.get("uom")),
                }
            )
            if int(row.get("variantsCount") or 0) > 0:
                continue
            offers.append(
                {
                    "offer_id": row["id"],
                    "product_id": row["id"],
                    "kind": kind,
                    **common,
                    "barcode": _barcode(row),
                    "characteristics": None,
                }
            )
            sale, buy, offer_id = row.get("salePrices") or [], row.get("buyPrice"), row["id"]
        elif kind == "variant":
            product_id = ref_id(row.get("product"))
            chars = "; ".join(f"{c.get('name')}={c.get('value')}" for c in row.get("characteristics") or [])
            offers.append(
                {
                    "offer_id": row["id"],
                    "product_id": product_id,
                    "kind": "variant",
                    **common,
                    "barcode": _barcode(row),
                    "characteristics": chars or None,
                }
            )
            sale = row.get("salePrices")
            if sale is None:
                sale = product_prices.get(product_id or "") or []
            buy = row.get("buyPrice") or product_buy.get(product_id or "")
            offer_id = row["id"]
        else:  # consignments and anything new: not an offer of its own
            continue
        prices.extend(_price_rows(offer_id, sale))
        if isinstance(buy, Mapping) and buy.get("value") is not None:
            buys.append(
                {"offer_id": offer_id, "amount": _kopecks(buy["value"]), "currency_id": ref_id(buy.get("currency"))}
            )
    return {
        "products": model.frame("products", products),
        "offers": model.frame("offers", offers),
        "prices": model.frame("prices", prices),
        "purchase_prices": model.frame("purchase_prices", buys),
    }


def folders_to_frame(rows: Iterable[JsonView]) -> pd.DataFrame:
    """Product folders → ``categories`` (``path`` is the full path including the folder itself)."""
    out = []
    for r in rows:
        parent_path = r.get("pathName") or ""
        out.append(
            {
                "category_id": r["id"],
                "parent_id": ref_id(r.get("productFolder")),
                "name": r.get("name"),
                "path": f"{parent_path}/{r.get('name')}" if parent_path else r.get("name"),
                "external_code": r.get("externalCode"),
                "archived": bool(r.get("archived", False)),
                "updated_at": _ts(r.get("updated")),
            }
        )
    return model.frame("categories", out)


def currencies_to_frame(rows: Iterable[JsonView]) -> pd.DataFrame:
    """Currencies → ``currencies``."""
    return model.frame(
        "currencies",
        [
            {
                "currency_id": r["id"],
                "iso_code": r.get("isoCode"),
                "name": r.get("name"),
                "rate": r.get("rate"),
                "is_default": bool(r.get("default", False)),
                "archived": bool(r.get("archived", False)),
            }
            for r in rows
        ],
    )


def price_types_to_frame(rows: Iterable[JsonView], default_id: str | None = None) -> pd.DataFrame:
    """Price types → ``price_types``; the default is ``default_id`` or else the first type."""
    items = list(rows)
    default = default_id or (items[0]["id"] if items else None)
    return model.frame(
        "price_types",
        [
            {
                "price_type_id": r["id"],
                "name": r.get("name"),
                "external_code": r.get("externalCode"),
                "is_default": r["id"] == default,
            }
            for r in items
        ],
    )


def stores_to_frame(rows: Iterable[JsonView]) -> pd.DataFrame:
    """Stores → ``stores``."""
    return model.frame(
        "stores",
        [
            {
                "store_id": r["id"],
                "name": r.get("name"),
                "code": r.get("code"),
                "external_code": r.get("externalCode"),
                "parent_id": ref_id(r.get("parent")),
                "archived": bool(r.get("archived", False)),
            }
            for r in rows
        ],
    )


def organizations_to_frame(rows: Iterable[JsonView]) -> pd.DataFrame:
    """Own legal entities → ``organizations``."""
    return model.frame(
        "organizations",
        [
            {
                "organization_id": r["id"],
                "name": r.get("name"),
                "legal_title": r.get("legalTitle"),
                "inn": r.get("inn"),
                "kpp": r.get("kpp"),
                "email": r.get("email"),
                "phone": r.get("phone"),
                "archived": bool(r.get("archived", False)),
            }
            for r in rows
        ],
    )


def characteristics_to_frame(rows: Iterable[JsonView]) -> pd.DataFrame:
    """Variant characteristic definitions → ``characteristics``."""
    return model.frame("characteristics", [{"characteristic_id": r["id"], "name": r.get("name")} for r in rows])


def stock_to_frame(rows: Iterable[JsonView], stock_type: str) -> pd.DataFrame:
    """A ``report/stock/*/current`` array → ``stock`` (``store_id`` null for the all-stores report)."""
    return stock_levels_to_frame(levels_of(rows, stock_type), stock_type)


def stock_levels_to_frame(levels: StockLevels, stock_type: str) -> pd.DataFrame:
    """Report levels (:mod:`connectors.moysklad.wire.stock_levels`: columns already, one string per
    distinct id, as the whole report is held through a catalog pass) → ``stock``."""
    if not len(levels):
        return model.empty_frame("stock")
    return model.conform(
        "stock",
        pd.DataFrame(
            {
                "offer_id": levels.items,
                "store_id": levels.stores,
                "available": np.frombuffer(levels.values, dtype=np.float64),
                "stock_type": stock_type,
            }
        ),
    )


def bundle_components_to_frame(components_by_bundle: Mapping[str, Iterable[JsonView]]) -> pd.DataFrame:
    """Component rows by bundle id → ``bundle_components``: one row per (bundle, product or variant).

    ``component_id`` is the id in the assortment href (or the expanded object's ``id``). Services
    are left out: they have no stock, so counted as components they would make every bundle that
    has one look sold out. A component listed twice is summed; a quantity that is not positive is
    dropped (it would divide by zero downstream).
    """
    quantities: dict[tuple[str, str], float] = {}
    for bundle_id, rows in components_by_bundle.items():
        for row in rows:
            assortment = row.get("assortment")
            component_id = ref_id(assortment)
            kind = ((assortment or {}).get("meta") or {}).get("type")
            quantity = float(row.get("quantity") or 0)
            if component_id is None or kind == "service" or quantity <= 0:
                continue
            key = (bundle_id, component_id)
            quantities[key] = quantities.get(key, 0.0) + quantity
    return model.frame(
        "bundle_components", [{"offer_id": b, "component_id": c, "quantity": q} for (b, c), q in quantities.items()]
    )


def images_to_frame(images_by_owner: Mapping[str, Iterable[JsonView]]) -> pd.DataFrame:
    """Images by owner id → ``images``: ``url`` is the permanent public link (requested with
    ``fields=downloadPermanentHref``, paid tariffs only), ``download_url`` the API href (needs auth)."""
    out = []
    for owner, images in images_by_owner.items():
        for pos, img in enumerate(images):
            meta = img.get("meta") or {}
            out.append(
                {
                    "owner_id": owner,
                    "position": pos,
                    "image_id": ref_id(img),
                    "filename": img.get("filename"),
                    "url": meta.get("downloadPermanentHref"),
                    "download_url": meta.get("downloadHref"),
                    "size": img.get("size"),
                    "updated_at": _ts(img.get("updated")),
                }
            )
    return model.frame("images", out)
