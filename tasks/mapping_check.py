"""Mappings between the two sides of an exchange, declared as data and checked by one routine
before anything is written.

A mapping rule says which source values may be mapped (a frame of the source's reference book, by
id or by a name a merchant sees), onto which channel values, and how strictly (every live source
value must be mapped or left out with null; at least one mapped; several onto one allowed or not).
A run stops with one message listing every problem and its fix, so a merchant fixes the config once,
not one error per run. The status, delivery and payment mappings of the order exchanges are rules
of the same shape.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from hub.capabilities import ChannelReference


class MappingError(Exception):
    """Required mappings or settings are missing or wrong; ``problems`` lists each with its fix."""

    #: an exchange that fails on it journals it as ``<exchange>.mappings`` too, in its own words
    journal_event = "mappings"

    def __init__(self, integration: str, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"integration {integration!r}: fix the config before the exchange can write:\n{lines}")


@dataclass(frozen=True)
class MappingRule:
    """One ``mappings.<kind>`` table of the config, as data."""

    kind: str  # the key under ``mappings:``
    what: str  # what a source value is, for messages ("<source title> store")
    values: pd.DataFrame  # the source's reference book
    id_col: str
    name_cols: tuple[str, ...]  # other columns a merchant may name a value by
    targets: Collection[str] | None  # the channel's values; None: not known to check
    target_what: str = "value"  # what a channel value is, for messages ("<channel title> warehouse code")
    one_to_one: bool = False  # no two source values onto one channel value
    complete: bool = False  # every live source value mapped, or left out with null
    at_least_one: bool = False
    hint: str = ""  # added to the "not mapped" problem


@dataclass
class Resolved:
    mapped: dict[str, str] = field(default_factory=dict)  # source id -> channel value
    left_out: set[str] = field(default_factory=set)


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


def resolve_rule(rule: MappingRule, given: Mapping[str, str | None], problems: list[str]) -> Resolved:
    """Resolve one mapping table; append each problem (with its fix) to ``problems``."""
    out = Resolved()
    targets = sorted(set(rule.targets)) if rule.targets is not None else None
    for key, target in given.items():
        source_id = _lookup(str(key), rule.values, rule.id_col, rule.name_cols)
        if source_id is None:
            problems.append(f"mappings.{rule.kind}: {key!r} is not a {rule.what}; {rule.kind}: {_names(rule.values)}")
        elif not target:
            out.left_out.add(source_id)
        elif targets is not None and str(target) not in targets:
            problems.append(f"mappings.{rule.kind}.{key}: {target!r} is not a {rule.target_what}; codes: {targets}")
        else:
            out.mapped[source_id] = str(target)
    if rule.one_to_one:
        seen: dict[str, str] = {}
        for source_id, target in out.mapped.items():
            if target in seen:
                problems.append(
                    f"mappings.{rule.kind}: {seen[target]!r} and {source_id!r} both map to {target!r}; "
                    "each must map to its own value"
                )
            seen[target] = source_id
    if rule.complete:
        live = rule.values
        if "archived" in live:
            live = live[~live["archived"].fillna(False).astype(bool)]
        unmapped = [
            f"{n!r} (id {i})"
            for i, n in zip(live[rule.id_col], live["name"], strict=True)
            if str(i) not in out.mapped and str(i) not in out.left_out
        ]
        if unmapped:
            problems.append(f"mappings.{rule.kind}: {rule.what}s not mapped: {', '.join(unmapped)}; {rule.hint}")
    if rule.at_least_one and not out.mapped:
        problems.append(
            f"mappings.{rule.kind}: map at least one {rule.what} ({_names(rule.values)}) to a "
            f"{rule.target_what} ({targets})"
        )
    return out


@dataclass(frozen=True)
class CatalogMappings:
    """Resolved mappings: source ids to channel codes."""

    store_map: dict[str, str] = field(default_factory=dict)  # source store id -> channel warehouse code
    price_type_map: dict[str, str] = field(default_factory=dict)  # source price type id -> channel code
    feed_price_type_id: str | None = None  # the source price type published as the catalog's main price
    category_map: dict[str, str] = field(default_factory=dict)  # source category id -> channel category id
    warnings: tuple[str, ...] = ()


def resolve_catalog_mappings(
    integration: str,
    mappings: Mapping[str, Mapping[str, str | None]],
    *,
    stores: pd.DataFrame,
    price_types: pd.DataFrame,
    folders: pd.DataFrame,
    channel: ChannelReference,
    need_stock: bool,
    need_prices: bool,
    source_title: str = "source",
    channel_title: str = "channel",
) -> CatalogMappings:
    """Resolve store, price-type and category mappings, and take the channel's own problems;
    raise :class:`MappingError` listing them all."""
    warehouses = sorted(set(channel.warehouses))
    rules = {
        "stores": MappingRule(
            "stores",
            f"{source_title} store",
            stores,
            "store_id",
            ("name", "code"),
            warehouses,
            f"{channel_title} warehouse code",
            complete=need_stock,
            hint=f"map each to a {channel_title} warehouse code {warehouses} (several may share one code: "
            "their stock is summed), or to null to leave it out",
        ),
        "price_types": MappingRule(
            "price_types",
            f"{source_title} price type",
            price_types,
            "price_type_id",
            ("name", "external_code"),
            list(channel.price_types),
            f"{channel_title} price type",
            at_least_one=need_prices,
        ),
        "categories": MappingRule(
            "categories", f"{source_title} category", folders, "category_id", ("name", "path"), None
        ),
    }
    problems = list(channel.problems)
    resolved = {kind: resolve_rule(rule, mappings.get(kind) or {}, problems) for kind, rule in rules.items()}
    if problems:
        raise MappingError(integration, problems)

    price_type_map = resolved["price_types"].mapped
    base_codes = {code for code, is_base in channel.price_types.items() if is_base}
    feed_type = next((t for t, code in price_type_map.items() if code in base_codes), None)
    if feed_type is None and not price_types.empty:
        defaults = price_types.loc[price_types["is_default"].fillna(False).astype(bool), "price_type_id"]
        feed_type = str(defaults.iloc[0]) if len(defaults) else str(price_types["price_type_id"].iloc[0])
    warnings = [
        f"{source_title} price type {name!r} is not mapped: its prices are not sent"
        for type_id, name in zip(price_types["price_type_id"], price_types["name"], strict=True)
        if need_prices and str(type_id) not in price_type_map
    ]
    return CatalogMappings(
        resolved["stores"].mapped, price_type_map, feed_type, resolved["categories"].mapped, tuple(warnings)
    )
