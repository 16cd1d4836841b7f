"""One stock-sync cycle: read what moved at the source, work out the channel's stock, queue the changes.

The read is one request: stock changed since the cursor (minus an overlap), or all of it on the
first run, past the source's changed-since window, after a change of measure, and every
``full_every`` seconds to catch drift. Affected offers are those the read listed and the bundles
made of them; their channel stock follows :mod:`tasks.stock.rules` over the hub's copy of the
source's levels (:mod:`tasks.stock.levels`), and only entries that differ from what the channel
last accepted are queued (:mod:`tasks.publish`). The cursor is the caller's to move, after the
queued batches were accepted.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from hub.capabilities import FeedCarried, OfferKeyed, OwnReserves, StockSink, StockSource
from hub.config import Config, ConfigError
from hub.exchanges import STOCK_SYNC_CURSOR
from hub.store import Store
from tasks.catalog.entries import bundle_parts
from tasks.catalog.run import feed_path_of
from tasks.clients import capability_for_planning, checked_edge, open_capability
from tasks.exchange import ExchangeRun, Outcome
from tasks.mapping_check import MappingError, MappingRule, resolve_rule
from tasks.publish import INVENTORIES, Uploaded, UploadPlanner
from tasks.stock.catalog_copy import needs_own_copy, stage_source_catalog
from tasks.stock.echoes import drift_queued, pending_drift
from tasks.stock.levels import StockLevels
from tasks.stock.rules import STOCKED_KINDS, StockRules, channel_stock

CURSOR = STOCK_SYNC_CURSOR


@dataclass(frozen=True)
class StockRun(ExchangeRun):
    """One stock-sync cycle of an integration (a publish lane: :class:`tasks.publish.Lane`)."""

    resend_token: str | None = None
    #: the feed to rewrite, when the channel's stock travels in its feed (nothing is sent then)
    feed_path: Path | None = None

    @property
    def levels(self) -> StockLevels:
        return StockLevels(self.store, self.name, self.source_system)


def plan_stock_run(config: Config, name: str, store: Store) -> StockRun:
    """Check that ``name`` has a stock edge both of whose sides can do stock.

    Raises:
        ConfigError: no stock edge, or a side lacks the capability.
    """
    integ, source, target = checked_edge(config, name, "stock", StockSource, StockSink, "stock: {from: erp, to: shop}")
    with capability_for_planning(integ, target, StockSink) as sink:
        carried = isinstance(sink, FeedCarried) and sink.carried_by_feed
        # the reserve rule (docs/architecture.md, "Channels that keep a catalog of their own"): such a
        # channel's orders are reserved at the source, whose free stock is already net of them; the
        # channel subtracts them again from what it is sent
        if isinstance(sink, OwnReserves) and sink.subtracts_own_reserves and integ.options.stock.measure != "stock":
            raise ConfigError(
                str(config.source),
                [
                    (
                        f"integrations.{name}.options.stock.measure",
                        f"{target} holds back the reserves of its own orders, which reach {source} as reserved "
                        f"orders: send stock on hand (measure: stock), or each reserve is subtracted twice",
                    )
                ],
            )
    return StockRun(name, integ, store, source, target, feed_path=feed_path_of(config, name) if carried else None)


@dataclass(frozen=True)
class Cursor:
    """Where the last accepted cycle read from, when the last whole read was, and of which measure."""

    read_at: datetime | None = None
    full_at: datetime | None = None
    measure: str | None = None

    @classmethod
    def load(cls, run: StockRun) -> Cursor:
        raw = run.store.cursors.get(run.name, CURSOR)
        if not raw:
            return cls()
        data = json.loads(raw)
        read_at, full_at = (datetime.fromisoformat(data[k]) if data.get(k) else None for k in ("read_at", "full_at"))
        return cls(read_at, full_at, data.get("measure"))

    def save(self, run: StockRun) -> None:
        run.store.cursors.set(
            run.name,
            CURSOR,
            json.dumps(
                {
                    "read_at": self.read_at.isoformat() if self.read_at else None,
                    "full_at": self.full_at.isoformat() if self.full_at else None,
                    "measure": self.measure,
                }
            ),
        )


def read_window(
    cursor: Cursor, run: StockRun, now: datetime, window: timedelta | None, force_full: bool
) -> tuple[datetime | None, str]:
    """``(changed_since, why)``: None with the reason for a whole read, else the moment to read from."""
    options = run.integ.options.stock
    overlap = timedelta(seconds=options.overlap)
    # a cursor ahead of now (the clock was set back) must not ask for the future: the source refuses that
    since = min(cursor.read_at, now) - overlap if cursor.read_at else None
    reasons = [
        (force_full, "asked for"),
        (cursor.read_at is None, "first cycle"),
        (window is None, "source reads whole only"),
        (cursor.measure != options.measure, f"measure is now {options.measure}"),
        (since is not None and window is not None and now - since > window, "past the source's changed-since window"),
        (
            cursor.full_at is None or now - cursor.full_at >= timedelta(seconds=options.full_every),
            f"reconciliation due (every {options.full_every} s)",
        ),
    ]
    why = next((reason for hit, reason in reasons if hit), None)
    return (None, why) if why else (since, "changed since the last cycle")


@dataclass
class CycleResult:
    """What one cycle read and queued."""

    full: bool
    why: str
    read_at: datetime
    rows_read: int = 0
    offers_affected: int = 0
    offers_changed: int = 0
    batches_queued: int = 0
    not_in_catalog: int = 0  # offers the source listed that the hub's catalog does not have (yet)
    unknown_to_channel: int = 0  # offers the channel did not know: sent after the next catalog publication
    sold_out_untouched: int = 0
    catalog_staged: int | None = None  # offers of the source catalog staged by this cycle (no catalog edge)
    offers_without_key: int = 0  # offers the channel cannot be told (it matches by a key they lack)
    bundles_without_components: list[str] = field(default_factory=list)
    channel_changes_corrected: int = 0  # offers changed in the channel (its stock webhook), written back


def store_map(run: StockRun) -> dict[str, str]:
    """The config's store mapping over the stores the last full import staged (nothing is read)."""
    stores = run.store.records.frame(run.name, "stores")
    if stores.empty:
        raise MappingError(run.name, ["the hub has no stores of the source yet: run the full import first"])
    problems: list[str] = []
    rule = MappingRule("stores", "store", stores, "store_id", ("name", "code"), None, at_least_one=True)
    resolved = resolve_rule(rule, run.integ.mappings.get("stores") or {}, problems)
    if problems:
        raise MappingError(run.name, problems)
    return resolved.mapped


