"""Publishing the catalog to retailCRM: only what changed since the last push, through the queue.

Stock and prices are compared with the snapshot of what was last sent; the differences become
upload batches in the exchange queue (idempotency key = the batch's content *and* the state it
replaces, so a legitimately repeated value is sent again while a retried batch is not duplicated).
A batch's snapshot is saved only after the CRM accepted it, then the item is completed: a run
killed anywhere re-derives the same batches and converges. The staged catalog is read a slice of
offers at a time, so memory does not grow with the catalog.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NONE

from connectors.http import ConnectorError, chunked
from connectors.retailcrm import convert as crm_convert
from connectors.retailcrm.client import RetailCRMClient
from tasks.catalog_run import MOYSKLAD, RETAILCRM, CatalogRun
from tasks.clients import retailcrm_client
from tasks.mapping_check import CatalogMappings

INVENTORIES = "inventories"
PRICES = "prices"
STOCKED_KINDS = ("product", "variant", "bundle")  # services have no stock


def _digest(value: Any) -> str:
    return hashlib.sha1(json.dumps(value, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def _source_ref(entry: Mapping[str, Any]) -> str:
    return str(entry.get("xmlId") or entry.get("externalId") or entry.get("id"))


@dataclass
class Planned:
    """Upload batches a plan step put in the queue."""

    entries: int = 0
    changed: int = 0
    batches: int = 0


#: offers per slice of the staged catalog: what one planning and feed step holds in memory
SLICE_ROWS = 5000


@dataclass(frozen=True)
class CatalogSlice:
    """Published offers of one slice of the staged catalog (key order), with their prices."""

    offers: pd.DataFrame  # archived offers only when the integration publishes them
    prices: pd.DataFrame

    @property
    def offer_ids(self) -> list[str]:
        return self.offers["offer_id"].astype(str).tolist()


def iter_catalog_slices(run: CatalogRun, rows: int = SLICE_ROWS) -> Iterator[CatalogSlice]:
    """The staged offers ``rows`` at a time, each slice read from the hub with its own prices."""
    for offers in run.store.records.iter_frames(run.name, "offers", rows):
        if not run.integ.options.include_archived:
            offers = offers[~offers["archived"].fillna(False).astype(bool)].reset_index(drop=True)
        if offers.empty:
            continue
        ids = offers["offer_id"].astype(str).tolist()
        yield CatalogSlice(offers, run.store.records.frame(run.name, "prices", parents=ids))


class StockByOffer:
    """The current-stock report (one response for the whole catalog) indexed by offer, for slices."""

    def __init__(self, stock: pd.DataFrame) -> None:
        self.stock = stock.reset_index(drop=True)
        self._rows = self.stock.groupby(self.stock["offer_id"].astype(str), sort=False).indices

    def rows(self, offer_ids: Iterable[str]) -> pd.DataFrame:
        """The report's rows of these offers (none for an offer the report does not list)."""
        found = [self._rows[o] for o in offer_ids if o in self._rows]
        return self.stock.iloc[np.concatenate(found)] if found else self.stock.iloc[:0]


def inventory_entries(
    run: CatalogRun, part: CatalogSlice, stock: StockByOffer, mappings: CatalogMappings
) -> list[dict[str, Any]]:
    """Every stocked offer (not services) of the slice with every mapped warehouse: zero where
    MoySklad reports nothing, capped."""
    known = part.offers.loc[part.offers["kind"].isin(STOCKED_KINDS), "offer_id"].astype(str).tolist()
    rows = stock.rows(known)
    # offers never moved are absent from the report: give them an explicit zero so the CRM forgets
    # any stale quantity (an omitted store keeps its old value there)
    missing = sorted(set(known) - set(rows["offer_id"].astype(str)))
    first_store = next(iter(mappings.store_map), None)
    if missing and first_store is not None:
        zeros = pd.DataFrame({"offer_id": missing, "store_id": first_store, "available": 0.0,
                              "stock_type": run.integ.options.stock_type})
        rows = pd.concat([rows, zeros.astype(rows.dtypes.to_dict())], ignore_index=True)
    entries = crm_convert.stock_to_inventories(rows, store_map=mappings.store_map)
    cap = run.integ.options.stock_cap
    for entry in entries:
        for item in entry["stores"]:
            item["available"] = min(item["available"], cap)
    return entries


def price_entries(run: CatalogRun, part: CatalogSlice, mappings: CatalogMappings) -> list[dict[str, Any]]:
    """Mapped prices of every published offer of the slice."""
    site = getattr(run.integ.systems[run.target], "site", None)
    return crm_convert.prices_to_upload(part.prices, price_type_map=mappings.price_type_map, site=site)


