"""Canonical frames: the one shape every connector converts to and from.

Each kind of data is a pandas DataFrame with fixed columns and dtypes. Connectors produce and
consume these frames in ``convert.py``; tasks and the hub store never see wire JSON.

Conventions (decided once, here):

* ids in a frame are the *source system's* ids (``*_id`` columns). The hub maps them to hub keys
  through the ``links`` table; frames never carry hub keys.
* money is integer minor units (kopecks) in ``Int64`` columns; the currency is a column of its own.
* timestamps are timezone-aware UTC (``datetime64[ns, UTC]``); every connector converts its own wire
  format (MoySklad: Moscow time without offset) at the edge, once.
* quantities are ``float64`` (MoySklad allows fractional stock, e.g. weighed goods).
* nullable text is pandas ``string``; nullable flags are ``boolean``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

import pandas as pd

STR: Final = "string"
INT: Final = "Int64"
FLOAT: Final = "float64"
BOOL: Final = "boolean"
UTC_TS: Final = "datetime64[ns, UTC]"

#: column -> dtype, per canonical kind. Order is the column order of the frame.
FRAMES: Final[dict[str, dict[str, str]]] = {
    "currencies": {
        "currency_id": STR,
        "iso_code": STR,
        "name": STR,
        "rate": FLOAT,
        "is_default": BOOL,
        "archived": BOOL,
    },
    "categories": {
        "category_id": STR,
        "parent_id": STR,
        "name": STR,
        "path": STR,
        "external_code": STR,
        "archived": BOOL,
        "updated_at": UTC_TS,
    },
    "characteristics": {"characteristic_id": STR, "name": STR},
    "price_types": {"price_type_id": STR, "name": STR, "external_code": STR, "is_default": BOOL},
    # kind: product | service | bundle. Services and bundles are recognised so that stock flows
    # never treat them as stock items (services have no stock; a bundle's stock is derived).
    "products": {
        "product_id": STR,
        "kind": STR,
        "name": STR,
        "article": STR,
        "code": STR,
        "category_id": STR,
        "vendor": STR,
        "description": STR,
        "vat_rate": INT,
        "weight": FLOAT,
        "volume": FLOAT,
        "uom": STR,
        "external_code": STR,
        "archived": BOOL,
        "updated_at": UTC_TS,
    },
    # An offer is what a channel sells and counts stock of: every variant, and every product,
    # service or bundle that has no variants. ``characteristics`` is "name=value; name=value".
    "offers": {
        "offer_id": STR,
        "product_id": STR,
        "kind": STR,
        "name": STR,
        "article": STR,
        "code": STR,
        "barcode": STR,
        "characteristics": STR,
        "external_code": STR,
        "archived": BOOL,
        "updated_at": UTC_TS,
    },
    # One row per (offer, price type). Variants without their own price inherit the product's.
    "prices": {"offer_id": STR, "price_type_id": STR, "amount": INT, "currency_id": STR},
    # Purchase (buy) price per offer, minor units.
    "purchase_prices": {"offer_id": STR, "amount": INT, "currency_id": STR},
    # One row per (offer, store): the quantity a channel may sell, of one measure. MoySklad's
    # current-stock report returns one measure per call (stockType: stock, freeStock = stock -
    # reserve, quantity = stock - reserve + inTransit); which one is sent is a per-integration
    # option, recorded in stock_type so a frame never mixes measures silently.
    "stock": {"offer_id": STR, "store_id": STR, "available": FLOAT, "stock_type": STR},
    # What a bundle (комплект) is made of: ``quantity`` of component offer per one bundle. A bundle
    # has no stock of its own; a channel is sent min over components of floor(available / quantity).
    "bundle_components": {"offer_id": STR, "component_id": STR, "quantity": FLOAT},
    # owner_id is an offer_id or a product_id; position keeps the system's order. ``url`` is a link
    # anyone can load (a channel's feed needs one); null when the source gives none (MoySklad:
    # permanent links are a paid-tariff feature). ``download_url`` needs the source account's auth.
    "images": {
        "owner_id": STR,
        "position": INT,
        "image_id": STR,
        "filename": STR,
        "url": STR,
        "download_url": STR,
        "size": INT,
        "updated_at": UTC_TS,
    },
    "stores": {
        "store_id": STR,
        "name": STR,
        "code": STR,
        "external_code": STR,
        "parent_id": STR,
        "archived": BOOL,
    },
    "organizations": {
        "organization_id": STR,
        "name": STR,
        "legal_title": STR,
        "inn": STR,
        "kpp": STR,
        "email": STR,
        "phone": STR,
        "archived": BOOL,
    },
    # company_type: individual | legal | entrepreneur; bank_*: its settlement account, when given
    "customers": {
        "customer_id": STR,
        "company_type": STR,
        "name": STR,
        "first_name": STR,
        "last_name": STR,
        "phone": STR,
        "email": STR,
        "inn": STR,
        "kpp": STR,
        "address": STR,
        "bank_account": STR,
        "bank_bic": STR,
        "bank_name": STR,
        "bank_corr_account": STR,
        "updated_at": UTC_TS,
    },
    "orders": {
        "order_id": STR,
        "number": STR,
        "site": STR,
        "status": STR,
        "customer_id": STR,
        "created_at": UTC_TS,
        "updated_at": UTC_TS,
        "total": INT,
        "currency": STR,
        "store_id": STR,
        "delivery_type": STR,
        "delivery_cost": INT,
        "delivery_address": STR,
        "comment": STR,
        "manager_comment": STR,
        "external_id": STR,
        # optional, where a channel has them (others leave them null): the channel's custom fields of
        # the order as a JSON object text {code: value}, and the channel's id of its responsible manager
        "custom_fields": STR,
        "manager_id": STR,
    },
    # price: per unit; discount: minor units off the whole line (MoySklad takes a percent: the
    # connector converts); vat_rate: percent.
    "order_lines": {
        "order_id": STR,
        "line_no": INT,
        "offer_id": STR,
        "name": STR,
        "quantity": FLOAT,
        "price": INT,
        "discount": INT,
        "vat_rate": INT,
        "status": STR,
        # optional: the channel warehouse code the line is reserved at / ships from, where the channel
        # gives one per line (null: the order's shipment store)
        "store_id": STR,
    },
    "payments": {
        "payment_id": STR,
        "order_id": STR,
        "type": STR,
        "status": STR,
        "amount": INT,
        "paid_at": UTC_TS,
        "external_id": STR,
    },
}

#: the id column of each kind (the key links are recorded under)
ID_COLUMN: Final[dict[str, str]] = {
    "currencies": "currency_id",
    "categories": "category_id",
    "characteristics": "characteristic_id",
    "price_types": "price_type_id",
    "products": "product_id",
    "offers": "offer_id",
    "stores": "store_id",
    "organizations": "organization_id",
    "customers": "customer_id",
    "orders": "order_id",
    "payments": "payment_id",
}

KINDS: Final = frozenset(FRAMES)


class FrameContractError(ValueError):
    """A frame does not match its canonical contract (missing or unknown columns)."""


def empty_frame(kind: str) -> pd.DataFrame:
    """Return an empty frame of ``kind`` with the contract's columns and dtypes."""
    spec = _spec(kind)
    return pd.DataFrame({col: pd.Series(dtype=dtype) for col, dtype in spec.items()})


