"""Engine creation and the transaction helpers every repository uses.

SQLite needs two things SQLAlchemy does not do by default:

* WAL, a busy timeout and foreign keys, set on every new connection;
* ``BEGIN IMMEDIATE`` for transactions that write. pysqlite starts transactions lazily and a
  deferred transaction that first reads and then writes fails with "database is locked" when
  another writer got in between (the busy timeout cannot help there). Taking the write lock at
  ``BEGIN`` makes writers queue up instead. This is the "pysqlite isolation workaround" from the
  SQLAlchemy SQLite dialect documentation: the driver's own transaction handling is switched off and
  SQLAlchemy emits ``BEGIN`` itself.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Table, Text, any_, bindparam, create_engine, event
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.elements import ColumnElement

from .errors import StoreError
from .tables import utcnow

T = TypeVar("T")

#: SQLite busy timeout: how long a writer waits for the lock before "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: parameters per ``IN (...)`` list: well below SQLite's limit of 32 766 variables.
CHUNK = 500

#: execution option that makes SQLAlchemy open the transaction with ``BEGIN IMMEDIATE`` on SQLite
IMMEDIATE = "skladbridge_immediate"


def json_dumps(obj: Any) -> str:
    """JSON the way the store writes it: UTF-8 text as is, dates as ISO strings."""
    return json.dumps(obj, ensure_ascii=False, default=_json_default)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, datetime):
        return obj.isoformat()
    item = getattr(obj, "item", None)  # numpy scalars
    if callable(item):
        return item()
    return str(obj)


def normalise_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever driver (or none) the URL names."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() != "psycopg":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def postgres_driver_missing() -> str | None:
    """What to install when psycopg (the PostgreSQL driver, an optional extra) is missing, else None."""
    try:
        found = importlib.util.find_spec("psycopg") is not None
    except (ImportError, ValueError):  # ValueError: a module set to None in sys.modules
        found = False
    return (
        None
        if found
        else (
            "the PostgreSQL driver psycopg is not installed: install the extra, "
            "pip install 'skladbridge[postgres]' (in a clone: pip install -e '.[postgres]')"
        )
    )


def create_store_engine(url: str, *, pool: bool = True, create_dir: bool = True) -> Engine:
    """Create the engine for ``url`` (SQLite file or PostgreSQL) with the store's settings.

    Args:
        create_dir: create a SQLite file's missing folder; otherwise a missing folder is a
            :class:`StoreError` naming it (a mistyped path would give a new, empty hub).
    """
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        missing = postgres_driver_missing()
        if missing:
            raise StoreError(missing)
        # No server-side prepared statements: psycopg prepares a query after 5 runs and the
        # plan PostgreSQL then caches was made on the statistics of that moment. A lookup first
        # run on an empty table kept its full-scan plan after 100 000 rows arrived (minutes
        # instead of a second). Planning each statement afresh costs well under a millisecond.
        kwargs: dict[str, Any] = {"pool_pre_ping": True, "connect_args": {"prepare_threshold": None}}
        if not pool:
            kwargs["poolclass"] = NullPool
        return create_engine(url, json_serializer=json_dumps, **kwargs)
    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        folder = Path(database).expanduser().parent
        if create_dir:
            folder.mkdir(parents=True, exist_ok=True)
        elif not folder.is_dir():
            raise StoreError(
                f"the folder {folder} of the SQLite database {database} does not exist: fix "
                "database_url, or create the store there with `skladbridge db upgrade`"
            )
    engine = create_engine(
        url,
        json_serializer=json_dumps,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (see below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL, much faster commits
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """An engine plus the store's clock and redaction hook, shared by every repository."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], datetime] = utcnow,
        redact: Callable[[str], str] | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.redact: Callable[[str], str] = redact or (lambda text: text)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that writes: ``BEGIN IMMEDIATE`` on SQLite, a plain one elsewhere."""
        with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                conn = conn.execution_options(**{IMMEDIATE: True})
            with conn.begin():
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (deferred on SQLite, so readers never block writers)."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def insert(self, table: Table) -> Any:
        """A dialect ``INSERT`` that has ``on_conflict_do_nothing``/``on_conflict_do_update``."""
        if self.dialect == "postgresql":
            return pg_insert(table)
        return sqlite_insert(table)

    @property
    def chunk(self) -> int:
        """How many keys one lookup statement takes (see :meth:`in_`)."""
        return 10_000 if self.dialect == "postgresql" else CHUNK

    def in_(self, column: ColumnElement[Any], values: Sequence[str]) -> ColumnElement[bool]:
        """``column IN values``; on PostgreSQL as ``= ANY(array)``, one parameter for all values.

        Rendering and sending thousands of separate parameters cost more than the lookup itself.
        """
        if self.dialect == "postgresql":
            return column == any_(bindparam(None, list(values), type_=ARRAY(Text)))
        return column.in_(values)

    def now(self) -> datetime:
        """The store's notion of "now" (replaceable in tests)."""
        return self.clock()


def chunked(items: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    """Yield lists of at most ``size`` items."""
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def unique(items: Iterable[T]) -> Sequence[T]:
    """Items without duplicates, first occurrence order kept."""
    return list(dict.fromkeys(items))
