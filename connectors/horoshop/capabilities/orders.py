"""``OrderSource``, ``StatusSink`` and ``Reachable`` over one Horoshop shop.

Horoshop keeps no change history and no field for another system's order id, so:

* orders are read by a window of creation time (``orders/get`` ``from``) reaching ``overlap`` back
  before the previous read; orders already seen in the overlap are left out (the cursor names them),
  so a late-committed order is not missed and none is read twice;
* the CRM's order id is not written back on the shop: the hub's links hold the pair;
* statuses are set with ``orders/update`` in batches; a ``WARNING`` answer's per-order log says which
  were refused and why, the rest were applied.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Self

import connectors.horoshop.convert.orders as convert
from connectors.horoshop.client import HoroshopClient
from connectors.horoshop.settings import HoroshopSettings
from connectors.horoshop.wire import envelope as wire
from connectors.horoshop.wire.limits import BUILTIN_STATUSES, ORDERS_PAGE
from connectors.horoshop.wire.shop_time import from_wire, to_wire
from connectors.http import NotFoundError
from hub.capabilities import HubWriteLog, OrderBatch


@dataclass(frozen=True)
class Window:
    """Where the next order read starts, and the orders of its overlap already read."""

    since: datetime
    seen: frozenset[str] = frozenset()

    def dump(self) -> str:
        return json.dumps({"since": self.since.isoformat(), "seen": sorted(self.seen, key=_numeric)})

    @classmethod
    def load(cls, cursor: str) -> Window:
        try:
            data = json.loads(cursor)
            return cls(datetime.fromisoformat(data["since"]).astimezone(UTC), frozenset(map(str, data.get("seen", []))))
        except (ValueError, KeyError, TypeError):
            # a plain timestamp (a cursor written by hand or by an older version)
            return cls(datetime.fromisoformat(cursor).astimezone(UTC))


def _numeric(order_id: str) -> tuple[int, str]:
    return (int(order_id), "") if order_id.isdigit() else (0, order_id)


class HoroshopOrders:
    """The shop's orders and statuses for the order exchanges."""

    def __init__(self, client: HoroshopClient | None, settings: HoroshopSettings) -> None:
        self._client = client
        self.settings = settings
        self.tz = settings.timezone
        self.overlap = timedelta(minutes=settings.order_overlap_minutes)
        #: what "now" is (a benchmark replays a day in seconds by moving it)
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    @classmethod
    def over(cls, client: HoroshopClient | None, settings: HoroshopSettings) -> Self:
        return cls(client, settings)

    @property
    def client(self) -> HoroshopClient:
        if self._client is None:
            raise RuntimeError("this capability was made for planning only (no client)")
        return self._client

    # -- Reachable -------------------------------------------------------------------------------
    async def check_access(self) -> str:
        await self.client.call("currency/export")
        return f"Horoshop shop {self.settings.base_url} as {self.settings.login}"

    # -- OrderSource -----------------------------------------------------------------------------
    def _batch(self, rows: Sequence[Mapping[str, Any]], cursor: str | None, more: bool = False) -> OrderBatch:
        frames = convert.orders_from_shop(rows, tz=self.tz)
        return OrderBatch(
            frames["orders"],
            frames["order_lines"],
            frames["customers"],
            cursor=cursor,
            more=more,
            payments=frames["payments"],
        )

    async def _window_rows(self, start: datetime) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        async for page in self.client.iter_orders({"from": to_wire(start, self.tz)}, limit=ORDERS_PAGE):
            rows.extend(page)
        return rows

    async def changed_orders(
        self, cursor: str | None, limit: int = 100, *, written: HubWriteLog | None = None
    ) -> OrderBatch:
        """Orders created since the cursor's moment (minus the overlap) that it has not seen.

        The first read (no cursor) returns no orders, only a cursor at now. Status changes made on
        the shop are not read (Horoshop has no change feed): the CRM owns an order once it has it.
        """
        now = self.clock()
        if cursor is None:
            return self._batch([], Window(now).dump())
        window = Window.load(cursor)
        rows = await self._window_rows(window.since - self.overlap)
        fresh = [r for r in rows if str(r.get("order_id")) not in window.seen]
        # the next window reaches back to now - overlap: remember what it will read again
        horizon = now - self.overlap
        again = {
            str(r["order_id"])
            for r in rows
            if (from_wire(r.get("stat_created"), self.tz) or now) >= horizon - timedelta(seconds=1)
        }
        return self._batch(fresh, Window(now, frozenset(again)).dump())

    async def has_changes(self, cursor: str, *, written: HubWriteLog | None = None) -> bool:
        """One request: does the window hold an order the cursor has not seen? (A full page of seen
        orders says yes: what lies beyond it is unknown, and the cycle leaves out what it has read.)"""
        window = Window.load(cursor)
        filters = {"from": to_wire(window.since - self.overlap, self.tz)}
        limit = min(len(window.seen) + 1, ORDERS_PAGE)
        rows = await self.client.orders_page(filters, 0, limit=limit)
        return (len(rows) == limit and len(window.seen) >= limit) or any(
            str(r.get("order_id")) not in window.seen for r in rows
        )

    async def orders_in_period(
        self, start: datetime, end: datetime, statuses: Sequence[str], page: str | None = None
    ) -> OrderBatch:
        """One page of orders created in [start, end); ``page`` is the offset (None: the first)."""
        filters: dict[str, Any] = {
            "from": to_wire(start, self.tz),
            "to": to_wire(end - timedelta(seconds=1), self.tz),  # ``to`` is inclusive
        }
        if statuses:
            filters["status"] = [int(s) for s in statuses]
        offset = int(page or 0)
        rows = await self.client.orders_page(filters, offset, limit=ORDERS_PAGE)
        following = str(offset + ORDERS_PAGE) if len(rows) == ORDERS_PAGE else None
        return self._batch(rows, following, more=following is not None)

    async def record_erp_ids(self, erp_ids: Mapping[str, str]) -> dict[str, str]:
        """Nothing to write: Horoshop has no field for another system's order id (the links hold it)."""
        return {}

    # -- StatusSink ------------------------------------------------------------------------------
    async def statuses(self) -> Sequence[str]:
        """The shop's status ids, custom ones included (``orders/get_available_statuses``, ≥ 4.0);
        an older shop without that function has the built-in ones only."""
        try:
            found = await self.client.available_statuses()
        except NotFoundError:
            return [str(s) for s in BUILTIN_STATUSES]
        return [str(s["id"]) for s in found if s.get("id") is not None]

    async def status_titles(self) -> dict[str, str]:
        """Status id → its title (for messages and mapping by name)."""
        try:
            found = await self.client.available_statuses()
        except NotFoundError:
            return {str(k): v for k, v in BUILTIN_STATUSES.items()}
        return {str(s["id"]): convert._title(s.get("title")) or str(s["id"]) for s in found}

    async def set_statuses(self, statuses: Mapping[str, str]) -> dict[str, str]:
        """Set each order's status; returns the ones the shop refused (order id → its log message)."""
        refused: dict[str, str] = {}
        items = list(statuses.items())
        size = self.settings.status_batch
        for at in range(0, len(items), size):
            chunk = items[at : at + size]
            answer = await self.client.update_orders([convert.status_change(oid, status) for oid, status in chunk])
            if answer.status == wire.OK:
                continue
            for entry in answer.log():
                code = str(entry.get("code") or entry.get("status") or "")
                if code and code != "OK":
                    refused[str(entry.get("order_id"))] = f"{code}: {entry.get('message') or 'refused'}"
        return refused
