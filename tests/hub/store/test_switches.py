"""The console's Active switch is kept in the store and wins over the file's ``active:`` both ways;
forgetting it gives the file back."""

from __future__ import annotations

from pathlib import Path

from hub.config import Config, parse_config
from hub.store import Store
from hub.switches import why_off, with_switches


def _config(tmp_path: Path) -> Config:
    return parse_config(
        {"integrations": {"shop": {"systems": {}}, "spare": {"active": False, "systems": {}}}},
        source=tmp_path / "skladbridge.yaml",
        require_secrets=False,
    )


def test_a_switch_is_kept_per_integration_and_overwritten_in_place(store: Store) -> None:
    assert store.switches.all() == {} and store.switches.get("shop") is None
    off = store.switches.set("shop", False, by="anna")
    assert store.switches.get("shop") == off and off.at.tzinfo is not None
    store.switches.set("shop", True, by="boris")
    store.switches.set("spare", True, by="anna")
    assert {n: (s.active, s.by) for n, s in store.switches.all().items()} == {
        "shop": (True, "boris"),
        "spare": (True, "anna"),
    }
    assert store.switches.forget("shop") and not store.switches.forget("shop")
    assert set(store.switches.all()) == {"spare"}


def test_the_switch_wins_over_the_file_both_ways_and_says_who(store: Store, tmp_path: Path) -> None:
    config = _config(tmp_path)
    assert with_switches(config, store) is config  # nothing switched: the file as it is
    store.switches.set("shop", False, by="anna")
    store.switches.set("spare", True, by="boris")
    switched = with_switches(config, store)
    assert not switched.integrations["shop"].active and switched.integrations["spare"].active
    assert config.integrations["shop"].active  # the file's config is left alone
    why = why_off("shop", True, store.switches.get("shop"))
    assert why.startswith("shop is switched off in the console (by anna, ") and "switched on there" in why
    assert "active: false in the config" in why_off("spare", False, None)
