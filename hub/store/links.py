"""Links: which id each system gives one object, under a hub key of its own.

``(integration, kind, system, external_id) ⇄ hub_key``. Every write resolves links first and every
create records one; that is what makes re-runs and retries idempotent. Hub keys are deterministic
(uuid5 of the first id an object was seen under), so a re-run after a lost write converges on the
same key instead of minting a second one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, select

from .db import Database, chunked, unique
from .tables import links

#: namespace of hub keys; never change it, or every key computed from now on would differ.
NAMESPACE = uuid.UUID("8f5c2a0e-5b7d-4c1e-9a63-6b2d1f0e4c11")


def hub_key_for(integration: str, kind: str, system: str, external_id: str) -> str:
    """The deterministic hub key of an object first seen as ``external_id`` in ``system``."""
    return str(uuid.uuid5(NAMESPACE, f"{integration}/{kind}/{system}/{external_id}"))


class Links:
    """Repository of links (``store.links``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def ensure(self, integration: str, kind: str, system: str, external_ids: Iterable[str]) -> dict[str, str]:
        """Return ``external_id -> hub_key`` for every id, creating the links that are missing.

        One chunked ``SELECT … IN`` finds what exists; one bulk insert that ignores conflicts adds
        the rest. Ids another writer linked in between are read back, so the answer always
        matches the database.
        """
        ids = unique(str(i) for i in external_ids)
        if not ids:
            return {}
        # Read first without the write lock: on a re-run every id is usually linked already.
        with self.db.read() as conn:
            found = self._resolve(conn, integration, kind, system, ids)
        missing = [i for i in ids if i not in found]
        if missing:
            now = self.db.now()
            rows = [
                {
                    "integration": integration,
                    "kind": kind,
                    "system": system,
                    "external_id": ext,
                    "hub_key": hub_key_for(integration, kind, system, ext),
                    "created_at": now,
                }
                for ext in missing
            ]
            stmt = self.db.insert(links).on_conflict_do_nothing().returning(links.c.external_id)
            with self.db.write() as conn:
                inserted = set(conn.scalars(stmt, rows))
                found.update((ext, hub_key_for(integration, kind, system, ext)) for ext in inserted)
                # Ids another writer linked since our read (rare): read back what they wrote.
                # Not a blanket re-read: inside the inserting transaction PostgreSQL plans it on
                # statistics that do not know the new rows yet and scans the whole table.
                raced = [ext for ext in missing if ext not in inserted]
                found.update(self._resolve(conn, integration, kind, system, raced))
        return {i: found[i] for i in ids}

    def attach(self, integration: str, kind: str, hub_key: str, system: str, external_id: str) -> None:
        """Record that ``system`` knows the object ``hub_key`` as ``external_id`` (idempotent)."""
        self.attach_many(integration, kind, system, [(hub_key, external_id)])

    def attach_many(self, integration: str, kind: str, system: str, pairs: Iterable[tuple[str, str]]) -> None:
        """Record many ``(hub_key, external_id)`` pairs of ``system`` at once (idempotent).

        A pair that conflicts with an existing link (the id or the hub key already linked to
        something else) is left as it is: links are never silently rewritten.
        """
        now = self.db.now()
        rows = [
            {
                "integration": integration,
                "kind": kind,
                "system": system,
                "external_id": str(ext),
                "hub_key": key,
                "created_at": now,
            }
            for key, ext in pairs
        ]
        if not rows:
            return
        with self.db.write() as conn:
            for batch in chunked(rows, 5000):
                conn.execute(self.db.insert(links).on_conflict_do_nothing(), batch)

    def resolve(self, integration: str, kind: str, system: str, external_ids: Iterable[str]) -> dict[str, str]:
        """Return ``external_id -> hub_key`` for the ids that are linked; others are absent."""
        ids = unique(str(i) for i in external_ids)
        with self.db.read() as conn:
            return self._resolve(conn, integration, kind, system, ids)

    def external_ids(self, integration: str, kind: str, system: str, hub_keys: Iterable[str]) -> dict[str, str]:
        """Return ``hub_key -> external_id`` in ``system`` for the keys that have one."""
        keys = unique(hub_keys)
        out: dict[str, str] = {}
        with self.db.read() as conn:
            for batch in chunked(keys, self.db.chunk):
                stmt = select(links.c.hub_key, links.c.external_id).where(
                    *self._scope(integration, kind, system), self.db.in_(links.c.hub_key, batch)
                )
                out.update({row.hub_key: row.external_id for row in conn.execute(stmt)})
        return out

    def pairs(self, integration: str, kind: str, system: str, other: str) -> list[tuple[str, str]]:
        """Every object of ``kind`` linked in both systems: ``(id in system, id in other)``, by the first."""
        mine, theirs = links.alias("mine"), links.alias("theirs")
        stmt = (
            select(mine.c.external_id, theirs.c.external_id)
            .join(
                theirs,
                (theirs.c.hub_key == mine.c.hub_key)
                & (theirs.c.integration == mine.c.integration)
                & (theirs.c.kind == mine.c.kind),
            )
            .where(
                mine.c.integration == integration,
                mine.c.kind == kind,
                mine.c.system == system,
                theirs.c.system == other,
            )
            .order_by(mine.c.external_id)
        )
        with self.db.read() as conn:
            return [(str(a), str(b)) for a, b in conn.execute(stmt)]

    def detach(self, integration: str, kind: str, system: str, external_id: str) -> int:
        """Forget which object ``external_id`` of ``system`` is (the object keeps its other ids)."""
        stmt = links.delete().where(*self._scope(integration, kind, system), links.c.external_id == external_id)
        with self.db.write() as conn:
            return int(conn.execute(stmt).rowcount or 0)

    def _resolve(
        self, conn: Connection, integration: str, kind: str, system: str, ids: Sequence[str]
    ) -> dict[str, str]:
        out: dict[str, str] = {}
        for batch in chunked(ids, self.db.chunk):
            stmt = select(links.c.external_id, links.c.hub_key).where(
                *self._scope(integration, kind, system), self.db.in_(links.c.external_id, batch)
            )
            out.update({row.external_id: row.hub_key for row in conn.execute(stmt)})
        return out

    @staticmethod
    def _scope(integration: str, kind: str, system: str) -> tuple[Any, ...]:
        return (links.c.integration == integration, links.c.kind == kind, links.c.system == system)