class UploadPlanner:
    """Queues the entries that differ from the snapshot, slice after slice, in full batches.

    Changed entries wait until a batch is full (fewer than one batch is ever held), so slicing
    costs no extra request; :meth:`finish` queues the last, partial batch.
    """

    def __init__(self, run: CatalogRun, stream: str) -> None:
        self.run, self.stream = run, stream
        self.size = run.integ.options.upload_batch_size
        self.planned = Planned()
        # (entry, its ref, hash last sent, hash now)
        self._waiting: list[tuple[dict[str, Any], str, str | None, str]] = []

    def add(self, entries: list[dict[str, Any]]) -> None:
        new_hashes = {_source_ref(e): _digest(e) for e in entries}
        # a resend ignores what was last sent (the channel lost data, or someone edited it by hand)
        old_hashes = ({} if self.run.resend_token else
                      self.run.store.snapshots.hashes(self.run.name, self.stream, list(new_hashes)))
        self.planned.entries += len(entries)
        for entry in entries:
            ref = _source_ref(entry)
            if old_hashes.get(ref) != new_hashes[ref]:
                self._waiting.append((entry, ref, old_hashes.get(ref), new_hashes[ref]))
                self.planned.changed += 1
        full = len(self._waiting) - len(self._waiting) % self.size
        self._enqueue(self._waiting[:full])
        del self._waiting[:full]

    def finish(self) -> Planned:
        self._enqueue(self._waiting)
        self._waiting = []
        return self.planned

    def _enqueue(self, waiting: list[tuple[dict[str, Any], str, str | None, str]]) -> None:
        items: list[tuple[str, dict[str, Any]]] = []
        for batch in chunked(waiting, self.size):
            transition = [(ref, old, new) for _, ref, old, new in batch]
            key = f"{self.run.name}:{self.stream}:{_digest([self.run.resend_token, transition])}"
            items.append((key, {"entries": [entry for entry, *_ in batch],
                                "hashes": {ref: new for _, ref, _, new in batch}}))
        if items:
            self.run.store.queue.enqueue_many(self.run.name, self.stream, items)
            self.planned.batches += len(items)


@dataclass
class Uploaded:
    """What a drain of the queue sent."""

    batches: int = 0
    entries: int = 0
    not_found: list[str] = field(default_factory=list)
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def _record_channel_links(run: CatalogRun, source_ids: list[str]) -> None:
    """The CRM accepted these offers: it knows them under externalId = xmlId = the MoySklad id."""
    hub_keys = run.store.links.resolve(run.name, "offers", MOYSKLAD, source_ids)
    run.store.links.attach_many(run.name, "offers", RETAILCRM, [(key, ms_id) for ms_id, key in hub_keys.items()])


_SENDERS: dict[str, Callable[[RetailCRMClient, list[dict[str, Any]]], Any]] = {
    INVENTORIES: lambda crm, entries: crm.upload_inventories(entries),
    PRICES: lambda crm, entries: crm.upload_prices(entries),
}


@task(name="upload-batches", cache_policy=NONE)
def upload_batches(run: CatalogRun, stream: str, max_items: int, worker: str) -> Uploaded:
    """Claim up to ``max_items`` due batches of ``stream`` and send them, a few at a time."""
    send = _SENDERS[stream]
    result = Uploaded()

    async def one(crm: RetailCRMClient) -> bool:
        items = run.store.queue.claim(integration=run.name, kind=stream, limit=1, worker=worker)
        if not items:
            return False
        item = items[0]
        entries = item.payload["entries"]
        try:
            answer = await send(crm, entries)
        except ConnectorError as exc:
            run.store.queue.fail(item.id, str(exc), retryable=exc.retryable)
            result.failed += 1
            result.errors.append(str(exc))
            return True
        missing = {_source_ref(o) for o in answer.not_found}
        accepted = {ref: h for ref, h in item.payload["hashes"].items() if ref not in missing}
        # snapshot first, then complete: a crash in between re-sends absolute values (harmless)
        run.store.snapshots.save(run.name, stream, accepted)
        _record_channel_links(run, list(accepted))
        run.store.queue.complete(item.id, {"processed": answer.processed, "not_found": sorted(missing)})
        result.batches += 1
        result.entries += len(entries)
        result.not_found.extend(sorted(missing))
        return True

    async def go() -> None:
        async with retailcrm_client(run.integ, run.target) as crm:
            async def worker_loop(budget: int) -> None:
                for _ in range(budget):
                    if not await one(crm):
                        return

            lanes = 3  # enough to keep a 10 rps budget busy; the budget itself paces them
            share = [max_items // lanes + (1 if i < max_items % lanes else 0) for i in range(lanes)]
            await asyncio.gather(*(worker_loop(n) for n in share if n))

    asyncio.run(go())
    return result
