"""The exchange queue: every unit of outbound work, idempotent, retried with backoff, never lost.

Life of an item::

    enqueue ──> pending ──claim──> in_progress ──complete──> done
                  ^  ^                  │
                  │  └──fail (retryable, attempts < max): backoff
                  │                     └──fail (otherwise)──> dead ──retry──┐
                  └──────────────────────────────────────────────────────────┘

An in_progress item whose lease ran out (its worker died) is due again, so nothing is stranded.
Two workers never claim the same item: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, and on SQLite the
claim runs in a ``BEGIN IMMEDIATE`` transaction, which admits one writer at a time.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Row, and_, func, or_, select, update

from .db import Database, chunked
from .errors import StoreError
from .queue_item import QueueItem, QueueStatus, payload_hash
from .tables import exchange_queue as q

#: the last error is kept up to this many characters
MAX_ERROR_CHARS = 4000


class Queue:
    """Repository of the exchange queue (``store.queue``).

    Attributes:
        backoff_base: seconds before the first retry; doubles with every failed attempt.
        backoff_cap: the longest wait between two attempts, in seconds.
    """

    def __init__(self, db: Database, *, backoff_base: float = 5.0, backoff_cap: float = 3600.0) -> None:
        self.db = db
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap

    # -- adding work -----------------------------------------------------------------------

    def enqueue(
        self,
        integration: str,
        kind: str,
        idempotency_key: str,
        payload: dict[str, Any],
        *,
        max_attempts: int = 8,
    ) -> QueueItem:
        """Add one unit of work; the same key returns the existing item, whatever its status."""
        items = self.enqueue_many(integration, kind, [(idempotency_key, payload)], max_attempts=max_attempts)
        return items[0]

    def enqueue_many(
        self,
        integration: str,
        kind: str,
        items: Sequence[tuple[str, dict[str, Any]]],
        *,
        max_attempts: int = 8,
    ) -> list[QueueItem]:
        """Add many units of work in bulk; returns one item per input, in input order.

        The unique constraint on (integration, kind, idempotency_key) plus ``ON CONFLICT DO
        NOTHING`` make this safe under concurrent callers: the loser reads the winner's row.
        """
        if max_attempts < 1:
            raise StoreError(f"max_attempts must be at least 1, got {max_attempts}")
        if not items:
            return []
        now = self.db.now()
        rows = [
            {
                "integration": integration,
                "kind": kind,
                "idempotency_key": key,
                "payload": payload,
                "payload_hash": payload_hash(payload),
                "status": "pending",
                "attempts": 0,
                "max_attempts": max_attempts,
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for key, payload in items
        ]
        keys = [key for key, _ in items]
        found: dict[str, QueueItem] = {}
        with self.db.write() as conn:
            stmt = self.db.insert(q).on_conflict_do_nothing().returning(*q.c)
            found.update({row.idempotency_key: _item(row) for row in conn.execute(stmt, rows)})
            # Keys that already existed (or that a concurrent caller inserted first).
            for batch in chunked([key for key in dict.fromkeys(keys) if key not in found]):
                stmt = select(q).where(
                    q.c.integration == integration, q.c.kind == kind, self.db.in_(q.c.idempotency_key, batch)
                )
                found.update({row.idempotency_key: _item(row) for row in conn.execute(stmt)})
        return [found[key] for key in keys]

    # -- working ---------------------------------------------------------------------------

    def claim(
        self,
        *,
        integration: str | None = None,
        kind: str | None = None,
        limit: int = 1,
        worker: str = "",
        lease_seconds: float = 300,
    ) -> list[QueueItem]:
        """Take up to ``limit`` due items in id order and mark them in_progress for ``worker``.

        Due: pending with ``next_attempt_at <= now``, or in_progress whose lease has expired.
        The lease should be longer than the work; a worker that needs longer claims fewer items.
        """
        now = self.db.now()
        due = or_(
            and_(q.c.status == "pending", q.c.next_attempt_at <= now),
            and_(q.c.status == "in_progress", q.c.lease_until <= now),
        )
        conditions = [due]
        if integration is not None:
            conditions.append(q.c.integration == integration)
        if kind is not None:
            conditions.append(q.c.kind == kind)
        pick = select(q.c.id).where(*conditions).order_by(q.c.id).limit(limit)
        if self.db.dialect == "postgresql":
            # Rows another claimer has locked are skipped, not waited for and never shared.
            pick = pick.with_for_update(skip_locked=True)
        stmt = (
            update(q)
            .where(q.c.id.in_(pick.scalar_subquery()))
            .values(
                status="in_progress",
                claimed_by=worker or None,
                updated_at=now,
                lease_until=now + timedelta(seconds=lease_seconds),
            )
            .returning(*q.c)
        )
        with self.db.write() as conn:
            claimed = [_item(row) for row in conn.execute(stmt)]
        return sorted(claimed, key=lambda item: item.id)

    def release(self, *, integration: str, kind: str | None = None) -> int:
        """Make every in_progress item of ``integration`` (and ``kind``) pending and due now.

        For a run that owns these items exclusively (one run per integration and kind at a time):
        claims left by a killed run are taken back at once instead of after their lease. Attempts
        are not counted: the work was interrupted, it did not fail.
        """
        conditions = [q.c.status == "in_progress", q.c.integration == integration]
        if kind is not None:
            conditions.append(q.c.kind == kind)
        now = self.db.now()
        stmt = (
            update(q)
            .where(*conditions)
            .values(status="pending", claimed_by=None, lease_until=None, next_attempt_at=now, updated_at=now)
        )
        with self.db.write() as conn:
            return int(conn.execute(stmt).rowcount or 0)

    def complete(self, item_id: int, result: dict[str, Any] | None = None) -> None:
        """Mark the item done and keep ``result`` (e.g. the id the target system gave it)."""
        with self.db.write() as conn:
            self._row(conn, item_id)
            conn.execute(
                update(q)
                .where(q.c.id == item_id)
                .values(status="done", result=result, lease_until=None, updated_at=self.db.now())
            )

    def fail(self, item_id: int, error: str, *, retryable: bool = True) -> QueueItem:
        """Record a failed attempt: back off and stay pending, or go dead after the last one.

        The wait before attempt n+1 is ``min(backoff_base * 2**(n-1), backoff_cap)``. A done item
        is left done: a late failure report never undoes a completion.
        """
        now = self.db.now()
        with self.db.write() as conn:
            row = self._row(conn, item_id, lock=True)
            if row.status == "done":
                return _item(row)
            attempts = row.attempts + 1
            values: dict[str, Any] = {
                "attempts": attempts,
                "last_error": self.db.redact(error)[:MAX_ERROR_CHARS],
                "lease_until": None,
                "updated_at": now,
            }
            if retryable and attempts < row.max_attempts:
                values["status"] = "pending"
                values["next_attempt_at"] = now + timedelta(seconds=self.backoff(attempts))
            else:
                values["status"] = "dead"
            updated = conn.execute(update(q).where(q.c.id == item_id).values(values).returning(*q.c))
            return _item(updated.one())

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after ``attempts`` failed attempts."""
        return float(min(self.backoff_base * 2 ** max(attempts - 1, 0), self.backoff_cap))

    # -- operator actions ------------------------------------------------------------------

    def retry(self, item_id: int) -> QueueItem:
        """Make a dead (or waiting) item due now, with a fresh set of attempts.

        Raises:
            StoreError: there is no such item, it is done, or a worker holds it right now.
        """
        now = self.db.now()
        with self.db.write() as conn:
            row = self._row(conn, item_id, lock=True)
            if row.status == "done":
                raise StoreError(f"queue item {item_id} is done; there is nothing to retry")
            if row.status == "in_progress" and row.lease_until is not None and row.lease_until > now:
                raise StoreError(
                    f"queue item {item_id} is being worked on by {row.claimed_by or 'a worker'} "
                    f"until {row.lease_until.isoformat()}"
                )
            updated = conn.execute(
                update(q)
                .where(q.c.id == item_id)
                .values(status="pending", attempts=0, next_attempt_at=now, lease_until=None, updated_at=now)
                .returning(*q.c)
            )
            return _item(updated.one())

    def retry_dead(self, integration: str | None = None, kind: str | None = None) -> int:
        """Make every dead item (of ``integration``/``kind``) due now; returns how many."""
        now = self.db.now()
        stmt = (
            update(q)
            .where(q.c.status == "dead")
            .values(status="pending", attempts=0, next_attempt_at=now, updated_at=now)
        )
        if integration is not None:
            stmt = stmt.where(q.c.integration == integration)
        if kind is not None:
            stmt = stmt.where(q.c.kind == kind)
        with self.db.write() as conn:
            return conn.execute(stmt).rowcount

    # -- reading ---------------------------------------------------------------------------

    def get(self, item_id: int) -> QueueItem | None:
        """The item, or ``None``."""
        with self.db.read() as conn:
            row = conn.execute(select(q).where(q.c.id == item_id)).one_or_none()
        return _item(row) if row is not None else None

    def list(
        self,
        *,
        integration: str | None = None,
        kind: str | None = None,
        status: QueueStatus | None = None,
        limit: int = 50,
        before: int | None = None,
    ) -> builtins.list[QueueItem]:
        """Items, newest first, optionally of one integration, kind and status; ``before``: only items
        with a smaller id (keyset paging: the next page starts after the last id shown)."""
        stmt = select(q).order_by(q.c.id.desc()).limit(limit)
        if before is not None:
            stmt = stmt.where(q.c.id < before)
        if integration is not None:
            stmt = stmt.where(q.c.integration == integration)
        if kind is not None:
            stmt = stmt.where(q.c.kind == kind)
        if status is not None:
            stmt = stmt.where(q.c.status == QueueStatus(status).value)
        with self.db.read() as conn:
            return [_item(row) for row in conn.execute(stmt)]

    def counts(self, integration: str | None = None) -> dict[str, int]:
        """``status -> number of items``, every status present (zero when none)."""
        stmt = select(q.c.status, func.count()).group_by(q.c.status)
        if integration is not None:
            stmt = stmt.where(q.c.integration == integration)
        out = {status.value: 0 for status in QueueStatus}
        with self.db.read() as conn:
            out.update({row[0]: row[1] for row in conn.execute(stmt)})
        return out

    def pending_count(self, integration: str, kind: str) -> int:
        """How many items of (integration, kind) are pending, due or not."""
        stmt = select(func.count()).where(q.c.integration == integration, q.c.kind == kind, q.c.status == "pending")
        with self.db.read() as conn:
            return int(conn.scalar(stmt) or 0)

    def _row(self, conn: Connection, item_id: int, *, lock: bool = False) -> Row[Any]:
        stmt = select(q).where(q.c.id == item_id)
        if lock and self.db.dialect == "postgresql":
            stmt = stmt.with_for_update()
        row = conn.execute(stmt).one_or_none()
        if row is None:
            raise StoreError(f"queue item {item_id} does not exist")
        return row


def _item(row: Row[Any]) -> QueueItem:
    return QueueItem(
        id=row.id,
        integration=row.integration,
        kind=row.kind,
        idempotency_key=row.idempotency_key,
        payload=row.payload,
        payload_hash=row.payload_hash,
        status=QueueStatus(row.status),
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        last_error=row.last_error,
        next_attempt_at=row.next_attempt_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        claimed_by=row.claimed_by,
        result=row.result,
    )
