"""The store's schema: one SQLAlchemy Core ``MetaData`` with every table of the hub.

The migrations in ``hub/store/migrations/versions`` create exactly this schema (a test compares
them with alembic's ``compare_metadata``). Change a table here *and* add a migration.

Conventions:

* every timestamp is timezone-aware UTC (:class:`UTCDateTime`), on SQLite too;
* structured values (queue payloads, journal data) are ``sqlalchemy.JSON``; staged canonical rows
  are JSON *text* because their hash is computed over exactly the stored text;
* the store holds no credentials: no table has a column for a token, password or key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

# Named constraints, so that migrations (and later ALTERs on SQLite batch mode) can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always written and read as timezone-aware UTC.

    PostgreSQL keeps ``timestamptz`` natively; SQLite has no time zones, so values are stored as
    naive UTC text (which sorts correctly) and given ``tzinfo=UTC`` again on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            # A naive timestamp would be ambiguous; refusing it catches local-time bugs early.
            raise ValueError(f"naive datetime {value!r}: the store only takes timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (the store's default clock)."""
    return datetime.now(UTC)


# SQLite only auto-increments an ``INTEGER PRIMARY KEY``; PostgreSQL gets a 64-bit identity.
ID = BigInteger().with_variant(Integer(), "sqlite")

links = Table(
    "links",
    metadata,
    Column("integration", String(100), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("system", String(64), nullable=False),
    Column("external_id", String(255), nullable=False),
    Column("hub_key", String(36), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    # The selective column leads every keyed primary key: lookups are "these 500 ids of one
    # (integration, kind, system)", and with the scope first PostgreSQL, on fresh statistics,
    # used only the scope as index condition and filtered 100 000 rows per chunk.
    PrimaryKeyConstraint("external_id", "integration", "kind", "system"),
    # One object has at most one id per system: the reverse lookup hub key -> id is unique too.
    UniqueConstraint("hub_key", "integration", "kind", "system"),
)

mappings = Table(
    "mappings",
    metadata,
    Column("integration", String(100), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("source", String(255), nullable=False),
    # NULL target = seen but not mapped yet ("undefined" until someone maps it), or, with saved_by,
    # left out on purpose.
    Column("target", String(255), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
    # who saved the value in the console: a saved value wins over the config file's for its key
    Column("saved_by", String(100), nullable=True),
    # the exchange that met the value unmapped (which side of the mapping it is on)
    Column("met_in", String(100), nullable=True),
    PrimaryKeyConstraint("integration", "kind", "source"),
)

cursors = Table(
    "cursors",
    metadata,
    Column("integration", String(100), nullable=False),
    Column("stream", String(100), nullable=False),
    Column("value", Text, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("integration", "stream"),
)

snapshots = Table(
    "snapshots",
    metadata,
    Column("integration", String(100), nullable=False),
    Column("stream", String(100), nullable=False),
    Column("key", String(255), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("key", "integration", "stream"),  # key first: see links
)

records = Table(
    "records",
    metadata,
    Column("integration", String(100), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("key", String(255), nullable=False),
    Column("system", String(64), nullable=False),
    Column("data", Text, nullable=False),
    Column("hash", String(40), nullable=False),
    Column("seen_at", UTCDateTime(), nullable=False),
    # first part of a composite key (the offer of a price, the owner of an image): lets a reader
    # take a slice of the catalog with its prices and images without loading the whole kind
    Column("parent_key", String(255), nullable=True),
    PrimaryKeyConstraint("key", "integration", "kind"),  # key first: see links
    Index("ix_records_parent", "integration", "kind", "parent_key"),
)

QUEUE_STATUSES = ("pending", "in_progress", "done", "dead")

exchange_queue = Table(
    "exchange_queue",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("integration", String(100), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("idempotency_key", String(255), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("payload_hash", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("claimed_by", String(255), nullable=True),
    # When an in_progress item's lease runs out it is due again: a dead worker strands nothing.
    Column("lease_until", UTCDateTime(), nullable=True),
    Column("result", JSON, nullable=True),
    # The idempotency guarantee lives in the database, so it holds across processes.
    UniqueConstraint("idempotency_key", "integration", "kind"),  # key first: see links
    CheckConstraint("status IN ('pending', 'in_progress', 'done', 'dead')", name="status"),
    Index(None, "status", "next_attempt_at"),
    # the console's pages: one integration's items of a status or kind, newest first, and its counts
    # (without them a filtered page of 100 000 items read the whole table: 180 ms on SQLite)
    Index(None, "integration", "status", "id"),
    Index(None, "integration", "kind", "id"),
)

journal = Table(
    "journal",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("integration", String(100), nullable=True),
    Column("level", String(16), nullable=False),
    # Numeric level so that "warning and above" is one indexed comparison.
    Column("level_no", SmallInteger, nullable=False),
    Column("event", String(100), nullable=False),
    Column("message", Text, nullable=False),
    Column("data", JSON, nullable=True),
    Index(None, "at"),
    Index(None, "integration", "id"),
)

stock_notices = Table(
    "stock_notices",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("integration", String(100), nullable=False),
    Column("system", String(64), nullable=False),
    # the source's id of the delivery (MoySklad requestId: its immediate retries repeat it)
    Column("delivery_id", String(100), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("changed_since", UTCDateTime(), nullable=True),
    Column("received_at", UTCDateTime(), nullable=False),
    # NULL until a stock cycle that started after it finished: the receiver replays those on start
    Column("done_at", UTCDateTime(), nullable=True),
    # a retry is recorded once, across processes too
    UniqueConstraint("delivery_id", "integration"),  # key first: see links
    Index("ix_stock_notices_pending", "integration", "done_at", "id"),
)

hub_writes = Table(
    "hub_writes",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("integration", String(100), nullable=False),
    # the config's alias of the system written to (two accounts of one system stay apart)
    Column("system", String(64), nullable=False),
    Column("order_id", String(255), nullable=False),
    Column("field", String(64), nullable=False),
    Column("value", String(255), nullable=False),
    # recorded before the request and closed after it: the system's history stamps the change in
    # between (give or take the clocks' skew), which is how an echo is told from a later change
    Column("started_at", UTCDateTime(), nullable=False),
    Column("ended_at", UTCDateTime(), nullable=True),
    Index("ix_hub_writes_order", "integration", "system", "order_id"),
    Index("ix_hub_writes_started_at", "started_at"),
)

switches = Table(
    "switches",
    metadata,
    Column("integration", String(100), primary_key=True),
    # the Active switch as last set in the console: it wins over the file's ``active:`` (as a saved
    # mapping wins over the file's), so a pause outlives restarts of serve and re-runs of deploy
    Column("active", Boolean(), nullable=False),
    Column("switched_by", String(100), nullable=False),
    Column("switched_at", UTCDateTime(), nullable=False),
)
