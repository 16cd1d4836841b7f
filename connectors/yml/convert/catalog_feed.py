"""Canonical catalog frames → YML categories and offers (fed lazily to :func:`..yml.write_yml`).

Ids follow the format: an offer's ``id`` is the hub's key of the offer (stable across runs and
re-imports), categories and ``group_id`` are positive integers. A source whose ids are not numbers
(MoySklad's are UUIDs) gets stable numbers derived from them: 18 digits for a category (the format
allows 18), 9 for a group (it allows 9), the latter probed past a collision within one feed.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

import pandas as pd

from connectors.yml.convert.yml import YmlCategory, YmlOffer
from hub.capabilities import FeedSlice

#: the channel price codes a YML channel offers to map the source's price types onto
PRICE = "price"
OLD_PRICE = "oldprice"
#: the longest <name> the format allows
NAME_LENGTH = 150
#: offers whose count comes from stock (services are always available and carry no count)
COUNTED_KINDS = frozenset({"product", "variant", "bundle"})
#: the product columns an offer takes (in this order)
_PRODUCT = ("name", "article", "category_id", "vendor", "description", "weight", "archived")


def _s(value: Any) -> str | None:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) or value == "" else str(value)


def _true(value: Any) -> bool:
    return value is not None and not (not isinstance(value, str) and pd.isna(value)) and bool(value)


def category_number(category_id: str) -> str:
    """The YML id of a category: itself when it is already a positive integer (a mapped portal
    category), else a stable number of at most 18 digits derived from it."""
    if category_id.isdigit() and 0 < int(category_id) and len(category_id.lstrip("0")) <= 18:
        return category_id.lstrip("0")
    number = int(hashlib.sha1(category_id.encode()).hexdigest()[:15], 16) % 10**18
    return str(number or 1)


#: the source id the catalog's own root category is derived from (items in no folder go there)
ROOT = "catalog-root"


def yml_categories(categories: pd.DataFrame, root_name: str | None = None) -> Iterator[YmlCategory]:
    """Canonical ``categories`` (ids already mapped where the config maps them) → YML categories;
    with ``root_name``, first a category of that name for the items that are in no folder."""
    if root_name:
        yield YmlCategory(id=category_number(ROOT), name=root_name)
    for row in categories.itertuples(index=False):
        if _true(row.archived):
            continue
        parent = _s(row.parent_id)
        yield YmlCategory(
            id=category_number(str(row.category_id)),
            name=str(row.name),
            parent_id=category_number(parent) if parent else None,
        )


class GroupNumbers:
    """Stable 9-digit ``group_id`` numbers per product, unique within one feed."""

    def __init__(self) -> None:
        self._of: dict[str, str] = {}
        self._taken: set[int] = set()

    def __call__(self, product_id: str) -> str:
        if product_id not in self._of:
            number = int(hashlib.sha1(product_id.encode()).hexdigest()[:12], 16) % 10**9 or 1
            while number in self._taken:  # two products on one number: the later one moves on
                number = number % (10**9 - 1) + 1
            self._taken.add(number)
            self._of[product_id] = str(number)
        return self._of[product_id]


def _characteristics(text: str | None) -> list[tuple[str, str, str]]:
    out = []
    for part in (text or "").split(";"):
        name, sep, value = part.partition("=")
        if sep and name.strip() and value.strip():
            out.append((name.strip(), "", value.strip()))
    return out


def _money(minor: Any) -> Decimal:
    return Decimal(int(minor)).scaleb(-2)


def yml_offers(
    part: FeedSlice,
    *,
    currency: str,
    groups: GroupNumbers,
    pictures_per_offer: int = 10,
    description_length: int = 3000,
    default_category: str | None = None,
) -> Iterator[YmlOffer]:
    """One :class:`YmlOffer` per canonical offer of the slice.

    ``price`` is the source price type mapped to the channel code ``price`` (else the catalog's main
    one), ``oldprice`` the one mapped to ``oldprice``; ``count`` and ``outlets`` come from the
    slice's channel stock (after the stock rules), services carry none and are always available.
    """
    # plain tuples of the columns used, not a dict per row: a slice is thousands of rows
    products = {str(r[0]): r[1:] for r in part.products[["product_id", *_PRODUCT]].itertuples(index=False, name=None)}
    no_product = (None,) * len(_PRODUCT)
    code_of = dict(part.price_codes)
    price_type = next((t for t, code in code_of.items() if code == PRICE), part.main_price_type)
    old_type = next((t for t, code in code_of.items() if code == OLD_PRICE), None)
    prices: dict[tuple[str, str], Any] = {
        (str(o), str(t)): a
        for o, t, a in zip(part.prices["offer_id"], part.prices["price_type_id"], part.prices["amount"], strict=True)
        if not pd.isna(a)
    }
    stock: dict[str, dict[str, float]] = defaultdict(dict)
    if part.channel_stock is not None:
        for o, code, qty in zip(
            part.channel_stock["offer_id"], part.channel_stock["store_id"], part.channel_stock["available"], strict=True
        ):
            if not pd.isna(code):
                stock[str(o)][str(code)] = 0.0 if pd.isna(qty) else float(qty)
    pictures: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for owner, pos, url in zip(part.images["owner_id"], part.images["position"], part.images["url"], strict=True):
        if _s(url):
            pictures[str(owner)].append((0 if pd.isna(pos) else int(pos), str(url)))

    offer_columns = ["offer_id", "product_id", "kind", "name", "article", "characteristics", "archived"]
    for offer, of_product, of_kind, name, article, characteristics, offer_archived in part.offers[
        offer_columns
    ].itertuples(index=False, name=None):
        offer_id = str(offer)
        product_id = _s(of_product) or offer_id
        p_name, p_article, p_category, vendor, p_description, weight, p_archived = products.get(product_id, no_product)
        kind = _s(of_kind) or "product"
        outlets = tuple((code, int(qty)) for code, qty in sorted(stock.get(offer_id, {}).items()))
        count = sum(max(q, 0) for _, q in outlets) if kind in COUNTED_KINDS else None
        archived = _true(offer_archived) or _true(p_archived)
        params = _characteristics(_s(characteristics))
        if weight is not None and not pd.isna(weight) and float(weight) > 0:
            params.append(("Вес", "кг", f"{float(weight):g}"))
        description = _s(p_description)
        price = prices.get((offer_id, price_type))
        old = prices.get((offer_id, old_type)) if old_type else None
        category = _s(p_category) or default_category or ROOT
        yield YmlOffer(
            id=part.offer_keys.get(offer_id, offer_id),
            name=(_s(name) or _s(p_name) or offer_id)[:NAME_LENGTH],
            available=not archived and (count is None or count > 0),
            price=None if price is None else _money(price),
            old_price=None if old is None else _money(old),
            currency=currency,
            category_id=category_number(category),
            group_id=groups(product_id) if kind == "variant" else None,
            pictures=tuple(url for _, url in sorted(pictures.get(offer_id) or pictures.get(product_id) or []))[
                :pictures_per_offer
            ],
            vendor=_s(vendor),
            vendor_code=_s(article) or _s(p_article),
            description=description[:description_length] if description else None,
            count=count,
            outlets=outlets if kind in COUNTED_KINDS else (),
            params=tuple(params),
        )


def stock_by_outlet(entries_stock: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Canonical stock by channel code → offer → outlet → quantity (a stock entry's content)."""
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for o, code, qty in zip(
        entries_stock["offer_id"], entries_stock["store_id"], entries_stock["available"], strict=True
    ):
        if not pd.isna(code):
            out[str(o)][str(code)] = 0.0 if pd.isna(qty) else float(qty)
    return dict(out)


def price_codes_of(mapping: Mapping[str, str]) -> dict[str, str]:
    """Only the channel codes a YML feed has (``price``, ``oldprice``)."""
    return {t: c for t, c in mapping.items() if c in (PRICE, OLD_PRICE)}
