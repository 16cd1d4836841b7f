"""Small keyed state: value mappings, stream cursors and push snapshots."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update

from .db import Database, chunked, unique
from .tables import cursors, mappings, snapshots

#: rows per bulk statement: large enough to amortise round trips, small enough for SQLite's
#: parameter limit (5 columns x 5000 rows stays under 32 766).
BULK = 5000


@dataclass(frozen=True)
class UnknownValue:
    """A value an exchange met that no mapping covers (``undefined`` until someone maps it)."""

    integration: str
    kind: str
    source: str
    met_in: str | None  # the exchange that met it
    updated_at: datetime


class Mappings:
    """Value mappings per (integration, kind): statuses, stores, payment types ... (``store.mappings``).

    A source value with a NULL target has been seen but is not mapped yet; flows treat it as
    ``undefined`` and re-resolve it once someone maps it. A value *saved* (in the console,
    :meth:`save`) wins over the config file's for its key (:func:`hub.saved_mappings.with_saved_mappings`);
    a saved NULL target means "left out".
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

    def mark_unknown(self, integration: str, kind: str, sources: Iterable[str], *, met_in: str | None = None) -> None:
        """Record values seen but not mapped (target NULL), and by which exchange (``met_in``);
        mapped and saved values are left alone."""
        now = self.db.now()
        rows = [
            {"integration": integration, "kind": kind, "source": s, "target": None, "updated_at": now, "met_in": met_in}
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
                mappings.c.saved_by.is_(None),
            )
            .order_by(mappings.c.source)
        )
        with self.db.read() as conn:
            return list(conn.scalars(stmt))

    def unknown_values(self, integration: str | None = None) -> list[UnknownValue]:
        """Every value met and not mapped (of ``integration``), by integration, kind and value."""
        c = mappings.c
        stmt = (
            select(c.integration, c.kind, c.source, c.met_in, c.updated_at)
            .where(c.target.is_(None), c.saved_by.is_(None))
            .order_by(c.integration, c.kind, c.source)
        )
        if integration is not None:
            stmt = stmt.where(c.integration == integration)
        with self.db.read() as conn:
            return [UnknownValue(r.integration, r.kind, r.source, r.met_in, r.updated_at) for r in conn.execute(stmt)]

    def save(self, integration: str, kind: str, source: str, target: str | None, *, by: str) -> None:
        """Save ``source -> target`` as a manager's choice (``None``: left out): it wins over the file."""
        row = {
            "integration": integration,
            "kind": kind,
            "source": source,
            "target": target,
            "updated_at": self.db.now(),
            "saved_by": by,
        }
        stmt = self.db.insert(mappings)
        stmt = stmt.on_conflict_do_update(
            index_elements=["integration", "kind", "source"],
            set_={"target": stmt.excluded.target, "updated_at": stmt.excluded.updated_at, "saved_by": by},
        )
        with self.db.write() as conn:
            conn.execute(stmt, row)

    def saved(self, integration: str) -> dict[str, dict[str, str | None]]:
        """``kind -> source -> target`` of every value saved for ``integration`` (``None``: left out)."""
        c = mappings.c
        stmt = select(c.kind, c.source, c.target).where(c.integration == integration, c.saved_by.is_not(None))
        out: dict[str, dict[str, str | None]] = {}
        with self.db.read() as conn:
            for row in conn.execute(stmt):
                out.setdefault(row.kind, {})[row.source] = row.target
        return out

    def forget_saved(self, integration: str, kind: str, source: str) -> bool:
        """Drop the saved value of ``source``: the file's value applies again. Returns whether one was saved."""
        c = mappings.c
        where = (c.integration == integration, c.kind == kind, c.source == source, c.saved_by.is_not(None))
        with self.db.write() as conn:
            # a value an exchange met stays known as met (target NULL, not saved): the Undefined list
            # shows it again until the file maps it; one only ever saved goes
            gone = conn.execute(delete(mappings).where(*where, c.met_in.is_(None))).rowcount
            gone += conn.execute(update(mappings).where(*where).values(target=None, saved_by=None)).rowcount
        return bool(gone)


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
