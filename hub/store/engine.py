"""Opening the store: engine, migrations to head, and the repositories as attributes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

from .db import Database, create_store_engine
from .journal import Journal
from .kv import Cursors, Mappings, Snapshots
from .links import Links
from .locks import RunLocks
from .notices import Notices
from .queue import Queue
from .records import Records
from .switches import Switches
from .tables import utcnow
from .writes import HubWrites

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# alembic's ``context``/``op`` are process-wide proxies: two threads migrating at once trip over
# each other. Across processes the migration itself takes a database lock (see env.py).
_UPGRADE_LOCK = threading.Lock()


def alembic_config(engine: Engine | None = None) -> Config:
    """An alembic ``Config`` built in code (no alembic.ini), pointing at our migrations.

    With ``engine`` the migrations run on it; ``env.py`` picks it up from ``config.attributes``.
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
        config.attributes["engine"] = engine
    return config


class Store:
    """The hub store: links, mappings, cursors, snapshots, staged records, queue, journal, run locks,
    stock notices, the hub's writes on channel orders.

    Open it with :func:`open_store`. Every repository is an attribute and shares one engine.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], datetime] = utcnow,
        redact: Callable[[str], str] | None = None,
        journal_retention_days: float = 30,
        journal_retention_count: int = 100_000,
    ) -> None:
        self.db = Database(engine, clock=clock, redact=redact)
        self.links = Links(self.db)
        self.mappings = Mappings(self.db)
        self.cursors = Cursors(self.db)
        self.snapshots = Snapshots(self.db)
        self.records = Records(self.db)
        self.queue = Queue(self.db)
        self.locks = RunLocks(self.db)
        self.notices = Notices(self.db)
        self.writes = HubWrites(self.db)
        self.switches = Switches(self.db)
        self.journal = Journal(self.db, retention_days=journal_retention_days, retention_count=journal_retention_count)

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine."""
        return self.db.engine

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.db.dialect

    def upgrade(self, revision: str = "head") -> None:
        """Migrate the schema to ``revision`` (a no-op when it is already there).

        A store already at head (every open but the first after an update) is told by one query,
        without loading alembic: about 9 MB of every process that opens the store, the catalog
        pass's among them.
        """
        if revision == "head" and self._recorded_revision() == head_revision():
            return
        from alembic import command

        with _UPGRADE_LOCK:
            command.upgrade(alembic_config(self.engine), revision)

    def _recorded_revision(self) -> str | None:
        """The revision in alembic's version table (None: no table, or not one row)."""
        with self.engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        return str(rows[0]) if len(rows) == 1 else None

    def current_revision(self) -> str | None:
        """The revision the database is at, or ``None`` for an empty database."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str:
        """The newest revision the code knows (as alembic reads it)."""
        from alembic.script import ScriptDirectory

        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert head is not None, "hub/store/migrations has no revisions"
        return head

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def head_revision() -> str:
    """The newest migration, from the file names alone (``versions/NNNN_*.py``, revision ``NNNN``,
    each revising the one before; tests/hub/store/test_migrations.py checks it is alembic's head)."""
    return max(p.name.split("_", 1)[0] for p in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


def open_store(
    url: str,
    *,
    upgrade: bool = True,
    clock: Callable[[], datetime] = utcnow,
    redact: Callable[[str], str] | None = None,
    journal_retention_days: float = 30,
    journal_retention_count: int = 100_000,
    create_dir: bool = True,
) -> Store:
    """Open the store at ``url`` and, unless ``upgrade=False``, migrate it to the newest schema.

    Args:
        url: ``sqlite:///path/to/hub.db`` or ``postgresql://...`` (any PostgreSQL driver in the URL
            is replaced by psycopg 3).
        create_dir: create the SQLite file's folder when it is missing; with False a missing
            folder is a StoreError naming it.
        upgrade: run ``alembic upgrade head`` first (cheap when already at head).
        clock: returns "now" as aware UTC; tests pass a fake one.
        redact: masks secrets in free text (journal messages and data, queue errors) before it
            is written; the CLI passes the HTTP layer's ``redact``.
        journal_retention_days: journal entries older than this are pruned.
        journal_retention_count: at most this many journal entries are kept.
    """
    store = Store(
        create_store_engine(url, create_dir=create_dir),
        clock=clock,
        redact=redact,
        journal_retention_days=journal_retention_days,
        journal_retention_count=journal_retention_count,
    )
    if upgrade:
        store.upgrade()
    return store