def read_and_queue(run: StockRun, *, force_full: bool = False, now: datetime | None = None) -> CycleResult:
    """Read the source once, update the hub's copy, queue the channel entries that changed."""
    options = run.integ.options.stock
    own_copy = needs_own_copy(run)  # no catalog edge keeps the hub's copy of the source catalog
    mapping = None if own_copy else store_map(run)
    cursor = Cursor.load(run)
    now = now or datetime.now(UTC)

    async def read() -> tuple[pd.DataFrame, CycleResult]:
        async with open_capability(run.integ, run.source, StockSource) as source:
            since, why = read_window(cursor, run, now, source.changes_window, force_full)
            stock = await source.current_stock(options.measure, changed_since=since)
        return stock, CycleResult(full=since is None, why=why, read_at=now)

    stock, result = asyncio.run(read())
    if own_copy and (result.full or run.store.records.frame(run.name, "stores").empty):
        result.catalog_staged = stage_source_catalog(run)
    mapping = mapping or store_map(run)
    result.rows_read = len(stock)
    levels = run.levels
    if result.full:
        levels.replace_all(stock)
    else:
        levels.merge(stock)
    # offers whose stock was changed in the channel (its stock webhook): worked out again and sent
    # whatever was sent last, so the channel comes back to the source's quantities
    drift = pending_drift(run.store, run.name)
    if drift:
        run.store.snapshots.delete(run.name, INVENTORIES, sorted(set(drift.values())))
    moved = None if result.full else set(stock["offer_id"].dropna().astype(str)) | set(drift.values())
    offers = _affected_offers(run, moved, result)
    with capability_for_planning(run.integ, run.target, StockSink) as sink:
        rules = StockRules.of(options, mapping, whole_units=sink.whole_units)
        planner = UploadPlanner(run, INVENTORIES, sink, retry_refused=False)
        for part in _slices(offers):
            components, unavailable = bundle_parts(run.store, run.name, part)
            wanted = [*part["offer_id"].astype(str), *components["component_id"].astype(str)]
            outcome = channel_stock(part, levels.stock(wanted, options.measure), rules, components, unavailable)
            result.sold_out_untouched += outcome.sold_out_untouched
            result.bundles_without_components += outcome.bundles_without_components or []
            if not len(outcome.stock):
                continue
            if isinstance(sink, OfferKeyed):  # named by the merchant's key: offers without one are left out
                keyed = part.dropna(subset=[sink.offer_key])
                keys = dict(zip(keyed["offer_id"].astype(str), keyed[sink.offer_key].astype(str), strict=True))
                result.offers_without_key += len(part) - len(keyed)
                planner.add(sink.keyed_stock_entries(outcome.stock, keys))
            else:
                planner.add(sink.stock_entries(outcome.stock))
        planned = planner.finish()
    drift_queued(run.store, run.name, run.target_system, drift)
    result.channel_changes_corrected = len(drift)
    result.offers_changed, result.batches_queued = planned.changed, planned.batches
    result.unknown_to_channel = planned.refused_waiting
    return result


