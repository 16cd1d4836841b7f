"""keyCRM as a stock channel: ``PUT /offers/stocks`` per warehouse, offers by SKU, 202 confirmed.

* A batch of at most 10 000 offers becomes one request per keyCRM warehouse it touches (a request
  names one ``warehouse_id`` [spec]): ⌈changes ÷ 10 000⌉ writes per warehouse.
* keyCRM answers 202 and applies the write later [spec]. The batch counts as delivered only once a
  read-back of a sample of its SKUs (one ``GET /offers/stocks`` page per warehouse, 50 SKUs) shows
  the written quantities; until then the sink raises a retryable error, so the publish pipeline
  keeps the batch in the queue and the stock-sync cursor does not move (the next cycle re-sends
  absolute values, which is harmless). A read-back that cannot tell (totals only, C.7, while an
  offer's stock spans several warehouses) is accepted as written.
* SKUs keyCRM does not know come back as a Laravel 422 naming ``stocks.N.sku`` [inferred]: they are
  reported ``not_found`` and the rest of the batch is sent again at once.
* keyCRM's stock webhook posts ``[{offer_id, sku, in_stock, in_reserve}]`` after every stock change,
  those made through the API included [help]: :meth:`KeyCRMStock.echo_of` says what it reports for a
  write of ours (the SKU and the sum of the quantities written to its warehouses), so the hub can
  tell its own echo from a change made in keyCRM (the stock webhook is set up for the mapped
  warehouses: its ``in_stock`` sums the warehouses it covers).
* Reserves: keyCRM subtracts the reserves of its own orders from what it is sent, and those orders
  reach the stock system as reserved customer orders. So the stock system's *on-hand* stock is sent
  (``subtracts_own_reserves``; the stock-sync plan refuses another measure), never free stock,
  which is already net of those reserves: the reserve would be subtracted twice.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

import connectors.keycrm.convert.stock as convert
from connectors.http import RequestValidationError, TransientError
from connectors.keycrm.client import KeyCRMClient
from connectors.keycrm.settings import KeyCRMSettings
from connectors.keycrm.wire.conventions import PAGE_LIMIT, field_errors
from hub.capabilities import ChannelReference, ChannelStockChange, Delivery, Entry
from hub.systems import SecretResolver


def confirm_delays(total: float) -> list[float]:
    """Waits before each read-back of a 202 write: 0.5 s, doubling, summing to ``total``."""
    delays: list[float] = []
    step = 0.5
    while sum(delays) + 1e-9 < total:
        delays.append(min(step, total - sum(delays)))
        step *= 2
    return delays


class _Account:
    """What every keyCRM capability shares: the client (None while a task only plans) and settings."""

    def __init__(self, client: KeyCRMClient | None, settings: KeyCRMSettings) -> None:
        self._client = client
        self.settings = settings
        self.offer_key = settings.offer_key  # keyCRM's SKU is this field of the stock system's offers

    @property
    def client(self) -> KeyCRMClient:
        if self._client is None:
            raise RuntimeError("this keyCRM capability was opened for planning: it cannot send")
        return self._client

    @classmethod
    def over(cls, client: KeyCRMClient | None, settings: KeyCRMSettings) -> Any:
        return cls(client, settings)

    async def check_access(self) -> str:
        # the first page of order statuses: one cheap authenticated request
        statuses: list[dict[str, Any]] = await anext(self.client.pages("/order/status", {"limit": PAGE_LIMIT}), [])
        return f"signed in; {len(statuses)} order statuses"


class KeyCRMStock(_Account):
    """``StockSink`` (+ ``OfferKeyed``, ``OwnReserves``, ``StockEchoes``) over ``PUT /offers/stocks``."""

    whole_units = True  # keyCRM counts pieces [inferred]
    subtracts_own_reserves = True

    def __init__(self, client: KeyCRMClient | None, settings: KeyCRMSettings) -> None:
        super().__init__(client, settings)
        self.max_batch = settings.batch_size
        self.confirm_delays: Sequence[float] = confirm_delays(settings.confirm_seconds)

    def ref(self, entry: Entry) -> str:
        return str(entry["offer"])

    async def channel_reference(self, *, with_catalog_stamp: bool = False) -> ChannelReference:
        # v1 lists no warehouses (C.3): the configured map is the channel's book
        problems = [] if self.settings.warehouses else ["warehouses: map each warehouse code to its keyCRM id"]
        return ChannelReference(warehouses=sorted(self.settings.warehouses), price_types={}, problems=problems)

    def stock_entries(self, stock: pd.DataFrame) -> list[Entry]:
        # without keys, the offer ids themselves are taken for SKUs (a source whose ids are SKUs)
        ids = {str(o): str(o) for o in stock["offer_id"].dropna()}
        return convert.stock_entries(stock, ids, self.settings.warehouses)

    def keyed_stock_entries(self, stock: pd.DataFrame, keys: Mapping[str, str]) -> list[Entry]:
        return convert.stock_entries(stock, keys, self.settings.warehouses)

    def parse_stock_changes(self, body: bytes) -> list[ChannelStockChange]:
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise ValueError("the body is not JSON") from None
        return [
            ChannelStockChange(sku, level, reserve) for sku, (level, reserve) in convert.webhook_levels(data).items()
        ]

    def echo_of(self, entry: Entry) -> tuple[str, float]:
        return str(entry["sku"]), float(sum(float(q) for q in (entry.get("warehouses") or {}).values()))

    async def send(self, entries: Sequence[Entry]) -> Delivery:
        unknown: set[str] = set()
        by_sku = {str(e["sku"]): str(e["offer"]) for e in entries}
        written: dict[int, list[dict[str, Any]]] = {}
        for wid, items in convert.stock_requests(entries).items():
            written[wid] = await self._put(wid, items, unknown)
        await self._confirm(written)
        return Delivery(len(entries) - len({by_sku[s] for s in unknown}), frozenset(by_sku[s] for s in unknown))

    async def _put(self, wid: int, items: list[dict[str, Any]], unknown: set[str]) -> list[dict[str, Any]]:
        """One warehouse's write; SKUs refused as unknown are left out and the rest sent again once."""
        try:
            await self.client.put_stocks(wid, items)
            return items
        except RequestValidationError as exc:
            refused = _refused_skus(exc.details, items)
            if not refused:
                raise
            unknown |= refused
            rest = [i for i in items if i["sku"] not in refused]
            if rest:
                await self.client.put_stocks(wid, rest)
            return rest

    async def _confirm(self, written: Mapping[int, list[dict[str, Any]]]) -> None:
        """Wait until a sample of each warehouse's write reads back; else raise (the batch stays queued).

        Raises:
            TransientError: keyCRM has not applied the write within the read-backs (retryable).
        """
        sample = {wid: {i["sku"]: float(i["quantity"]) for i in items[:PAGE_LIMIT]} for wid, items in written.items()}
        sample = {wid: items for wid, items in sample.items() if items}
        if not self.confirm_delays:
            return  # confirm_seconds: 0 — taken as written
        for delay in self.confirm_delays:
            if not sample:
                return
            await asyncio.sleep(delay)
            for wid in list(sample):
                if await self._applied(wid, sample[wid]):
                    del sample[wid]
        if sample:
            raise TransientError(
                "keycrm",
                "/offers/stocks",
                202,
                f"stock write accepted (202) but not applied after {sum(self.confirm_delays):.0f} s "
                f"on warehouses {sorted(sample)}: the batch stays queued and is sent again",
            )

    async def _applied(self, wid: int, wanted: Mapping[str, float]) -> bool:
        rows: list[dict[str, Any]] = await anext(self.client.stock_pages({"offers_sku": list(wanted)}), [])
        several = len(set(self.settings.warehouses.values())) > 1
        for row in rows:
            sku = str(row.get("sku"))
            if sku not in wanted:
                continue
            places = row.get("warehouse")
            if isinstance(places, list) and places:
                place = next((p for p in places if int(p.get("id", -1)) == wid), None)
                if place is None or float(place.get("quantity") or 0) != wanted[sku]:
                    return False
            elif not several and float(row.get("quantity") or 0) != wanted[sku]:
                return False  # totals only, one warehouse: the total is that warehouse's
        return True


def _refused_skus(details: Any, items: Sequence[Mapping[str, Any]]) -> set[str]:
    """SKUs a 422 names as invalid (``stocks.3.sku``): the item at that index."""
    out: set[str] = set()
    for name in field_errors(details):
        parts = name.split(".")
        if len(parts) == 3 and parts[0] == "stocks" and parts[1].isdigit() and parts[2] in ("sku", "id"):
            index = int(parts[1])
            if index < len(items):
                out.add(str(items[index]["sku"]))
    return out


def keycrm_client(settings: KeyCRMSettings, secret: SecretResolver) -> KeyCRMClient:
    """A client for the account (60 requests a minute shared per key); the key resolved here."""
    api_key = secret(settings.api_key)
    assert api_key is not None  # the settings require it
    return KeyCRMClient(str(settings.base_url).rstrip("/"), api_key=api_key)
