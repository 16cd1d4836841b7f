"""Mappings saved in the console: they win over the file per key, a saved null is "left out", values
met unmapped stay listed with the exchange that met them, and dropping a saved value restores the file's."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import ConfigError, parse_config
from hub.saved_mappings import merged, with_saved_mappings
from hub.store import Store


def test_saved_values_are_kept_apart_from_values_only_met(store: Store) -> None:
    store.mappings.mark_unknown("shop", "statuses", ["assembling", "prepayed"], met_in="order-upload")
    store.mappings.mark_unknown("shop", "statuses", ["Возврат"], met_in="order-status-sync")
    store.mappings.save("shop", "statuses", "assembling", "Подтвержден", by="anna")
    store.mappings.save("shop", "statuses", "prepayed", None, by="anna")  # left out on purpose
    assert store.mappings.saved("shop") == {"statuses": {"assembling": "Подтвержден", "prepayed": None}}
    assert store.mappings.saved("other") == {}
    unknown = store.mappings.unknown_values("shop")
    assert [(u.source, u.met_in) for u in unknown] == [("Возврат", "order-status-sync")]
    assert store.mappings.unknown("shop", "statuses") == ["Возврат"]
    store.mappings.mark_unknown("shop", "statuses", ["assembling"], met_in="order-upload")  # met again
    assert store.mappings.saved("shop")["statuses"]["assembling"] == "Подтвержден"  # never unmapped

    assert store.mappings.forget_saved("shop", "statuses", "assembling")
    assert [u.source for u in store.mappings.unknown_values("shop")] == ["assembling", "Возврат"]  # met: listed again
    store.mappings.save("shop", "stores", "Склад 9", "spb", by="anna")
    assert store.mappings.forget_saved("shop", "stores", "Склад 9")
    assert "stores" not in store.mappings.saved("shop") and not store.mappings.forget_saved("shop", "stores", "Склад 9")
    assert all(u.kind != "stores" for u in store.mappings.unknown_values("shop"))  # never met: gone


def test_the_saved_value_wins_per_key_and_the_rules_still_hold(store: Store, tmp_path: Path) -> None:
    assert merged({"statuses": {"new": "Новый", "complete": "Отгружен"}}, {"statuses": {"new": "Принят"}}) == {
        "statuses": {"new": "Принят", "complete": "Отгружен"}
    }
    raw = {
        "integrations": {
            "shop": {
                "systems": {
                    "crm": {"system": "retailcrm", "base_url": "http://127.0.0.1:9", "api_key": "${K}", "site": "s"}
                },
                "mappings": {"statuses": {"new": "Новый", "complete": "Отгружен"}},
            }
        }
    }
    config = parse_config(raw, source=tmp_path / "c.yaml", require_secrets=False)
    assert with_saved_mappings(config, store) is config  # nothing saved: the file as it is
    store.mappings.save("shop", "statuses", "new", "Принят", by="anna")
    store.mappings.save("shop", "delivery_types", "courier", None, by="anna")
    effective = with_saved_mappings(config, store).integrations["shop"].mappings
    assert effective == {"statuses": {"new": "Принят", "complete": "Отгружен"}, "delivery_types": {"courier": None}}
    store.mappings.save("shop", "statuses", "assembling", "Отгружен", by="anna")  # breaks 1:1 with the file
    with pytest.raises(ConfigError, match="1:1"):
        with_saved_mappings(config, store)
