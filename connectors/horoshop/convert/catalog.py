"""``catalog/export`` products and ``pages/export`` categories → canonical catalog frames.

A Horoshop product is sold as it is (its ``article`` is the match key of every import and order
line), so each product is one offer with the same id: the article. Its ``price`` is the one price
type the shop has ("base"), in the shop's currency; categories are the product's ``parent``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from connectors.horoshop.convert.orders import _title, minor
from hub import model

#: the shop's one price type
BASE_PRICE = "base"


def currencies(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    out = []
    for row in rows:
        code = str(row.get("code") or row.get("iso") or "").upper()
        if code:
            out.append(
                {
                    "currency_id": code,
                    "iso_code": code,
                    "name": _title(row.get("title")) or code,
                    "rate": float(row.get("rate") or 1),
                    "is_default": bool(row.get("default")),
                    "archived": False,
                }
            )
    return model.frame("currencies", out or [_hryvnia()])


def _hryvnia() -> dict[str, Any]:
    return {
        "currency_id": "UAH",
        "iso_code": "UAH",
        "name": "Гривня",
        "rate": 1.0,
        "is_default": True,
        "archived": False,
    }


def price_types() -> pd.DataFrame:
    return model.frame(
        "price_types", [{"price_type_id": BASE_PRICE, "name": "Ціна", "external_code": BASE_PRICE, "is_default": True}]
    )


def categories(pages: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    by_id = {str(p["id"]): p for p in pages if p.get("id") is not None}

    def path(pid: str, seen: frozenset[str] = frozenset()) -> str:
        page = by_id[pid]
        parent = str(page.get("parent") or "")
        name = _title(page.get("title")) or pid
        return f"{path(parent, seen | {pid})}/{name}" if parent in by_id and parent not in seen else name

    return model.frame(
        "categories",
        [
            {
                "category_id": pid,
                "parent_id": str(p["parent"]) if str(p.get("parent") or "0") in by_id else None,
                "name": _title(p.get("title")) or pid,
                "path": path(pid),
                "external_code": str(p.get("url") or "") or None,
                "archived": False,
            }
            for pid, p in by_id.items()
        ],
    )


def catalog_frames(products: Sequence[Mapping[str, Any]]) -> dict[str, pd.DataFrame]:
    """Canonical ``products``, ``offers``, ``prices`` and ``purchase_prices`` of ``catalog/export`` rows."""
    items, offers, prices = [], [], []
    for row in products:
        article = str(row.get("article") or "")
        if not article:
            continue
        parent = row.get("parent")
        category = str(parent.get("id")) if isinstance(parent, Mapping) and parent.get("id") else None
        name = _title(row.get("title")) or article
        hidden = str(row.get("display_in_showcase", 1)) in ("0", "False", "false")
        items.append(
            {
                "product_id": article,
                "kind": "product",
                "name": name,
                "article": article,
                "category_id": category,
                "vendor": row.get("brand") if isinstance(row.get("brand"), str) else _title(row.get("brand")),
                "archived": hidden,
            }
        )
        offers.append(
            {
                "offer_id": article,
                "product_id": article,
                "kind": "product",
                "name": name,
                "article": article,
                "archived": hidden,
            }
        )
        amount = minor(row.get("price"))
        if amount is not None:
            prices.append(
                {
                    "offer_id": article,
                    "price_type_id": BASE_PRICE,
                    "amount": amount,
                    "currency_id": row.get("currency") or "UAH",
                }
            )
    return {
        "products": model.frame("products", items),
        "offers": model.frame("offers", offers),
        "prices": model.frame("prices", prices),
        "purchase_prices": model.empty_frame("purchase_prices"),
    }


def images(products: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Canonical ``images``: the gallery's public links (a feed can use them as they are)."""
    rows = []
    for row in products:
        for position, url in enumerate(row.get("images") or []):
            link = url.get("url") if isinstance(url, Mapping) else url
            if link:
                rows.append(
                    {
                        "owner_id": str(row["article"]),
                        "position": position,
                        "image_id": f"{row['article']}:{position}",
                        "url": str(link),
                    }
                )
    return model.frame("images", rows)
