"""Small keyed state: value mappings, stream cursors and push snapshots."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import delete, select

from .db import Database, chunked, unique
from .tables import cursors, mappings, snapshots

#: rows per bulk statement: large enough to amortise round trips, small enough for SQLite's
#: parameter limit (5 columns x 5000 rows stays under 32 766).
BULK = 5000


class Mappings:
    """Value mappings per (integration, kind): statuses, stores, payment types ... (``store.mappings``).

    A source value with a NULL target has been seen but is not mapped yet; flows treat it as
    ``undefined`` and re-resolve it once someone maps it.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, integration: str, kind: str) -> dict[str, str]:
        """Return ``source -> target`` for the mapped values (unmapped ones are left out)."""
        stmt = select(mappings.c.source, mappings.c.target).where(
            mappings.c.integration == integration,
            mappings.c.kind == kind,
            mappings.c.target.is_not(None),
        )
        with self.db.read() as conn:
            return {row.source: row.target for row in conn.execute(stmt)}

    def set(self, integration: str, kind: str, source: str, target: str | None) -> None:
        """Map ``source`` to ``target`` (``None`` makes it unmapped again)."""
        row = {
            "integration": integration,
            "kind": kind,
            "source": source,
            "target": target,
            "updated_at": self.db.now(),
        }
        stmt = self.db.insert(mappings)
        stmt = stmt.on_conflict_do_update(
            index_elements=["integration", "kind", "source"],
            set_={"target": stmt.excluded.target, "updated_at": stmt.excluded.updated_at},
        )
        with self.db.write() as conn:
            conn.execute(stmt, row)

    def replace(self, integration: str, kind: str, mapping: Mapping[str, str]) -> None:
        """Make ``mapping`` the whole mapping of ``kind``; values only seen stay as unknown."""
        now = self.db.now()
        with self.db.write() as conn:
            conn.execute(
                delete(mappings).where(
                    mappings.c.integration == integration,
                    mappings.c.kind == kind,
                    mappings.c.target.is_not(None),
                )
            )
            rows = [
                {"integration": integration, "kind": kind, "source": s, "target": t, "updated_at": now}
                for s, t in mapping.items()
            ]
            if rows:
                stmt = self.db.insert(mappings)
                stmt = stmt.on_conflict_do_update(
                    index_elements=["integration", "kind", "source"],
                    set_={"target": stmt.excluded.target, "updated_at": stmt.excluded.updated_at},
                )
                conn.execute(stmt, rows)

    def mark_unknown(self, integration: str, kind: str, sources: Iterable[str]) -> None:
        """Record values seen but not mapped (target NULL); mapped values are left alone."""
        now = self.db.now()
        rows = [
            {"integration": integration, "kind": kind, "source": s, "target": None, "updated_at": now}
            for s in unique(sources)
        ]
        if rows:
            with self.db.write() as conn:
                conn.execute(self.db.insert(mappings).on_conflict_do_nothing(), rows)

    def unknown(self, integration: str, kind: str) -> list[str]:
        """Values seen but not mapped yet, sorted."""
        stmt = (
            select(mappings.c.source)
            .where(
                mappings.c.integration == integration,
                mappings.c.kind == kind,
                mappings.c.target.is_(None),
            )
            .order_by(mappings.c.source)
        )
        with self.db.read() as conn:
            return list(conn.scalars(stmt))


class Cursors:
    """Where each (integration, stream) read up to: a UTC watermark or an id (``store.cursors``).

    Advance a cursor only after the batch it covers has been applied downstream.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, integration: str, stream: str) -> str | None:
        """The cursor value, or ``None`` when the stream was never read."""
        stmt = select(cursors.c.value).where(cursors.c.integration == integration, cursors.c.stream == stream)
        with self.db.read() as conn:
            return conn.scalar(stmt)

    def set(self, integration: str, stream: str, value: str) -> None:
        """Store the cursor value (insert or overwrite)."""
        row = {"integration": integration, "stream": stream, "value": value, "updated_at": self.db.now()}
        stmt = self.db.insert(cursors)
        stmt = stmt.on_conflict_do_update(
            index_elements=["integration", "stream"],
            set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
        )
        with self.db.write() as conn:
            conn.execute(stmt, row)

    def all(self, integration: str | None = None) -> dict[str, str] | dict[tuple[str, str], str]:
        """With ``integration``: ``stream -> value``; without: ``(integration, stream) -> value``."""
        stmt = select(cursors.c.integration, cursors.c.stream, cursors.c.value)
        with self.db.read() as conn:
            if integration is not None:
                rows = conn.execute(stmt.where(cursors.c.integration == integration))
                return {row.stream: row.value for row in rows}
            return {(row.integration, row.stream): row.value for row in conn.execute(stmt)}


class Snapshots:
    """Hashes of what was last pushed per (integration, stream, key), to send only changes."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def hashes(self, integration: str, stream: str, keys: Iterable[str] | None = None) -> dict[str, str]:
        """Return ``key -> hash``: all of the stream's when ``keys`` is None, else those that exist."""
        base = select(snapshots.c.key, snapshots.c.hash).where(
            snapshots.c.integration == integration, snapshots.c.stream == stream
        )
        out: dict[str, str] = {}
        with self.db.read() as conn:
            if keys is None:
                return {row.key: row.hash for row in conn.execute(base)}
            for batch in chunked(unique(keys), self.db.chunk):
                rows = conn.execute(base.where(self.db.in_(snapshots.c.key, batch)))
                out.update({row.key: row.hash for row in rows})
        return out

    def save(self, integration: str, stream: str, hashes: Mapping[str, str]) -> None:
        """Insert or overwrite the hashes of ``hashes``' keys (bulk upsert, chunked)."""
        now = self.db.now()
        rows = [
            {"integration": integration, "stream": stream, "key": k, "hash": h, "updated_at": now}
            for k, h in hashes.items()
        ]
        stmt = self.db.insert(snapshots)
        stmt = stmt.on_conflict_do_update(
            index_elements=["integration", "stream", "key"],
            set_={"hash": stmt.excluded.hash, "updated_at": stmt.excluded.updated_at},
        )
        with self.db.write() as conn:
            for batch in chunked(rows, BULK):
                conn.execute(stmt, batch)

    def delete(self, integration: str, stream: str, keys: Iterable[str]) -> int:
        """Forget the snapshots of ``keys``; returns how many existed."""
        deleted = 0
        with self.db.write() as conn:
            for batch in chunked(unique(keys), self.db.chunk):
                result = conn.execute(
                    delete(snapshots).where(
                        snapshots.c.integration == integration,
                        snapshots.c.stream == stream,
                        self.db.in_(snapshots.c.key, batch),
                    )
                )
                deleted += result.rowcount
        return deleted
