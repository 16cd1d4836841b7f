"""Alembic environment for the hub store.

:func:`hub.store.engine.alembic_config` passes the store's engine in ``config.attributes``;
the ``alembic`` command line (for writing new revisions) uses ``sqlalchemy.url`` instead.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, text

from hub.store.db import IMMEDIATE, create_store_engine
from hub.store.tables import metadata

#: advisory lock id for migrations ("skladbri" as bytes); any constant unique to this app works
LOCK_KEY = 0x736B6C6164627269

config = context.config
target_metadata = metadata


def run_migrations_online() -> None:
    """Run the migrations on a live connection, in one transaction."""
    engine: Engine | None = config.attributes.get("engine")
    owned = engine is None
    if engine is None:
        engine = create_store_engine(config.get_main_option("sqlalchemy.url") or "", pool=False)
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                # Take the write lock at BEGIN, so two processes upgrading at once queue up.
                connection = connection.execution_options(**{IMMEDIATE: True})
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                # SQLite cannot ALTER most things; batch mode rebuilds tables instead.
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
            )
            with context.begin_transaction():
                if connection.dialect.name == "postgresql":
                    # Serialise concurrent upgrades (several workers starting at once): the
                    # second one waits here, then finds the database at head and does nothing.
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
                context.run_migrations()
    finally:
        if owned:
            engine.dispose()


def run_migrations_offline() -> None:
    """Emit the SQL instead of running it (``alembic upgrade head --sql``)."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
