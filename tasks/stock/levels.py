"""The hub's copy of the source's stock, per offer and source store, kept between stock-sync cycles.

A changed-since read brings only the offers that moved, but a channel warehouse may sum several
source stores and a bundle is made of other offers' stock: both need the current level of offers
the read did not bring. The hub keeps the last level of every offer (one record per offer, its
stores in a small map; the store-less row under ``""``), so a cycle needs one read of the source
and nothing else. A whole read replaces the copy; a changed-since read is merged into it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

from hub.model import frame
from hub.store import Store

KIND = "stock_levels"
NO_STORE = ""  # the store-less row's key in a level map (JSON maps need string keys)


@dataclass(frozen=True)
class StockLevels:
    """The copy of one integration's source stock (``store.records`` kind ``stock_levels``)."""

    store: Store
    integration: str
    system: str  # the source's system name, what the records are filed under

    def replace_all(self, stock: pd.DataFrame) -> None:
        """A whole read: the report is the truth; offers it does not list are at 0 everywhere."""
        levels = _levels(stock)
        records = self.store.records
        records.upsert_frame(self.integration, KIND, self.system, _frame(levels), "offer_id")
        records.delete_missing(self.integration, KIND, levels)

    def merge(self, stock: pd.DataFrame) -> None:
        """A changed-since read: its (offer, store) values replace those held; other stores stay."""
        reported = _levels(stock)
        held = self.levels(list(reported))
        merged = {offer: {**held.get(offer, {}), **stores} for offer, stores in reported.items()}
        self.store.records.upsert_frame(self.integration, KIND, self.system, _frame(merged), "offer_id")

    def levels(self, offer_ids: Sequence[str]) -> dict[str, dict[str, float]]:
        """offer → source store (``""``: none) → quantity, for the offers the copy holds."""
        if not offer_ids:
            return {}
        rows = self.store.records.frame(self.integration, KIND, keys=list(offer_ids))
        if rows.empty:
            return {}
        return {
            str(o): {str(k): float(v) for k, v in stores.items()}
            for o, stores in zip(rows["offer_id"], rows["stores"], strict=True)
        }

    def stock(self, offer_ids: Iterable[str], measure: str) -> pd.DataFrame:
        """Canonical ``stock`` rows (by source store) of these offers, from the copy."""
        held = self.levels(sorted({str(o) for o in offer_ids}))
        return frame(
            "stock",
            [
                {
                    "offer_id": offer,
                    "store_id": None if store == NO_STORE else store,
                    "available": qty,
                    "stock_type": measure,
                }
                for offer, stores in held.items()
                for store, qty in stores.items()
            ],
        )


def _levels(stock: pd.DataFrame) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for offer, store, qty in zip(stock["offer_id"], stock["store_id"], stock["available"], strict=True):
        if pd.isna(offer) or pd.isna(qty):  # an item still being recalculated: its level is not known yet
            continue
        key = NO_STORE if pd.isna(store) else str(store)
        per_store = out.setdefault(str(offer), {})
        per_store[key] = per_store.get(key, 0.0) + float(qty)
    return out


def _frame(levels: dict[str, dict[str, float]]) -> pd.DataFrame:
    # stores sorted: the record's hash must not depend on the order the report listed them in
    return pd.DataFrame(
        {"offer_id": list(levels), "stores": [dict(sorted(stores.items())) for stores in levels.values()]}
    )