def _affected_offers(run: StockRun, moved: set[str] | None, result: CycleResult) -> pd.DataFrame:
    """The stocked offers to work out: every one after a whole read, else those that moved and the
    bundles made of them."""
    records = run.store.records
    if moved is None:
        offers = pd.concat([records.frame(run.name, "offers", keys=[]), *records.iter_frames(run.name, "offers")])
    else:
        components = records.frame(run.name, "bundle_components")
        bundles = set(components.loc[components["component_id"].astype(str).isin(moved), "offer_id"].astype(str))
        offers = records.frame(run.name, "offers", keys=sorted(moved | bundles))
        result.not_in_catalog = len(moved - set(offers["offer_id"].astype(str)))
    offers = offers[offers["kind"].isin(STOCKED_KINDS)]
    if not run.integ.options.stock.include_archived:
        offers = offers[~offers["archived"].fillna(False).astype(bool)]
    result.offers_affected = len(offers)
    return offers.reset_index(drop=True)


def _slices(offers: pd.DataFrame, rows: int = 5000) -> list[pd.DataFrame]:
    return [offers.iloc[i : i + rows] for i in range(0, len(offers), rows)]


def summary_rows(result: CycleResult) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {"what": "read", "count": f"{'whole' if result.full else 'changed since'} ({result.why})"},
        {"what": "stock rows read", "count": result.rows_read},
        {"what": "offers worked out", "count": result.offers_affected},
        {"what": "offers changed", "count": result.offers_changed},
        {"what": "batches queued", "count": result.batches_queued},
    ]
    if result.not_in_catalog:
        rows.append(
            {
                "what": "offers not in the hub's catalog (sent after the next full import)",
                "count": result.not_in_catalog,
            }
        )
    if result.unknown_to_channel:
        rows.append(
            {
                "what": "offers the channel does not know (sent after the next catalog publication)",
                "count": result.unknown_to_channel,
            }
        )
    if result.catalog_staged is not None:
        rows.append({"what": "source catalog offers staged (no catalog edge)", "count": result.catalog_staged})
    if result.offers_without_key:
        rows.append(
            {"what": "offers without the key the channel matches by (not sent)", "count": result.offers_without_key}
        )
    if result.channel_changes_corrected:
        rows.append(
            {
                "what": "offers changed in the channel, written back to the source's stock",
                "count": result.channel_changes_corrected,
            }
        )
    if result.sold_out_untouched:
        rows.append(
            {"what": "sold-out offers left untouched (zero_sold_out: false)", "count": result.sold_out_untouched}
        )
    if result.bundles_without_components:
        rows.append(
            {
                "what": "bundles with unknown components (left untouched)",
                "count": len(result.bundles_without_components),
            }
        )
    return rows


def lag_since(noticed_at: str | None) -> float | None:
    """Seconds from the notification of the earliest change a cycle carries (webhook path) to now."""
    if not noticed_at:
        return None
    noticed = datetime.fromisoformat(noticed_at)
    if noticed.tzinfo is None:
        noticed = noticed.replace(tzinfo=UTC)
    return round((datetime.now(UTC) - noticed).total_seconds(), 2)


def sync_outcome(result: CycleResult, uploaded: Uploaded, integration: str, lag: float | None) -> Outcome:
    """The summary of one stock-sync cycle; batches the channel did not accept fail the run."""
    rows = [
        *summary_rows(result),
        {"what": "batches sent", "count": uploaded.batches},
        {"what": "offers sent", "count": uploaded.entries},
    ]
    if uploaded.not_found:
        rows.append({"what": "offers the channel refused as unknown in this cycle", "count": len(uploaded.not_found)})
    if uploaded.unfinished:
        rows.append(
            {"what": "batches not accepted (cursor kept: the next cycle reads again)", "count": uploaded.unfinished}
        )
    return Outcome(
        rows=rows,
        tail=[{"what": "lag from the notification, s", "count": lag}] if lag is not None else [],
        line=f"stock sync: {result.rows_read} rows read, {result.offers_changed} offers changed, "
        f"{uploaded.batches} batches sent",
        level="error" if uploaded.unfinished else "warning" if uploaded.not_found else "info",
        data={"full": result.full},
        summary={
            "full": result.full,
            "why": result.why,
            "rows_read": result.rows_read,
            "offers_affected": result.offers_affected,
            "offers_changed": result.offers_changed,
            "batches_sent": uploaded.batches,
            "offers_sent": uploaded.entries,
            "not_found": len(uploaded.not_found),
            "unknown_to_channel": result.unknown_to_channel,
            "not_in_catalog": result.not_in_catalog,
            "channel_changes_corrected": result.channel_changes_corrected,
            "lag": lag,
        },
        failure=f"stock sync of {integration}: {uploaded.unfinished} batches not accepted "
        f"({uploaded.dead} refused for good): {uploaded.errors[:3]}"
        if uploaded.unfinished
        else None,
    )
