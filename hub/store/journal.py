"""The journal: what happened, per integration, kept by age and by count.

The retailCRM seed module kept 50 entries for 5 days, which loses the history of a bad weekend;
we keep 30 days and 100 000 entries by default (both configurable).
"""

from __future__ import annotations

import builtins
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Row, delete, select

from .db import Database
from .errors import StoreError
from .tables import journal

#: level name -> number; ``list(level=...)`` returns that level and above.
LEVELS: Final = {"debug": 10, "info": 20, "warning": 30, "error": 40}
_NAMES: Final = {number: name for name, number in LEVELS.items()}

#: retention is applied once every this many writes (pruning on every write would double the cost).
PRUNE_EVERY: Final = 100


@dataclass(frozen=True)
class JournalEntry:
    """One journal entry as stored."""

    id: int
    at: datetime
    integration: str | None
    level: str
    event: str
    message: str
    data: dict[str, Any] | None


class Journal:
    """Repository of the journal (``store.journal``).

    Attributes:
        retention_days: entries older than this are pruned (``None``: no limit by age).
        retention_count: at most this many newest entries are kept (``None``: no limit by count).
    """

    def __init__(
        self, db: Database, *, retention_days: float | None = 30, retention_count: int | None = 100_000
    ) -> None:
        self.db = db
        self.retention_days = retention_days
        self.retention_count = retention_count
        self._writes = 0
        self._lock = threading.Lock()

    def write(
        self,
        integration: str | None,
        level: str,
        event: str,
        message: str,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Add an entry; every :data:`PRUNE_EVERY` writes the retention is applied.

        Raises:
            StoreError: ``level`` is not one of debug, info, warning, error.
        """
        level_no = _level_no(level)
        row = {
            "at": self.db.now(),
            "integration": integration,
            "level": level.lower(),
            "level_no": level_no,
            "event": event,
            "message": self.db.redact(message),
            "data": _redact(data, self.db) if data is not None else None,
        }
        with self.db.write() as conn:
            conn.execute(journal.insert(), row)
        with self._lock:
            due = self._writes % PRUNE_EVERY == 0
            self._writes += 1
        if due:
            self.prune()

    def list(
        self,
        *,
        integration: str | None = None,
        level: str | None = None,
        limit: int = 100,
        before: int | None = None,
        since: datetime | None = None,
    ) -> builtins.list[JournalEntry]:
        """Entries, newest first; ``level`` keeps that level and above; ``before``: only entries with a
        smaller id (keyset paging); ``since``: only entries at or after that time."""
        stmt = select(journal).order_by(journal.c.id.desc()).limit(limit)
        if before is not None:
            stmt = stmt.where(journal.c.id < before)
        if since is not None:
            stmt = stmt.where(journal.c.at >= since)
        if integration is not None:
            stmt = stmt.where(journal.c.integration == integration)
        if level is not None:
            stmt = stmt.where(journal.c.level_no >= _level_no(level))
        with self.db.read() as conn:
            return [_entry(row) for row in conn.execute(stmt)]

    def prune(self, *, max_age_days: float | None = None, max_count: int | None = None) -> int:
        """Delete entries older than ``max_age_days`` and, per integration, beyond its newest ``max_count``.

        Counted per integration, so a noisy integration never pushes a quiet one's history out.
        Either defaults to the journal's retention setting. Returns how many were deleted.
        """
        age = self.retention_days if max_age_days is None else max_age_days
        count = self.retention_count if max_count is None else max_count
        deleted = 0
        with self.db.write() as conn:
            if age is not None:
                cutoff = self.db.now() - timedelta(days=age)
                deleted += conn.execute(delete(journal).where(journal.c.at < cutoff)).rowcount
            if count is not None and count <= 0:
                deleted += conn.execute(delete(journal)).rowcount
            elif count is not None:
                for integration in conn.scalars(select(journal.c.integration).distinct()).all():
                    mine = journal.c.integration == integration
                    # The id of its oldest entry to keep; ids grow with time, so older = smaller.
                    keep_from = conn.scalar(
                        select(journal.c.id).where(mine).order_by(journal.c.id.desc()).offset(count - 1).limit(1)
                    )
                    if keep_from is not None:
                        deleted += conn.execute(delete(journal).where(mine, journal.c.id < keep_from)).rowcount
        return deleted


def _level_no(level: str) -> int:
    try:
        return LEVELS[level.lower()]
    except KeyError:
        raise StoreError(f"unknown journal level {level!r}; use one of {list(LEVELS)}") from None


def _redact(obj: Any, db: Database) -> Any:
    if isinstance(obj, str):
        return db.redact(obj)
    if isinstance(obj, dict):
        return {k: _redact(v, db) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_redact(v, db) for v in obj]
    return obj


def _entry(row: Row[Any]) -> JournalEntry:
    return JournalEntry(
        id=row.id,
        at=row.at,
        integration=row.integration,
        level=_NAMES.get(row.level_no, row.level),
        event=row.event,
        message=row.message,
        data=row.data,
    )
