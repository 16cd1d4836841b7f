"""Mappings for the catalog exchange, resolved and checked before anything is written.

Mapping keys in the config may be a MoySklad id or name (what a merchant sees); targets are codes
of the channel. A required mapping that is missing or points nowhere stops the run with one message
listing everything to fix, so a merchant fixes the config once, not one error per run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd


class MappingError(Exception):
    """Required mappings are missing or wrong; ``problems`` lists each with its fix."""

    def __init__(self, integration: str, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"integration {integration!r}: fix the mappings in the config before the import can write:\n{lines}"
        )


@dataclass(frozen=True)
class CatalogMappings:
    """Resolved mappings: MoySklad ids to channel codes."""

    store_map: dict[str, str] = field(default_factory=dict)  # MoySklad store id -> CRM store code
    price_type_map: dict[str, str] = field(default_factory=dict)  # MoySklad price type id -> CRM code
    feed_price_type_id: str | None = None  # the MoySklad price type published as the feed's <price>
    category_map: dict[str, str] = field(default_factory=dict)  # MoySklad folder id -> CRM category id
    warnings: tuple[str, ...] = ()


def _lookup(key: str, frame: pd.DataFrame, id_col: str, name_cols: Iterable[str]) -> str | None:
    """Find the id of the row whose id or one of ``name_cols`` equals ``key``."""
    if frame.empty:
        return None
    if key in set(frame[id_col].astype(str)):
        return key
    for col in name_cols:
        hits = frame.loc[frame[col].astype(str) == key, id_col]
        if len(hits):
            return str(hits.iloc[0])
    return None


def _names(frame: pd.DataFrame, col: str = "name") -> list[str]:
    return sorted(str(v) for v in frame[col].dropna())


def resolve_catalog_mappings(
    integration: str,
    mappings: Mapping[str, Mapping[str, str | None]],
    *,
    stores: pd.DataFrame,
    price_types: pd.DataFrame,
    folders: pd.DataFrame,
    crm_store_codes: Iterable[str],
    crm_price_types: Mapping[str, bool],
    need_stock: bool,
    need_prices: bool,
) -> CatalogMappings:
    """Resolve store, price-type and category mappings; raise :class:`MappingError` listing problems.

    Args:
        crm_price_types: CRM price type code -> whether it is the CRM's default (base) type.
    """
    problems: list[str] = []
    warnings: list[str] = []
    crm_codes = sorted(set(crm_store_codes))

    store_map: dict[str, str] = {}
    ignored: set[str] = set()
    for key, target in (mappings.get("stores") or {}).items():
        store_id = _lookup(str(key), stores, "store_id", ["name", "code"])
        if store_id is None:
            problems.append(f"mappings.stores: {key!r} is not a MoySklad store; stores: {_names(stores)}")
        elif not target:
            ignored.add(store_id)
        elif target not in crm_codes:
            problems.append(f"mappings.stores.{key}: {target!r} is not a CRM warehouse code; codes: {crm_codes}")
        else:
            store_map[store_id] = str(target)
    if need_stock:
        live = stores[~stores["archived"].fillna(False).astype(bool)]
        unmapped = [f"{n!r} (id {i})" for i, n in zip(live["store_id"], live["name"], strict=True)
                    if str(i) not in store_map and str(i) not in ignored]
        if unmapped:
            problems.append(
                f"mappings.stores: MoySklad stores not mapped: {', '.join(unmapped)}; map each to a CRM "
                f"warehouse code {crm_codes} (several may share one code: their stock is summed), "
                "or to null to leave it out"
            )

    price_type_map: dict[str, str] = {}
    for key, target in (mappings.get("price_types") or {}).items():
        type_id = _lookup(str(key), price_types, "price_type_id", ["name", "external_code"])
        if type_id is None:
            problems.append(
                f"mappings.price_types: {key!r} is not a MoySklad price type; types: {_names(price_types)}"
            )
        elif target and target not in crm_price_types:
            problems.append(
                f"mappings.price_types.{key}: {target!r} is not a CRM price type; codes: {sorted(crm_price_types)}"
            )
        elif target:
            price_type_map[type_id] = str(target)
    if need_prices and not price_type_map:
        problems.append(
            "mappings.price_types: map at least one MoySklad price type "
            f"({_names(price_types)}) to a CRM price type code ({sorted(crm_price_types)})"
        )

    category_map: dict[str, str] = {}
    for key, target in (mappings.get("categories") or {}).items():
        folder_id = _lookup(str(key), folders, "category_id", ["name", "path"])
        if folder_id is None:
            problems.append(f"mappings.categories: {key!r} is not a MoySklad product folder")
        elif target:
            category_map[folder_id] = str(target)

    if problems:
        raise MappingError(integration, problems)

    base_codes = {code for code, is_default in crm_price_types.items() if is_default}
    feed_type = next((t for t, code in price_type_map.items() if code in base_codes), None)
    if feed_type is None and not price_types.empty:
        defaults = price_types.loc[price_types["is_default"].fillna(False).astype(bool), "price_type_id"]
        feed_type = str(defaults.iloc[0]) if len(defaults) else str(price_types["price_type_id"].iloc[0])
    for type_id, name in zip(price_types["price_type_id"], price_types["name"], strict=True):
        if need_prices and str(type_id) not in price_type_map:
            warnings.append(f"MoySklad price type {name!r} is not mapped: its prices are not sent")
    return CatalogMappings(store_map, price_type_map, feed_type, category_map, tuple(warnings))
