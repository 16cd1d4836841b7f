"""Canonical catalog frames → ICML categories and offers (fed lazily to ``write_icml``).

The offers frame drives the feed; products, prices, stock and images are looked up per offer.
Lookups are dicts built once (linear in the catalog), and offers are yielded one at a time, so
the writer's memory stays flat whatever the catalog size.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

import pandas as pd

from connectors.retailcrm.convert.icml import IcmlCategory, IcmlOffer

#: offers whose feed quantity is their own stock. A bundle has none of its own: its quantity comes
#: from its components through the stock upload, and a feed 0 would show it sold out until then
STOCKED_KINDS = frozenset({"product", "variant"})


def _s(value: Any) -> str | None:
    return None if value is None or pd.isna(value) or value == "" else str(value)


def param_code(name: str) -> str:
    """A stable ``param@code`` from a characteristic name (``Размер обуви`` → ``razmer-obuvi``-ish)."""
    table = str.maketrans("абвгдеёжзийклмнопрстуфхцчшщъыьэюя", "abvgdeejziiklmnoprstufhccss_y_eua")
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower().translate(table)).strip("-")
    return slug or "param"


def _archived(value: Any) -> bool:
    """True for an archived row: a frame's booleans are numpy's or pandas' (``is True`` never holds
    for them), and a missing value is not archived."""
    return (
        value is not None and value is not pd.NA and not (isinstance(value, float) and pd.isna(value)) and bool(value)
    )


def icml_categories(categories: pd.DataFrame) -> Iterator[IcmlCategory]:
    """Canonical ``categories`` → ICML categories (archived ones left out)."""
    for row in categories.itertuples(index=False):
        if _archived(row.archived):
            continue
        yield IcmlCategory(id=str(row.category_id), name=str(row.name), parent_id=_s(row.parent_id))


def _characteristics(text: str | None) -> list[tuple[str, str, str]]:
    out = []
    for part in (text or "").split(";"):
        name, sep, value = part.partition("=")
        if sep and name.strip():
            out.append((name.strip(), param_code(name.strip()), value.strip()))
    return out


def icml_offers(
    offers: pd.DataFrame,
    *,
    products: pd.DataFrame,
    prices: pd.DataFrame,
    price_type_id: str,
    purchase_prices: pd.DataFrame | None = None,
    stock: pd.DataFrame | None = None,
    images: pd.DataFrame | None = None,
    offer_key: Mapping[str, str] | None = None,
) -> Iterator[IcmlOffer]:
    """Yield one :class:`IcmlOffer` per canonical offer (services and bundles included, unstocked).

    Args:
        price_type_id: the source price type published as ``<price>``.
        offer_key: source offer id → ICML ``offer@id`` (the CRM ``externalId``); default the source
            id itself. ``xmlId`` is always the source (MoySklad) id.
    """
    product_by_id = {str(r["product_id"]): r for r in products.to_dict("records")}
    price = {
        str(o): a
        for o, t, a in zip(prices["offer_id"], prices["price_type_id"], prices["amount"], strict=True)
        if str(t) == price_type_id and not pd.isna(a)
    }
    purchase = (
        {}
        if purchase_prices is None
        else {
            str(o): a
            for o, a in zip(purchase_prices["offer_id"], purchase_prices["amount"], strict=True)
            if not pd.isna(a)
        }
    )
    quantity: dict[str, float] = defaultdict(float)
    if stock is not None:
        for o, a in zip(stock["offer_id"], stock["available"], strict=True):
            quantity[str(o)] += max(float(a), 0.0) if not pd.isna(a) else 0.0
    pictures: dict[str, list[tuple[int, str]]] = defaultdict(list)
    if images is not None:
        for owner, pos, url in zip(images["owner_id"], images["position"], images["url"], strict=True):
            if _s(url):
                pictures[str(owner)].append((0 if pd.isna(pos) else int(pos), str(url)))
    for row in offers.to_dict("records"):
        offer_id = str(row["offer_id"])
        product_id = _s(row.get("product_id")) or offer_id
        product = product_by_id.get(product_id, {})
        article = _s(row.get("article")) or _s(product.get("article"))
        params = _characteristics(_s(row.get("characteristics")))
        if article:
            params.insert(0, ("Артикул", "article", article))
        vat = product.get("vat_rate")
        kind = _s(row.get("kind")) or "product"
        yield IcmlOffer(
            id=(offer_key or {}).get(offer_id, offer_id),
            product_id=product_id,
            name=_s(row.get("name")) or _s(product.get("name")) or offer_id,
            product_name=_s(product.get("name")) or _s(row.get("name")) or offer_id,
            xml_id=offer_id,
            price=None if offer_id not in price else Decimal(int(price[offer_id])).scaleb(-2),
            purchase_price=None if offer_id not in purchase else Decimal(int(purchase[offer_id])).scaleb(-2),
            # stock items carry a quantity (variants included); services and bundles have none
            quantity=quantity.get(offer_id, 0.0) if kind in STOCKED_KINDS else None,
            category_ids=tuple(c for c in [_s(product.get("category_id"))] if c),
            pictures=tuple(url for _, url in sorted(pictures.get(offer_id) or pictures.get(product_id) or [])),
            params=tuple(params),
            vendor=_s(product.get("vendor")),
            vat_rate=None if vat is None or pd.isna(vat) else str(int(vat)),
            active=not bool(row.get("archived") is True or product.get("archived") is True),
            weight=None if product.get("weight") is None or pd.isna(product["weight"]) else float(product["weight"]),
        )
