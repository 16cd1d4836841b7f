"""Staged canonical frames: the hub's copy of each system's rows, one JSON text per key.

Rows are serialised to JSON text (NA → null, timestamps → ISO 8601 UTC) and hashed with sha1 over
exactly that text, so "did this row change?" is a string comparison and unchanged rows are never
rewritten. ``seen_at`` is when the current version of a row was first staged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

import pandas as pd
from sqlalchemy import cast, delete, func, select
from sqlalchemy.dialects.postgresql import JSONB

from hub.model import KINDS, frame

from .db import Database, chunked, json_dumps, unique
from .errors import StoreError
from .tables import records

#: rows per bulk upsert (7 columns x 2000 rows stays under SQLite's parameter limit)
BULK = 2000


class UpsertCounts(NamedTuple):
    """What :meth:`Records.upsert_frame` did; ``changed_keys`` are the inserted and updated keys."""

    inserted: int
    updated: int
    unchanged: int
    changed_keys: tuple[str, ...] = ()


KeyColumns = str | Sequence[str]
KEY_SEPARATOR = "|"


def row_keys(df: pd.DataFrame, key_column: KeyColumns, kind: str = "") -> list[str]:
    """The record key of each row: one column, or several joined by ``|`` (e.g. offer|price type).

    Raises:
        StoreError: a key column is missing or has empty values.
    """
    columns = [key_column] if isinstance(key_column, str) else list(key_column)
    for column in columns:
        if column not in df.columns:
            raise StoreError(f"{kind}: key column {column!r} not in frame columns {list(df.columns)}")
        if df[column].isna().any():
            raise StoreError(f"{kind}: {int(df[column].isna().sum())} rows have no {column}")
    parts = [df[c].astype(str).tolist() for c in columns]
    return [KEY_SEPARATOR.join(values) for values in zip(*parts, strict=True)] if parts else []


class Records:
    """Repository of staged rows (``store.records``), keyed by (integration, kind, key)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def upsert_frame(
        self, integration: str, kind: str, system: str, df: pd.DataFrame, key_column: KeyColumns
    ) -> UpsertCounts:
        """Stage every row of ``df`` under its key (see :func:`row_keys`); a later duplicate key wins.

        Raises:
            StoreError: a key column is missing or has empty values.
        """
        staged = _stage(df, key_column, kind)
        existing = self._hashes(integration, kind, staged)
        now = self.db.now()
        composite = not isinstance(key_column, str) and len(key_column) > 1
        changed: list[dict[str, Any]] = [
            {
                "integration": integration,
                "kind": kind,
                "key": key,
                "system": system,
                "data": data,
                "hash": digest,
                "seen_at": now,
                "parent_key": key.split(KEY_SEPARATOR, 1)[0] if composite else None,
            }
            for key, (data, digest) in staged.items()
            if existing.get(key) != digest
        ]
        inserted = sum(1 for row in changed if row["key"] not in existing)
        if changed:
            stmt = self.db.insert(records)
            stmt = stmt.on_conflict_do_update(
                index_elements=["integration", "kind", "key"],
                set_={c: stmt.excluded[c] for c in ("system", "data", "hash", "seen_at", "parent_key")},
            )
            with self.db.write() as conn:
                for batch in chunked(changed, BULK):
                    conn.execute(stmt, batch)
        return UpsertCounts(
            inserted, len(changed) - inserted, len(staged) - len(changed), tuple(row["key"] for row in changed)
        )

    def changed(self, integration: str, kind: str, df: pd.DataFrame, key_column: KeyColumns) -> list[str]:
        """Keys of the rows of ``df`` that differ from what is staged (or are not staged), without writing."""
        staged = _stage(df, key_column, kind)
        existing = self._hashes(integration, kind, staged)
        return [key for key, (_, digest) in staged.items() if existing.get(key) != digest]

    def frame(
        self, integration: str, kind: str, *, keys: Sequence[str] | None = None, parents: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """The staged rows of ``kind`` as a frame (conformed when ``kind`` is canonical), in key order.

        Args:
            keys: only the rows with these keys.
            parents: only the rows whose composite key starts with one of these (e.g. the prices of
                these offers: ``parent_key`` is the first key column).
        """
        base = select(records.c.key, records.c.data).where(records.c.integration == integration, records.c.kind == kind)
        if keys is None and parents is None:
            with self.db.read() as conn:
                return _to_frame(kind, [data for _, data in conn.execute(base.order_by(records.c.key))])
        column, wanted = (records.c.key, keys) if keys is not None else (records.c.parent_key, parents)
        found: list[tuple[str, str]] = []
        with self.db.read() as conn:
            for batch in chunked(unique(str(v) for v in wanted or ()), self.db.chunk):
                found.extend((row.key, row.data) for row in conn.execute(base.where(self.db.in_(column, batch))))
        return _to_frame(kind, [data for _, data in sorted(found)])

    def keys_by_field(self, integration: str, kind: str, field: str, values: Sequence[str]) -> dict[str, str]:
        """``value -> key`` of the staged rows of ``kind`` whose ``field`` holds one of ``values`` (the
        last key in key order where several do, as a dict built over the whole kind would have it).
        The database reads the field out of each row's JSON itself, so a lookup of a few SKUs in
        100 000 offers parses no row in Python."""
        if not field.isidentifier():
            raise StoreError(f"{kind}: {field!r} is not a field name")
        if self.db.dialect == "postgresql":
            value = cast(records.c.data, JSONB)[field].astext
        else:
            value = func.json_extract(records.c.data, f"$.{field}")
        out: dict[str, str] = {}
        base = select(value.label("value"), records.c.key).where(
            records.c.integration == integration, records.c.kind == kind
        )
        with self.db.read() as conn:
            for batch in chunked(unique(str(v) for v in values), self.db.chunk):
                for row in conn.execute(base.where(self.db.in_(value, batch)).order_by(records.c.key)):
                    out[str(row.value)] = row.key
        return out

    def iter_frames(self, integration: str, kind: str, rows: int = 5000) -> Iterator[pd.DataFrame]:
        """The staged rows of ``kind`` in key order, ``rows`` at a time (keyset paging, flat memory)."""
        after: str | None = None
        while True:
            stmt = select(records.c.key, records.c.data).where(
                records.c.integration == integration, records.c.kind == kind
            )
            if after is not None:
                stmt = stmt.where(records.c.key > after)
            with self.db.read() as conn:
                page = conn.execute(stmt.order_by(records.c.key).limit(rows)).all()
            if not page:
                return
            after = page[-1].key
            yield _to_frame(kind, [row.data for row in page])
            if len(page) < rows:
                return

    def hashes(self, integration: str, kind: str) -> dict[str, str]:
        """``key -> hash`` of every staged row of ``kind``."""
        return self._hashes(integration, kind, None)

    def count(self, integration: str, kind: str) -> int:
        """How many rows of ``kind`` are staged."""
        stmt = select(func.count()).where(records.c.integration == integration, records.c.kind == kind)
        with self.db.read() as conn:
            return int(conn.scalar(stmt) or 0)

    def delete_missing(self, integration: str, kind: str, keep_keys: Iterable[str]) -> list[str]:
        """Delete the staged rows of ``kind`` whose key is not in ``keep_keys``; returns their keys."""
        keep = {str(k) for k in keep_keys}
        gone = sorted(key for key in self.hashes(integration, kind) if key not in keep)
        self.delete(integration, kind, keys=gone)
        return gone

    def delete(self, integration: str, kind: str, *, keys: Sequence[str] = (), parents: Sequence[str] = ()) -> int:
        """Delete the rows of ``kind`` with these keys and those whose ``parent_key`` is one of ``parents``."""
        deleted = 0
        with self.db.write() as conn:
            for column, values in ((records.c.key, keys), (records.c.parent_key, parents)):
                for batch in chunked(unique(str(v) for v in values), self.db.chunk):
                    deleted += conn.execute(
                        delete(records).where(
                            records.c.integration == integration,
                            records.c.kind == kind,
                            self.db.in_(column, batch),
                        )
                    ).rowcount
        return deleted

    def _hashes(self, integration: str, kind: str, keys: Iterable[str] | None) -> dict[str, str]:
        base = select(records.c.key, records.c.hash).where(records.c.integration == integration, records.c.kind == kind)
        with self.db.read() as conn:
            if keys is None:
                return {row.key: row.hash for row in conn.execute(base)}
            out: dict[str, str] = {}
            for batch in chunked(keys, self.db.chunk):
                out.update({row.key: row.hash for row in conn.execute(base.where(self.db.in_(records.c.key, batch)))})
            return out


def _to_frame(kind: str, texts: list[str]) -> pd.DataFrame:
    if kind in KINDS:  # each row decoded as the frame takes it: one row's dict alive at a time
        return frame(kind, (json.loads(text) for text in texts))
    return pd.DataFrame([json.loads(text) for text in texts])


def _stage(df: pd.DataFrame, key_column: KeyColumns, kind: str) -> dict[str, tuple[str, str]]:
    staged: dict[str, tuple[str, str]] = {}
    for key, data in zip(row_keys(df, key_column, kind), serialise_rows(df), strict=True):
        staged[key] = (data, hashlib.sha1(data.encode()).hexdigest())
    return staged


def serialise_rows(df: pd.DataFrame) -> list[str]:
    """One JSON text per row, columns in frame order: NA → null, timestamps → ISO 8601 UTC."""
    columns: dict[str, list[Any]] = {}
    for name in df.columns:
        columns[str(name)] = _column_values(df[name])
    names = list(columns)
    values = list(columns.values())
    return (
        [json_dumps(dict(zip(names, row, strict=True))) for row in zip(*values, strict=True)]
        if names
        else ["{}"] * len(df)
    )


def _column_values(series: pd.Series) -> list[Any]:
    if pd.api.types.is_datetime64_any_dtype(series):
        ts = series if getattr(series.dt, "tz", None) is not None else series.dt.tz_localize("UTC")
        ts = ts.dt.tz_convert("UTC")
        # isoformat keeps sub-second precision only when present, like the wire formats do.
        return [None if pd.isna(v) else v.isoformat() for v in ts]
    values = series.astype(object).tolist()
    return [None if _is_na(v) else v for v in values]


def _is_na(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists, dicts: never NA
        return False
