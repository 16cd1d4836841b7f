"""The stock a channel is sent, from the source's stock per store: the seed modules' rules, in one place.

Channel-agnostic, on canonical frames, so the full import and stock sync apply the same rules:
several source stores mapped to one channel warehouse are summed; a store mapped to nothing is left
out; a negative balance counts as 0 per source store (one over-sold store must not eat another's
stock); every mapped warehouse appears for every offer, 0 where there is nothing (a channel keeps
the old value of a warehouse left out, so an omitted zero would be phantom stock); capped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from hub.model import frame


def channel_stock(offer_ids: Iterable[str], stock: pd.DataFrame, store_map: Mapping[str, str],
                  cap: float, measure: str) -> pd.DataFrame:
    """Canonical ``stock`` by channel warehouse code for ``offer_ids``, offers in id order.

    Args:
        stock: canonical ``stock`` rows by source store (rows of other offers are ignored).
        store_map: source store id → channel warehouse code (unmapped stores are left out).
        cap: the largest quantity sent.
        measure: recorded in ``stock_type``.
    """
    codes = sorted(set(store_map.values()))
    if not codes:
        return frame("stock", [])
    totals = {str(o): dict.fromkeys(codes, 0.0) for o in offer_ids}
    for offer_id, store_id, available in zip(stock["offer_id"], stock["store_id"], stock["available"], strict=True):
        per_store = totals.get(str(offer_id)) if not pd.isna(offer_id) else None
        code = store_map.get(str(store_id)) if not pd.isna(store_id) else None
        if per_store is not None and code is not None and not pd.isna(available):
            per_store[code] += max(float(available), 0.0)
    rows = [{"offer_id": offer_id, "store_id": code, "available": min(qty, cap), "stock_type": measure}
            for offer_id, per_store in sorted(totals.items()) for code, qty in per_store.items()]
    return frame("stock", rows)
