"""Cursors remember where each stream read up to; mappings translate values, unknowns surface."""

from __future__ import annotations

from hub.store import Store


def test_cursor_is_none_until_set_then_overwritten(store: Store) -> None:
    assert store.cursors.get("shop", "orders_history") is None
    store.cursors.set("shop", "orders_history", "100")
    store.cursors.set("shop", "orders_history", "250")
    store.cursors.set("other", "stock", "2026-01-01T00:00:00Z")
    assert store.cursors.get("shop", "orders_history") == "250"
    assert store.cursors.all("shop") == {"orders_history": "250"}
    assert store.cursors.all() == {("shop", "orders_history"): "250", ("other", "stock"): "2026-01-01T00:00:00Z"}


def test_unknown_values_surface_until_mapped(store: Store) -> None:
    store.mappings.set("shop", "statuses", "new", "Новый")
    store.mappings.mark_unknown("shop", "statuses", ["new", "assembling", "assembling", "sent"])
    assert store.mappings.get("shop", "statuses") == {"new": "Новый"}  # marking never unmaps
    assert store.mappings.unknown("shop", "statuses") == ["assembling", "sent"]
    store.mappings.set("shop", "statuses", "sent", "Отгружен")
    assert store.mappings.unknown("shop", "statuses") == ["assembling"]
    store.mappings.set("shop", "statuses", "sent", None)
    assert store.mappings.unknown("shop", "statuses") == ["assembling", "sent"]


def test_replace_makes_the_mapping_exactly_the_given_one(store: Store) -> None:
    store.mappings.replace("shop", "stores", {"crm-main": "ms-1", "crm-old": "ms-2"})
    store.mappings.mark_unknown("shop", "stores", ["crm-pop-up"])
    store.mappings.replace("shop", "stores", {"crm-main": "ms-3"})
    assert store.mappings.get("shop", "stores") == {"crm-main": "ms-3"}
    assert store.mappings.unknown("shop", "stores") == ["crm-pop-up"]
    assert store.mappings.get("other", "stores") == {}
