"""Links make re-runs idempotent: the same id always resolves to the same hub key."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import event

from hub.store import Store
from hub.store.links import NAMESPACE, hub_key_for


def test_ensure_creates_deterministic_keys_and_reruns_converge(store: Store) -> None:
    first = store.links.ensure("shop", "offers", "moysklad", ["a", "b"])
    assert first["a"] == str(uuid.uuid5(NAMESPACE, "shop/offers/moysklad/a"))
    again = store.links.ensure("shop", "offers", "moysklad", ["b", "a", "c", "a"])
    assert again["a"] == first["a"] and again["b"] == first["b"]
    assert list(again) == ["b", "a", "c"]
    assert store.links.resolve("shop", "offers", "moysklad", ["a", "b", "c", "zzz"]).keys() == {"a", "b", "c"}


def test_links_are_scoped_by_integration_kind_and_system(store: Store) -> None:
    a = store.links.ensure("shop", "offers", "moysklad", ["1"])["1"]
    assert store.links.ensure("other", "offers", "moysklad", ["1"])["1"] != a
    assert store.links.ensure("shop", "products", "moysklad", ["1"])["1"] != a
    assert store.links.resolve("shop", "offers", "retailcrm", ["1"]) == {}


def test_attach_records_the_id_another_system_gave_the_object(store: Store) -> None:
    key = store.links.ensure("shop", "orders", "retailcrm", ["crm-7"])["crm-7"]
    store.links.attach("shop", "orders", key, "moysklad", "ms-uuid-7")
    store.links.attach("shop", "orders", key, "moysklad", "ms-uuid-7")  # idempotent
    assert store.links.external_ids("shop", "orders", "moysklad", [key, "nope"]) == {key: "ms-uuid-7"}
    assert store.links.resolve("shop", "orders", "moysklad", ["ms-uuid-7"]) == {"ms-uuid-7": key}
    # ensure in the other system finds the attached link instead of minting a key
    assert store.links.ensure("shop", "orders", "moysklad", ["ms-uuid-7"]) == {"ms-uuid-7": key}


def test_attach_never_rewrites_an_existing_link(store: Store) -> None:
    store.links.attach_many("shop", "orders", "moysklad", [("k1", "x"), ("k2", "y")])
    store.links.attach("shop", "orders", "k9", "moysklad", "x")  # x already belongs to k1
    store.links.attach("shop", "orders", "k1", "moysklad", "z")  # k1 already has an id
    assert store.links.resolve("shop", "orders", "moysklad", ["x", "y", "z"]) == {"x": "k1", "y": "k2"}


@pytest.mark.parametrize("n", [100_000])
def test_ensure_links_a_full_catalog_in_bulk_statements(store: Store, n: int) -> None:
    """A catalog of 100 000 offers is linked, and re-linked, in a few hundred statements, not one per
    id (what the time depends on; the wall-clock figure belongs to a benchmark, not to a unit test)."""
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(store.db.engine, "before_cursor_execute", count)
    try:
        ids = [f"offer-{i}" for i in range(n)]
        keys = store.links.ensure("shop", "offers", "moysklad", ids)
        first = len(statements)
        rerun = store.links.ensure("shop", "offers", "moysklad", ids)
    finally:
        event.remove(store.db.engine, "before_cursor_execute", count)
    assert len(keys) == n and rerun == keys
    assert keys["offer-99"] == hub_key_for("shop", "offers", "moysklad", "offer-99")
    assert 0 < first <= n // 100, f"{first} statements to link {n} ids"
    assert 0 < len(statements) - first <= n // 100 // 2, "a re-run only reads, in chunks"
