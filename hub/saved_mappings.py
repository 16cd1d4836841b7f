"""Mappings saved in the console win over the config file's, per key.

The file stays the reviewed, versioned source of an integration's mappings; a manager who maps a
value in the console (an ``undefined`` status, a new store) saves it to the hub store, and from then
on that key's saved value is used, with the file's value shown beside it in the console. Keys the
console never saved keep the file's value. Every exchange reads its mappings through the config its
run loaded, so the overlay is applied once, where a run opens its store (``tasks/exchange.py``).
"""

from __future__ import annotations

from collections.abc import Mapping

from hub.config import Config, ConfigError, Integration
from hub.options import check_order_mappings
from hub.store import Store


def merged(
    file: Mapping[str, Mapping[str, str | None]], saved: Mapping[str, Mapping[str, str | None]]
) -> dict[str, dict[str, str | None]]:
    """``kind -> source -> target``: the file's values with the saved ones over them, key by key."""
    out = {kind: dict(values) for kind, values in file.items()}
    for kind, values in saved.items():
        out.setdefault(kind, {}).update(values)
    return out


def with_saved_mappings(config: Config, store: Store) -> Config:
    """``config`` with each integration's saved mappings over the file's.

    Raises:
        ConfigError: the result breaks a rule the file is held to (two statuses on one state).
    """
    changed: dict[str, Integration] = {}
    for name, integ in config.integrations.items():
        saved = store.mappings.saved(name)
        if not saved:
            continue
        mappings = merged(integ.mappings, saved)
        problems = check_order_mappings(mappings)
        if problems:
            raise ConfigError(
                str(config.source),
                [(f"integrations.{name}.mappings", f"{p} (with the values saved in the console)") for p in problems],
            )
        changed[name] = integ.model_copy(update={"mappings": mappings})
    if not changed:
        return config
    return config.model_copy(update={"integrations": {**config.integrations, **changed}})
