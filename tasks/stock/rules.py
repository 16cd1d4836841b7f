"""The stock a channel is sent, from the source's stock per store: the seed modules' rules, in one place.

Channel-agnostic, on canonical frames, so the full import and stock sync apply the same rules:

* several source stores mapped to one channel warehouse are summed; a store mapped to nothing is
  left out; a negative balance counts as 0 per source store (one over-sold store must not eat
  another's stock);
* the row with no store (e.g. reserve of orders that name no store, expected goods of purchase
  orders without one) is counted against ``storeless_from``, a warehouse the merchant names; with
  none named it is not counted, as no warehouse can be told;
* a bundle has no stock of its own: per warehouse it is the minimum over its components of
  ⌊component available ÷ quantity in the bundle⌋; a component that is archived or not in the
  catalog makes the bundle unavailable; a bundle whose components are unknown is left untouched
  (an explicit 0 would show it sold out);
* every mapped warehouse appears for every offer, 0 where there is nothing (a channel keeps the old
  value of a warehouse left out, so an omitted zero would be phantom stock); capped; floored for
  channels that count whole units only;
* with ``zero_sold_out`` off, an offer at or below 0 everywhere is left untouched instead of zeroed.

Services never reach these functions: the callers pass stocked offers only.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from hub.model import frame
from hub.options import StockOptions

#: offers that carry stock (a service never does; a bundle's is derived from its components)
STOCKED_KINDS = ("product", "variant", "bundle")

PerWarehouse = dict[str, float]


@dataclass(frozen=True)
class StockRules:
    """The rules of one integration: its options, its store mapping and what the channel takes."""

    store_map: Mapping[str, str]  # source store id -> channel warehouse code (unmapped: left out)
    measure: str = "freeStock"
    cap: float = 999_999
    zero_sold_out: bool = True
    storeless_from: str | None = None
    whole_units: bool = False

    @classmethod
    def of(cls, options: StockOptions, store_map: Mapping[str, str], *, whole_units: bool = False) -> StockRules:
        return cls(
            dict(store_map),
            options.measure,
            options.cap,
            options.zero_sold_out,
            options.storeless_reserve_from,
            whole_units,
        )

    @property
    def codes(self) -> list[str]:
        return sorted(set(self.store_map.values()))


@dataclass
class Outcome:
    """The stock to send, and the offers deliberately left untouched (for the run's summary)."""

    stock: pd.DataFrame  # canonical ``stock`` by channel warehouse code, offers in id order
    sold_out_untouched: int = 0
    bundles_without_components: list[str] | None = None


def warehouse_totals(offer_ids: Iterable[str], stock: pd.DataFrame, rules: StockRules) -> dict[str, PerWarehouse]:
    """Per offer, the summed quantity per channel warehouse (negatives as 0 per store; not capped)."""
    codes = rules.codes
    totals = {str(o): dict.fromkeys(codes, 0.0) for o in offer_ids}
    storeless: dict[str, float] = {}
    for offer_id, store_id, available in zip(stock["offer_id"], stock["store_id"], stock["available"], strict=True):
        per_store = totals.get(str(offer_id)) if not pd.isna(offer_id) else None
        if per_store is None or pd.isna(available):
            continue
        if pd.isna(store_id) or store_id == "":
            storeless[str(offer_id)] = storeless.get(str(offer_id), 0.0) + float(available)
            continue
        code = rules.store_map.get(str(store_id))
        if code is not None:
            per_store[code] += max(float(available), 0.0)
    if rules.storeless_from in codes:
        for offer_id, value in storeless.items():
            per_store = totals[offer_id]
            per_store[rules.storeless_from] = max(per_store[rules.storeless_from] + value, 0.0)
    return totals


def bundle_totals(
    bundle_ids: Iterable[str],
    components: pd.DataFrame,
    parts: Mapping[str, PerWarehouse],
    unavailable: Collection[str],
    codes: list[str],
) -> tuple[dict[str, PerWarehouse], list[str]]:
    """Per bundle, per warehouse: min over components of ⌊available ÷ quantity⌋.

    Returns the bundles computed and those whose components are not known (left untouched).
    """
    wanted = {str(b) for b in bundle_ids}
    recipe: dict[str, list[tuple[str, float]]] = {}
    for bundle, component, quantity in zip(
        components["offer_id"], components["component_id"], components["quantity"], strict=True
    ):
        if str(bundle) in wanted and not pd.isna(quantity) and float(quantity) > 0:
            recipe.setdefault(str(bundle), []).append((str(component), float(quantity)))
    out: dict[str, PerWarehouse] = {}
    for bundle in sorted(wanted):
        if bundle not in recipe:
            continue
        per_code = {}
        for code in codes:
            fits = [
                0.0 if comp in unavailable or comp not in parts else math.floor(parts[comp].get(code, 0.0) / qty + 1e-9)
                for comp, qty in recipe[bundle]
            ]
            per_code[code] = float(max(min(fits), 0.0))
        out[bundle] = per_code
    return out, sorted(wanted - set(out))


def channel_stock(
    offers: pd.DataFrame,
    stock: pd.DataFrame,
    rules: StockRules,
    components: pd.DataFrame | None = None,
    unavailable: Collection[str] = (),
) -> Outcome:
    """The canonical ``stock`` frame by channel warehouse for the stocked ``offers``.

    Args:
        offers: canonical ``offers`` rows to send (``kind`` tells bundles; services are ignored).
        stock: canonical ``stock`` rows by source store, of these offers and of their bundles' components.
        components: canonical ``bundle_components`` (None: bundles are left untouched).
        unavailable: offers a bundle may not be made of (archived, or not in the catalog).
    """
    codes = rules.codes
    if not codes:
        return Outcome(frame("stock", []))
    kinds = dict(zip(offers["offer_id"].astype(str), offers["kind"].astype(str), strict=True))
    plain = [o for o, kind in kinds.items() if kind in ("product", "variant")]
    bundles = [o for o, kind in kinds.items() if kind == "bundle"]
    components = components if components is not None else frame("bundle_components", [])
    needed = set(plain) | set(components.loc[components["offer_id"].isin(bundles), "component_id"].astype(str))
    parts = warehouse_totals(needed, stock, rules)
    made, unknown = bundle_totals(bundles, components, parts, unavailable, codes)
    result = {o: parts[o] for o in plain} | made
    rows, untouched = [], 0
    for offer_id in sorted(result):
        per_code = result[offer_id]
        if not rules.zero_sold_out and all(qty <= 0 for qty in per_code.values()):
            untouched += 1
            continue
        for code, qty in per_code.items():
            sent = min(qty, rules.cap)
            rows.append(
                {
                    "offer_id": offer_id,
                    "store_id": code,
                    "available": math.floor(sent + 1e-9) if rules.whole_units else sent,
                    "stock_type": rules.measure,
                }
            )
    return Outcome(frame("stock", rows), untouched, unknown)
