"""Publishing the catalog to retailCRM: only what changed since the last push, through the queue.

Stock and prices are compared with the snapshot of what was last sent; the differences become
upload batches in the exchange queue (idempotency key = the batch's content *and* the state it
replaces, so a legitimately repeated value is sent again while a retried batch is not duplicated).
A batch's snapshot is saved only after the CRM accepted it, then the item is completed: a run
killed anywhere re-derives the same batches and converges.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

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


@dataclass(frozen=True)
class StagedCatalog:
    """The staged offers and prices, read from the hub once per run for planning and the feed."""

    offers: pd.DataFrame  # published offers: archived ones only when the integration includes them
    prices: pd.DataFrame


@task(name="read-staged-catalog", cache_policy=NONE)
def read_staged_catalog(run: CatalogRun) -> StagedCatalog:
    """Offers (live, unless archived ones are published too) and their prices, from the hub."""
    offers = run.store.records.frame(run.name, "offers")
    if not run.integ.options.include_archived:
        offers = offers[~offers["archived"].fillna(False).astype(bool)]
    prices = run.store.records.frame(run.name, "prices")
    return StagedCatalog(offers, prices[prices["offer_id"].isin(set(offers["offer_id"]))])


def inventory_entries(
    run: CatalogRun, catalog: StagedCatalog, stock: pd.DataFrame, mappings: CatalogMappings
) -> list[dict[str, Any]]:
    """Every stocked offer (not services) with every mapped warehouse: zero where MoySklad reports
    nothing, capped."""
    offers = catalog.offers[catalog.offers["kind"].isin(STOCKED_KINDS)]
    known = set(offers["offer_id"].astype(str))
    stock = stock[stock["offer_id"].astype(str).isin(known)]
    # offers never moved are absent from the report: give them an explicit zero so the CRM forgets
    # any stale quantity (an omitted store keeps its old value there)
    missing = sorted(known - set(stock["offer_id"].astype(str)))
    first_store = next(iter(mappings.store_map), None)
    if missing and first_store is not None:
        zeros = pd.DataFrame({"offer_id": missing, "store_id": first_store, "available": 0.0,
                              "stock_type": run.integ.options.stock_type})
        stock = pd.concat([stock, zeros.astype(stock.dtypes.to_dict())], ignore_index=True)
    entries = crm_convert.stock_to_inventories(stock, store_map=mappings.store_map)
    cap = run.integ.options.stock_cap
    for entry in entries:
        for item in entry["stores"]:
            item["available"] = min(item["available"], cap)
    return entries


def price_entries(run: CatalogRun, catalog: StagedCatalog, mappings: CatalogMappings) -> list[dict[str, Any]]:
    """Mapped prices of every published offer."""
    site = getattr(run.integ.systems[run.target], "site", None)
    return crm_convert.prices_to_upload(catalog.prices, price_type_map=mappings.price_type_map, site=site)


def plan_uploads(run: CatalogRun, stream: str, entries: list[dict[str, Any]]) -> Planned:
    """Queue the entries that differ from the snapshot, in batches of the configured size."""
    new_hashes = {_source_ref(e): _digest(e) for e in entries}
    # a resend ignores what was last sent (the channel lost data, or someone edited it by hand)
    old_hashes = {} if run.resend_token else run.store.snapshots.hashes(run.name, stream, list(new_hashes))
    changed = [e for e in entries if old_hashes.get(_source_ref(e)) != new_hashes[_source_ref(e)]]
    planned = Planned(entries=len(entries), changed=len(changed))
    items: list[tuple[str, dict[str, Any]]] = []
    for batch in chunked(changed, run.integ.options.upload_batch_size):
        refs = [_source_ref(e) for e in batch]
        transition = [(r, old_hashes.get(r), new_hashes[r]) for r in refs]
        key = f"{run.name}:{stream}:{_digest([run.resend_token, transition])}"
        items.append((key, {"entries": list(batch), "hashes": {r: new_hashes[r] for r in refs}}))
    if items:
        run.store.queue.enqueue_many(run.name, stream, items)
    planned.batches = len(items)
    return planned


@task(name="plan-stock-uploads", cache_policy=NONE)
def plan_stock_uploads(
    run: CatalogRun, catalog: StagedCatalog, stock: pd.DataFrame, mappings: CatalogMappings
) -> Planned:
    """Queue inventory batches for the offers whose stock changed since the last push."""
    return plan_uploads(run, INVENTORIES, inventory_entries(run, catalog, stock, mappings))


@task(name="plan-price-uploads", cache_policy=NONE)
def plan_price_uploads(run: CatalogRun, catalog: StagedCatalog, mappings: CatalogMappings) -> Planned:
    """Queue price batches for the offers whose mapped prices changed since the last push."""
    return plan_uploads(run, PRICES, price_entries(run, catalog, mappings))


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
