"""keyCRM as the hub's ``OrderSource`` and ``StatusSink``.

* keyCRM keeps no change history in v1: changed orders are the ones whose ``updated_at`` falls after
  the cursor (``filter[updated_between]``, UTC), read whole with ``include=products.offer,buyer,
  shipping,payments`` 50 a page. The cursor is the latest ``updated_at`` read (ISO UTC); the next
  read starts at it again (the boundary second is re-read; the planner's content hashes make a
  re-read order a no-op).
* A change that is only the hub's own status write (the order's status is a value the hub wrote
  around its ``updated_at``: :class:`~hub.capabilities.HubWriteLog`) is skipped, so a status sent
  back from the stock system does not come back as a new upload.
* Statuses are keyCRM status ids (as text): ``PUT /order/{id}`` ``{"status_id"}``, one request an
  order (v1 has no batch edit), within the key's 60 a minute.
* The ERP id is not written back: v1 has no field for another system's id on an order
  (``source_uuid`` is the order source's); the hub's links keep it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.http import NotFoundError, RequestValidationError
from connectors.keycrm.capabilities.stock import _Account
from connectors.keycrm.client import filters
from connectors.keycrm.convert.orders import orders_from_keycrm
from connectors.keycrm.wire.conventions import ORDER_INCLUDE, PAGE_LIMIT, between, parse_time
from hub.capabilities import WRITE_STATUS, HubWriteLog, OrderBatch, OrderEvent

#: the trigger event of an order status change (C.6); other events are named by ``updated_at``
STATUS_EVENT = "order.change_order_status"
#: how far before the cursor each changed-orders read reaches (writes committed with an earlier stamp)
OVERLAP = timedelta(seconds=10)


class KeyCRMOrders(_Account):
    """``OrderSource`` and ``StatusSink`` over one keyCRM account."""

    _statuses: list[str] | None = None

    def _batch(
        self,
        orders: Sequence[Mapping[str, Any]],
        *,
        cursor: str | None = None,
        more: bool = False,
    ) -> OrderBatch:
        codes = {str(wid): code for code, wid in self.settings.warehouses.items()}
        frames = orders_from_keycrm(orders, warehouse_codes=codes)
        passed = {str(o["id"]): frozenset({str(o["status_id"])}) for o in orders if o.get("status_id") is not None}
        return OrderBatch(
            frames["orders"],
            frames["order_lines"],
            frames["customers"],
            passed,
            cursor=cursor,
            more=more,
            # every read includes payments (ORDER_INCLUDE): an order without any has none, so a
            # payment removed in keyCRM goes from the hub's staged payments too
            payments=frames["payments"],
        )

    def _hub_echo(self, order: Mapping[str, Any], written: HubWriteLog | None, writes: Mapping[str, list[Any]]) -> bool:
        if written is None:
            return False
        at = parse_time(order.get("updated_at"))
        oid, status = str(order["id"]), str(order.get("status_id"))
        return at is not None and any(w.made(oid, WRITE_STATUS, status, at) for w in writes.get(oid, []))

    async def full_orders(self, order_ids: Sequence[str]) -> OrderBatch:
        """These orders read whole (``GET /order/{id}`` each): what a webhook names."""
        orders = []
        for oid in dict.fromkeys(order_ids):
            try:
                orders.append(await self.client.order(oid))
            except NotFoundError:
                continue  # deleted since the event: nothing to upload
        return self._batch(orders)

    async def changed_orders(
        self, cursor: str | None, limit: int = 100, *, written: HubWriteLog | None = None
    ) -> OrderBatch:
        now = datetime.now(UTC)
        if cursor is None:  # from now on: no orders, only a cursor
            return self._batch([], cursor=now.isoformat())
        since = datetime.fromisoformat(cursor)
        # every page is read: keyCRM sorts by id only, so a read cut short could skip an order updated
        # before the latest one read (its cursor would pass it); a change costs a row of a page of 50
        read = [
            o async for page in self.client.order_pages({"updated_between": self._window(since, now)}) for o in page
        ]
        latest = max((parse_time(o.get("updated_at")) or since for o in read), default=since)
        writes: dict[str, list[Any]] = {}
        if written is not None and read:
            for write in written.hub_writes([str(o["id"]) for o in read]):
                writes.setdefault(write.order_id, []).append(write)
        kept = [o for o in read if not self._hub_echo(o, written, writes)]
        return self._batch(kept, cursor=latest.isoformat())

    @staticmethod
    def _window(since: datetime, now: datetime) -> str:
        """``updated_between`` from ``OVERLAP`` before the cursor to a second past now: the filter
        takes whole seconds, so an order changed in the current second is in it (re-read orders are
        no-ops: the planner compares contents), and one committed late with an earlier stamp too."""
        return between(since - OVERLAP, now + timedelta(seconds=1))

    async def has_changes(self, cursor: str, *, written: HubWriteLog | None = None) -> bool:
        since = datetime.fromisoformat(cursor)
        now = datetime.now(UTC)
        page: list[dict[str, Any]] = await anext(
            self.client.pages(
                "/order", {"filter[updated_between]": between(since, now + timedelta(seconds=1)), "limit": PAGE_LIMIT}
            ),
            [],
        )
        return any((parse_time(o.get("updated_at")) or since) > since for o in page)

    async def orders_in_period(
        self, start: datetime, end: datetime, statuses: Sequence[str], page: str | None = None
    ) -> OrderBatch:
        where: dict[str, Any] = {"created_between": between(start, end)}
        if statuses:
            where["status_id"] = list(statuses)
        number = int(page or 1)
        params = {**filters(where), "include": ORDER_INCLUDE, "sort": "id", "limit": PAGE_LIMIT, "page": number}
        answer = await self.client.call("GET", "/order", params=params)
        rows = list(answer.get("data") or [])
        more = bool(answer.get("next_page_url"))
        return self._batch(rows, cursor=str(number + 1) if more else None, more=more)

    def parse_order_event(self, body: bytes, query: Mapping[str, str]) -> OrderEvent:
        """A trigger delivery: ``{"event", "context": <flat order row>}`` as JSON (POST), or the same
        flattened into the query (``context[id]=…``, a GET trigger [inferred])."""
        if body.strip():
            try:
                data = json.loads(body)
            except ValueError:
                raise ValueError("the body is not JSON") from None
            context = data.get("context") if isinstance(data, dict) else None
            event = str(data.get("event") or "") if isinstance(data, dict) else ""
        else:
            context = {
                k[len("context[") : -1]: v for k, v in query.items() if k.startswith("context[") and k.endswith("]")
            }
            event = str(query.get("event") or "")
        if not isinstance(context, dict) or not str(context.get("id") or "").isdigit():
            raise ValueError('no order in it: expected {"event", "context": {"id", "status_changed_at", ...}}')
        # a status change is named by when the status changed; any other event (a payment status
        # changed: ``order.change_payment_status``) by the order's ``updated_at``, which that change moved
        # (its status_changed_at is the old one: keyed by it, the payment event would count as a repeat)
        first = "status_changed_at" if event in ("", STATUS_EVENT) else "updated_at"
        changed = context.get(first) or context.get("status_changed_at") or context.get("updated_at") or ""
        at = parse_time(changed)  # both wire formats name the same moment: one key for one change
        return OrderEvent(str(context["id"]), at.isoformat() if at else "", event)

    async def record_erp_ids(self, erp_ids: Mapping[str, str]) -> dict[str, str]:
        return {}  # no field for it in v1 (module docstring); nothing refused, nothing written

    async def statuses(self) -> Sequence[str]:
        if self._statuses is None:
            rows = await self.client.order_statuses()
            self._statuses = [str(s["id"]) for s in rows if s.get("is_active", True)]
        return self._statuses

    async def set_statuses(self, statuses: Mapping[str, str]) -> dict[str, str]:
        known = set(await self.statuses())
        refused: dict[str, str] = {}
        for oid, code in statuses.items():
            if code not in known:
                refused[oid] = f"status {code!r} is not an active status id of this keyCRM account"
                continue
            try:
                await self.client.update_order(oid, {"status_id": int(code)})
            except (RequestValidationError, NotFoundError) as exc:
                refused[oid] = exc.message
        return refused
