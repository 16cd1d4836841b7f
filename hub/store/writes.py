"""Hub writes: the values the hub itself wrote on a channel's orders, so their echo is told apart.

A channel's history shows every change made with the hub's credential as "made by the current key";
a shop's site module or a script that shares the key shows up the same. The hub therefore keeps what
it wrote — (order, field, value) with the time bracket of the request — and the order reader skips
a history record as the hub's echo only when it matches one (:meth:`hub.capabilities.HubWrite.made`).

Rows are recorded before the request (:meth:`HubWrites.begin`), so a history read that races the
request still sees them, and closed after it (:meth:`HubWrites.end`), values the channel refused
dropped. Rows past the retention are pruned on the way. No credential is ever stored here.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, insert, select, update

from hub.capabilities import HubWrite, HubWriteLog

from .db import Database, chunked, unique
from .tables import hub_writes as w


class HubWrites:
    """Repository of the hub's writes on channel orders (``store.writes``).

    Attributes:
        retention_days: rows older than this are pruned (a history read later than that sees the
            hub's old writes as anyone's: the order is read again, which is harmless).
    """

    def __init__(self, db: Database, *, retention_days: float = 30) -> None:
        self.db = db
        self.retention_days = retention_days

    def begin(self, integration: str, system: str, field: str, values: dict[str, str]) -> list[int]:
        """Record that the hub is about to write ``values`` (order id -> value) into ``field`` of
        ``system`` (the config's alias); returns the rows' ids for :meth:`end`."""
        now = self.db.now()
        rows = [
            {
                "integration": integration,
                "system": system,
                "order_id": str(oid),
                "field": field,
                "value": str(value),
                "started_at": now,
            }
            for oid, value in values.items()
        ]
        if not rows:
            return []
        with self.db.write() as conn:
            return [int(i) for i in conn.scalars(insert(w).returning(w.c.id, sort_by_parameter_order=True), rows)]

    def end(self, ids: Sequence[int], *, refused: Collection[str] = ()) -> None:
        """Close the writes ``ids`` now; rows of orders in ``refused`` are dropped (nothing was written)."""
        now = self.db.now()
        refused = {str(oid) for oid in refused}
        with self.db.write() as conn:
            for chunk in chunked(ids, self.db.chunk):
                if refused:
                    conn.execute(delete(w).where(w.c.id.in_(chunk), w.c.order_id.in_(refused)))
                conn.execute(update(w).where(w.c.id.in_(chunk)).values(ended_at=now))
            conn.execute(delete(w).where(w.c.started_at < now - timedelta(days=self.retention_days)))

    def of_orders(self, integration: str, system: str, order_ids: Sequence[str]) -> list[HubWrite]:
        """Every kept write on these orders of ``system`` in ``integration``."""
        found: list[HubWrite] = []
        with self.db.read() as conn:
            for chunk in chunked(unique(str(o) for o in order_ids), self.db.chunk):
                stmt = (
                    select(w)
                    .where(w.c.integration == integration, w.c.system == system, self.db.in_(w.c.order_id, chunk))
                    .order_by(w.c.id)
                )
                found += [HubWrite(r.order_id, r.field, r.value, r.started_at, r.ended_at) for r in conn.execute(stmt)]
        return found

    def log(self, integration: str, system: str) -> HubWriteLog:
        """The writes of one integration on one system, as a channel's order reader asks for them."""
        return _Log(self, integration, system)


@dataclass(frozen=True)
class _Log:
    writes: HubWrites
    integration: str
    system: str

    def hub_writes(self, order_ids: Sequence[str]) -> Sequence[HubWrite]:
        return self.writes.of_orders(self.integration, self.system, order_ids)
