"""Stock notices: the webhook deliveries of a stock source, kept until a stock cycle has carried them.

The receiver must answer within the source's deadline (MoySklad: 1.5 s), so it only records the
notice and runs the cycle afterwards. Recording does two jobs:

* dedupe: a source repeats a delivery it thinks failed with the same id (MoySklad's three
  immediate retries keep the ``requestId``); the unique (integration, delivery id) constraint
  plus ``ON CONFLICT DO NOTHING`` keeps one row, whichever process or thread wins;
* nothing lost: a notice stays pending until a cycle that *started after it was recorded* ends,
  so a receiver killed mid-burst replays the pending ones when it starts again.

Done notices are kept a while (``retention_days``) so a late retry is still recognised, then pruned.
No token or secret of the webhook URL is ever stored: the row holds what the body said.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Row, delete, func, select, update

from hub.capabilities import StockNotice

from .db import Database, chunked
from .errors import StoreError
from .tables import stock_notices as n

#: the longest delivery id kept (MoySklad's is a 36-character UUID)
MAX_DELIVERY_ID = 100


@dataclass(frozen=True)
class KeptNotice:
    """A notice as the store keeps it."""

    id: int
    integration: str
    system: str
    delivery_id: str
    kind: str
    changed_since: datetime | None
    received_at: datetime
    done_at: datetime | None


class Notices:
    """Repository of stock notices (``store.notices``).

    Attributes:
        retention_days: done notices older than this are pruned when more are marked done.
    """

    def __init__(self, db: Database, *, retention_days: float = 2) -> None:
        self.db = db
        self.retention_days = retention_days

    def record(self, integration: str, system: str, notice: StockNotice) -> bool:
        """Keep ``notice``; False when this delivery of ``integration`` was recorded before (a retry).

        Raises:
            StoreError: the delivery id is empty or longer than :data:`MAX_DELIVERY_ID`.
        """
        if not notice.delivery_id or len(notice.delivery_id) > MAX_DELIVERY_ID:
            raise StoreError(f"a delivery id must have 1 to {MAX_DELIVERY_ID} characters")
        row = {
            "integration": integration,
            "system": system,
            "delivery_id": notice.delivery_id,
            "kind": notice.kind,
            "changed_since": notice.changed_since,
            "received_at": self.db.now(),
        }
        stmt = (
            self.db.insert(n)
            .values(row)
            .on_conflict_do_nothing(index_elements=["delivery_id", "integration"])
            .returning(n.c.id)
        )  # a row back only when it was inserted (rowcount is -1 on psycopg)
        with self.db.write() as conn:
            return conn.execute(stmt).first() is not None

    def pending(self, integration: str, *, limit: int = 1000) -> list[KeptNotice]:
        """Notices of ``integration`` no cycle has carried yet, oldest first."""
        stmt = select(n).where(n.c.integration == integration, n.c.done_at.is_(None)).order_by(n.c.id).limit(limit)
        with self.db.read() as conn:
            return [_kept(row) for row in conn.execute(stmt)]

    def integrations_pending(self) -> list[str]:
        """Integrations that have notices no cycle has carried yet (a receiver replays them on start)."""
        stmt = select(n.c.integration).where(n.c.done_at.is_(None)).distinct().order_by(n.c.integration)
        with self.db.read() as conn:
            return list(conn.scalars(stmt))

    def latest_id(self, integration: str) -> int | None:
        """The id of the newest notice of ``integration``: a cycle about to start carries up to it."""
        with self.db.read() as conn:
            found = conn.scalar(select(func.max(n.c.id)).where(n.c.integration == integration))
        return int(found) if found is not None else None

    def mark_done(self, integration: str, *, up_to: int | None = None, ids: Sequence[int] = ()) -> int:
        """Mark notices of ``integration`` carried: every one up to id ``up_to``, and those in ``ids``.

        Returns how many were pending. Done notices past the retention are pruned on the way.
        """
        now = self.db.now()
        pending = (n.c.integration == integration) & n.c.done_at.is_(None)
        marked = 0
        with self.db.write() as conn:
            if up_to is not None:
                marked += conn.execute(update(n).where(pending, n.c.id <= up_to).values(done_at=now)).rowcount
            for chunk in chunked(ids, self.db.chunk):
                marked += conn.execute(update(n).where(pending, n.c.id.in_(chunk)).values(done_at=now)).rowcount
            cutoff = now - timedelta(days=self.retention_days)
            conn.execute(delete(n).where(n.c.integration == integration, n.c.done_at < cutoff))
        return marked


def _kept(row: Row[tuple[object, ...]]) -> KeptNotice:
    return KeptNotice(
        id=row.id,
        integration=row.integration,
        system=row.system,
        delivery_id=row.delivery_id,
        kind=row.kind,
        changed_since=row.changed_since,
        received_at=row.received_at,
        done_at=row.done_at,
    )
