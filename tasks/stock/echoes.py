"""A stock channel's own stock webhook: the hub's echo told apart from a change made in the channel.

Stock is the stock system's; the hub writes it to the channel. A channel that posts every stock
change by webhook (:class:`~hub.capabilities.StockEchoes`) posts the hub's own writes back too. So:

* before each stock batch is sent, what the channel will report for each entry once it applied it
  (:meth:`StockEchoes.echo_of`: its key and level) is recorded (kind ``stock_sent``: the level last
  written and the one before, for an echo that arrives after a newer write was recorded);
* a webhook entry whose level is one of those is the hub's echo: ignored and counted;
* any other entry of an offer the hub writes is a change made in the channel. It is journaled and
  marked as drift (kind ``stock_drift``): the next stock cycle works that offer out again and sends
  it whatever it sent last, so the channel is brought back to the stock system's truth. A repeat of
  a change already marked (the same key and level) counts as a duplicate and is not journaled again
  — until the correction's own echo comes back, which clears the mark. (Were the correction never
  to echo as written — stock in a warehouse the hub does not write — the same level is not
  corrected twice: no loop of writes.)
* an entry of an offer the hub never wrote (not synced, or the webhook covers other warehouses) is
  counted and left alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from hub.capabilities import ChannelStockChange, Entry, StockEchoes
from hub.store import Store

#: what the hub wrote: channel key -> source offer id, the level written last and the one before
SENT = "stock_sent"
#: changes made in the channel: channel key -> source offer id, the level seen, still to correct
DRIFT = "stock_drift"


def record_sent(store: Store, integration: str, system: str, sink: StockEchoes, entries: Sequence[Entry]) -> None:
    """Record what the channel will echo for these entries (before they are sent: an echo can come
    back before the send returns)."""
    rows: dict[str, dict[str, object]] = {}
    for entry in entries:
        key, level = sink.echo_of(entry)
        rows[key] = {"key": key, "offer_id": str(entry.get("offer")), "level": float(level)}
    if not rows:
        return
    before = {str(r["key"]): r for r in plain_rows(store.records.frame(integration, SENT, keys=list(rows)))}
    for key, row in rows.items():
        old = before.get(key)
        row["previous"] = None if old is None else _level(old.get("level"))
    store.records.upsert_frame(integration, SENT, system, pd.DataFrame(list(rows.values())), "key")


@dataclass
class Sorted:
    """What one delivery of the channel's stock webhook held."""

    echoes: int = 0  # the hub's own writes coming back
    changed: list[ChannelStockChange] | None = None  # made in the channel: journaled, to be corrected
    duplicates: int = 0  # a change already marked and not yet corrected, delivered again
    unknown: int = 0  # offers the hub does not write


def sort_changes(store: Store, integration: str, system: str, changes: Sequence[ChannelStockChange]) -> Sorted:
    """Sort a delivery's changes; mark and journal those made in the channel."""
    out = Sorted(changed=[])
    assert out.changed is not None
    keys = sorted({c.key for c in changes})
    sent = {str(r["key"]): r for r in plain_rows(store.records.frame(integration, SENT, keys=keys))}
    drift = {str(r["key"]): r for r in plain_rows(store.records.frame(integration, DRIFT, keys=keys))}
    marked: list[dict[str, object]] = []
    confirmed: list[str] = []
    for change in changes:
        wrote = sent.get(change.key)
        if wrote is None:
            out.unknown += 1
            continue
        if change.level in {_level(wrote.get("level")), _level(wrote.get("previous"))}:
            out.echoes += 1
            if change.key in drift and not drift[change.key].get("pending"):
                confirmed.append(change.key)  # the correction came back: the same change again counts anew
            continue
        seen = drift.get(change.key)
        if seen is not None and _level(seen.get("level")) == change.level:
            out.duplicates += 1  # corrected once already, or waiting for the next cycle: not again
            continue
        out.changed.append(change)
        row = {"key": change.key, "offer_id": str(wrote["offer_id"]), "level": change.level, "pending": True}
        marked.append(row)
        drift[change.key] = row
    if confirmed:
        store.records.delete(integration, DRIFT, keys=confirmed)
    if marked:
        store.records.upsert_frame(integration, DRIFT, system, pd.DataFrame(marked), "key")
        shown = ", ".join(f"{c.key} = {c.level:g}" for c in out.changed[:10])
        more = f" and {len(out.changed) - 10} more" if len(out.changed) > 10 else ""
        store.journal.write(
            integration,
            "warning",
            "stock.changed-in-channel",
            f"stock changed in {system} by hand or by another integration: {shown}{more}; the stock system "
            "keeps the stock, so the next stock cycle writes its quantities back",
            {"offers": [c.key for c in out.changed[:100]], "count": len(out.changed)},
        )
    return out


def pending_drift(store: Store, integration: str) -> dict[str, str]:
    """Channel key -> source offer id of the changes made in the channel still to be corrected."""
    rows = plain_rows(store.records.frame(integration, DRIFT))
    return {str(r["key"]): str(r["offer_id"]) for r in rows if r.get("pending")}


def drift_queued(store: Store, integration: str, system: str, drift: Mapping[str, str]) -> None:
    """These changes' corrections are queued: no longer pending (their level stays, so a repeated
    delivery of the same change is not corrected twice)."""
    if not drift:
        return
    rows = plain_rows(store.records.frame(integration, DRIFT, keys=list(drift)))
    for row in rows:
        row["pending"] = False
    if rows:
        store.records.upsert_frame(integration, DRIFT, system, pd.DataFrame(rows), "key")


def plain_rows(frame: pd.DataFrame) -> list[dict[str, object]]:
    """Rows as dicts with missing cells as None (a frame's NaN would never equal a level)."""
    return [{str(k): (None if pd.isna(v) else v) for k, v in row.items()} for row in frame.to_dict("records")]


def _level(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]
