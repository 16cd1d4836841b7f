"""The schema comes from migrations, matches the metadata, and upgrading is repeatable."""

from __future__ import annotations

import subprocess
import sys
import threading

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from hub.store import Store, open_store
from hub.store.engine import head_revision
from hub.store.tables import metadata


def test_upgrade_on_an_empty_database_creates_every_table(store_url: str) -> None:
    empty = open_store(store_url, upgrade=False)
    try:
        assert empty.current_revision() is None
        empty.upgrade()
        assert empty.current_revision() == empty.head_revision()
        tables = set(inspect(empty.engine).get_table_names())
        assert set(metadata.tables) <= tables
        assert "alembic_version" in tables
    finally:
        empty.close()


def test_upgrade_twice_is_a_no_op(store: Store) -> None:
    store.cursors.set("shop", "orders", "42")
    store.upgrade()
    reopened = open_store(str(store.engine.url.render_as_string(hide_password=False)))
    try:
        assert reopened.current_revision() == store.head_revision()
        assert reopened.cursors.get("shop", "orders") == "42"
    finally:
        reopened.close()


def test_head_from_the_file_names_is_alembics_head(store: Store) -> None:
    assert head_revision() == store.head_revision()


def test_a_store_one_revision_behind_is_upgraded_on_open(store_url: str) -> None:
    behind = open_store(store_url, upgrade=False)
    try:
        previous = str(int(head_revision()) - 1).zfill(4)
        behind.upgrade(previous)
        assert behind.current_revision() == previous
    finally:
        behind.close()
    reopened = open_store(store_url)
    try:
        assert reopened.current_revision() == head_revision()
    finally:
        reopened.close()


def test_opening_a_store_at_head_does_not_load_alembic(store: Store) -> None:
    url = store.engine.url.render_as_string(hide_password=False)
    script = (
        "import sys; from hub.store import open_store; open_store(sys.argv[1]).close(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))"
    )
    done = subprocess.run([sys.executable, "-c", script, url], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_migrated_schema_matches_metadata(store: Store) -> None:
    with store.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diffs == []


def test_two_processes_upgrading_at_once_both_succeed(store_url: str) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def open_one() -> None:
        try:
            barrier.wait()
            open_store(store_url).close()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_no_table_has_a_column_for_credentials() -> None:
    suspicious = ("token", "password", "secret", "api_key", "credential", "login")
    columns = [f"{t.name}.{c.name}" for t in metadata.tables.values() for c in t.columns]
    assert not [c for c in columns if any(word in c.lower() for word in suspicious)]
