"""retailCRM as the hub's ``OrderSource`` and ``StatusSink``.

* New and changed orders come from ``orders/history`` by ``filter[sinceId]`` (never page numbers),
  one page of 100 records a read. A record made with our own key (``apiKey.current``) is skipped as
  the hub's echo only when it is a write the hub recorded (order, field, value, time: the caller's
  :class:`~hub.capabilities.HubWriteLog`): a shop's site module or script may share the key, and
  its orders must not be lost. The hub never creates orders here, so an order created with our key
  is always someone else's: it is read, and named in ``shared_credential_orders``. (Without a
  write log every own-key record is skipped.) The cursor moves over skipped records. The changed
  orders are then read whole, 100 a request, so a poll with nothing new costs one request, and one
  with news two.
* Order lines name the offer by its ``xmlId``: the MoySklad id our ICML feed gave it.
* The ERP id goes back as the order's ``externalId`` (``orders/fix-external-ids``, one request for
  the batch) — only on orders without one: an ``externalId`` a shop module set is another
  integration's key and is never written over (such orders are reported back).
* Statuses: the orders' current statuses are read first (``orders/statuses``, 100 ids a request)
  and only orders whose status differs are edited, one ``orders/{id}/edit?by=id`` each (v5 has no
  batch edit), within the key's 10 requests/s.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from connectors.http import NotFoundError, RequestValidationError
from connectors.retailcrm.capabilities.catalog import _Channel
from connectors.retailcrm.capabilities.dictionary_values import DictionaryValues
from connectors.retailcrm.convert.orders import DEFAULT_TZ, format_crm_datetime, orders_from_crm, parse_crm_datetime
from connectors.retailcrm.wire.conventions import PAGE_LIMIT
from connectors.retailcrm.wire.history import HistoryPages, is_own_echo
from hub.capabilities import WRITE_ERP_ID, WRITE_STATUS, HubWrite, HubWriteLog, OrderBatch

#: ids per ``orders?filter[ids][]`` or ``orders/statuses?ids[]`` request (a page holds 100)
IDS_PER_REQUEST = PAGE_LIMIT
#: status edits in flight at once (the client's budget paces them to the key's 10 rps)
EDITS_IN_FLIGHT = 5


class RetailCRMOrders(_Channel):
    """``OrderSource`` and ``StatusSink`` over one retailCRM account (its ``site`` when configured)."""

    tz = DEFAULT_TZ
    _statuses: list[str] | None = None
    _values: DictionaryValues | None = None

    def dictionary_values(self) -> DictionaryValues:
        """Dictionary custom fields' element code ⇄ name (read once, when an order has custom fields)."""
        if self._values is None:
            self._values = DictionaryValues(self.client)
        return self._values

    def _batch(
        self,
        orders: Sequence[Mapping[str, Any]],
        *,
        passed: Mapping[str, frozenset[str]] | None = None,
        cursor: str | None = None,
        more: bool = False,
        shared: Sequence[str] = (),
        deleted: Sequence[str] = (),
    ) -> OrderBatch:
        frames = orders_from_crm(orders, tz=self.tz, offer_ref="xmlId")
        return OrderBatch(
            frames["orders"],
            frames["order_lines"],
            frames["customers"],
            dict(passed or {}),
            cursor=cursor,
            more=more,
            shared_credential_orders=tuple(shared),
            payments=frames["payments"],
            deleted_orders=tuple(deleted),
        )

    async def _history_page(
        self, cursor: int, written: HubWriteLog | None
    ) -> tuple[HistoryPages, list[dict[str, Any]] | None, list[str]]:
        """The page after ``cursor`` without the hub's echoes, and the orders created with our key."""
        pages = self.client.iter_order_history(cursor, skip_own=written is None)
        records = await anext(pages, None)
        if records is None or written is None:
            return pages, records, []
        kept, shared = self._not_echoes(records, written)
        return pages, kept, shared

    def _not_echoes(
        self, records: list[dict[str, Any]], written: HubWriteLog
    ) -> tuple[list[dict[str, Any]], list[str]]:
        own = [r for r in records if is_own_echo(r) and not r.get("created")]
        writes: dict[str, list[HubWrite]] = {}
        ids = [str((r.get("order") or {}).get("id")) for r in own]
        for write in written.hub_writes(list(dict.fromkeys(ids))) if ids else ():
            writes.setdefault(write.order_id, []).append(write)
        kept: list[dict[str, Any]] = []
        shared: list[str] = []
        for record in records:
            order = record.get("order") or {}
            if is_own_echo(record) and record.get("created"):
                if order.get("id") is not None and self._ours(order):
                    shared.append(str(order["id"]))
            elif is_own_echo(record) and self._hub_wrote(record, writes.get(str(order.get("id")), [])):
                continue
            kept.append(record)
        return kept, list(dict.fromkeys(shared))

    def _hub_wrote(self, record: Mapping[str, Any], writes: Sequence[HubWrite]) -> bool:
        """Whether one of the hub's writes on the record's order is this change (field, value, time)."""
        new = record.get("newValue")
        if record.get("field") == "status" and isinstance(new, dict):
            change = (WRITE_STATUS, str(new.get("code")))
        elif record.get("field") == "external_id" and new is not None:
            change = (WRITE_ERP_ID, str(new))
        else:
            return False
        at = parse_crm_datetime(record.get("createdAt"), self.tz)
        oid = str((record.get("order") or {}).get("id"))
        return at is not None and any(w.made(oid, *change, at.to_pydatetime()) for w in writes)

    def _ours(self, order: Mapping[str, Any]) -> bool:
        return self.client.site is None or order.get("site") in (None, self.client.site)

    async def _orders_by_id(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for start in range(0, len(ids), IDS_PER_REQUEST):
            chunk = list(ids[start : start + IDS_PER_REQUEST])
            orders, _ = await self.client.list_orders({"ids": chunk}, limit=PAGE_LIMIT)
            found.extend(orders)
        return found

    async def changed_orders(
        self, cursor: str | None, limit: int = PAGE_LIMIT, *, written: HubWriteLog | None = None
    ) -> OrderBatch:
        if cursor is None:  # from now on: the newest history id, no orders
            return self._batch([], cursor=str(await self.client.order_history_head()))
        pages, records, shared = await self._history_page(int(cursor), written)
        if records is None:
            return self._batch([], cursor=cursor)
        passed: dict[str, set[str]] = {}
        deleted: list[str] = []
        for record in records:
            order = record.get("order") or {}
            if order.get("id") is None or not self._ours(order):
                continue
            if record.get("deleted"):  # the order is gone: nothing to read of it
                deleted.append(str(order["id"]))
                continue
            statuses = passed.setdefault(str(order["id"]), set())
            if record.get("field") == "status" and isinstance(record.get("newValue"), dict):
                statuses.add(str(record["newValue"].get("code")))
            elif record.get("created") and order.get("status"):
                statuses.add(str(order["status"]))
        gone = set(deleted)
        orders = [o for o in await self._orders_by_id([i for i in passed if i not in gone]) if self._ours(o)]
        orders = await self.dictionary_values().named(orders)  # dictionary fields carry the element's name
        return self._batch(
            orders,
            passed={oid: frozenset(s) for oid, s in passed.items() if oid not in gone},
            cursor=str(pages.last_id),
            more=not pages.finished,
            shared=shared,
            deleted=list(dict.fromkeys(deleted)),
        )

    async def has_changes(self, cursor: str, *, written: HubWriteLog | None = None) -> bool:
        # one history page after the cursor; a page of only the hub's echoes (skipped by the read)
        # says nothing changed unless more pages follow
        pages, records, _ = await self._history_page(int(cursor), written)
        return records is not None and (bool(records) or not pages.finished)

    async def orders_in_period(
        self, start: datetime, end: datetime, statuses: Sequence[str], page: str | None = None
    ) -> OrderBatch:
        # the filter takes account-local dates (whole days); the exact bounds are applied here
        first, last = format_crm_datetime(start, self.tz), format_crm_datetime(end, self.tz)
        filters: dict[str, Any] = {"createdAtFrom": (first or "")[:10], "createdAtTo": (last or "")[:10]}
        if statuses:
            filters["extendedStatus"] = list(statuses)
        if self.client.site:
            filters["sites"] = [self.client.site]
        number = int(page or 1)
        orders, pagination = await self.client.list_orders(filters, page=number, limit=PAGE_LIMIT)
        inside = [o for o in orders if start <= (parse_crm_datetime(o.get("createdAt"), self.tz) or start) < end]
        more = number < int(pagination.get("totalPageCount") or 0)
        inside = await self.dictionary_values().named(inside)
        return self._batch(inside, cursor=str(number + 1) if more else None, more=more)

    async def _current(self, order_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """``{id: {id, externalId, status, group}}`` of these orders (absent: no such order)."""
        out: dict[str, dict[str, Any]] = {}
        ids = [int(i) for i in dict.fromkeys(order_ids)]
        for start in range(0, len(ids), IDS_PER_REQUEST):
            for row in await self.client.order_statuses(ids=ids[start : start + IDS_PER_REQUEST]):
                out[str(row["id"])] = row
        return out

    async def record_erp_ids(self, erp_ids: Mapping[str, str]) -> dict[str, str]:
        current = await self._current(list(erp_ids))
        refused: dict[str, str] = {}
        pairs: list[dict[str, Any]] = []
        for oid, erp_id in erp_ids.items():
            row = current.get(str(oid))
            external = None if row is None else row.get("externalId")
            if row is None:
                refused[oid] = f"order {oid} is not in retailCRM"
            elif external in (None, ""):
                pairs.append({"id": int(oid), "externalId": str(erp_id)})
            elif str(external) != str(erp_id):
                refused[oid] = (
                    f"order {oid} already has externalId {external!r} (set by another integration); "
                    "the ERP id is not written over it"
                )
        for start in range(0, len(pairs), IDS_PER_REQUEST):
            await self.client.fix_external_ids(pairs[start : start + IDS_PER_REQUEST])
        return refused

    async def statuses(self) -> Sequence[str]:
        if self._statuses is None:
            book = await self.client.reference("statuses")
            rows = book.values() if isinstance(book, dict) else book
            self._statuses = [str(s["code"]) for s in rows if s.get("active", True)]
        return self._statuses

    async def set_statuses(self, statuses: Mapping[str, str]) -> dict[str, str]:
        known = set(await self.statuses())
        refused = {
            oid: f"status {code!r} is not an active status of this retailCRM account"
            for oid, code in statuses.items()
            if code not in known
        }
        wanted = {oid: code for oid, code in statuses.items() if oid not in refused}
        current = await self._current(list(wanted))
        refused.update({oid: f"order {oid} is not in retailCRM" for oid in wanted if oid not in current})
        todo = [(oid, code) for oid, code in wanted.items() if oid in current and current[oid].get("status") != code]
        gate = asyncio.Semaphore(EDITS_IN_FLIGHT)

        async def edit(oid: str, code: str) -> None:
            async with gate:
                try:
                    await self.client.edit_order(oid, {"status": code}, by="id")
                except (RequestValidationError, NotFoundError) as exc:
                    refused[oid] = exc.message

        await asyncio.gather(*(edit(oid, code) for oid, code in todo))
        return refused