def frame(kind: str, rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Build a frame of ``kind`` from row dicts; absent columns become nulls.

    Raises:
        FrameContractError: a row carries a column the contract does not know.
    """
    spec = _spec(kind)
    # column by column as the rows come: a generator of rows (a large report) is never held whole
    data: dict[str, list[Any]] = {col: [] for col in spec}
    columns = list(data.items())
    known, unknown = spec.keys(), set[str]()
    for row in rows:
        if not row.keys() <= known:
            unknown |= row.keys() - known
        for col, values in columns:
            values.append(row.get(col))
    if unknown:
        raise FrameContractError(f"{kind}: unknown columns {sorted(unknown)}; expected {list(spec)}")
    if not columns[0][1]:
        return empty_frame(kind)
    return conform(kind, pd.DataFrame(data))


def conform(kind: str, df: pd.DataFrame) -> pd.DataFrame:
    """Cast ``df`` to the contract of ``kind`` (column order and dtypes).

    Raises:
        FrameContractError: a contract column is missing, or an extra column is present.
    """
    spec = _spec(kind)
    missing = [c for c in spec if c not in df.columns]
    extra = [c for c in df.columns if c not in spec]
    if missing or extra:
        raise FrameContractError(f"{kind}: missing columns {missing}, unknown columns {extra}")
    out = pd.DataFrame(index=df.index)
    for col, dtype in spec.items():
        series = df[col]
        if dtype == UTC_TS:
            # ISO 8601 in any precision: staged rows keep sub-second digits only when there are any,
            # so one column mixes "…:38+00:00" and "…:38.236+00:00" (format inference would fail)
            out[col] = pd.to_datetime(series, utc=True, format="ISO8601").astype(UTC_TS)
        elif dtype == INT:
            # via Float64 so that 12345.0 from JSON becomes 12345 and None becomes <NA>
            out[col] = series.astype("Float64").round().astype(INT)
        else:
            out[col] = series.astype(dtype)  # type: ignore[call-overload]
    return out.reset_index(drop=True)


def _spec(kind: str) -> dict[str, str]:
    try:
        return FRAMES[kind]
    except KeyError:
        raise FrameContractError(f"unknown canonical kind {kind!r}; known: {sorted(FRAMES)}") from None
