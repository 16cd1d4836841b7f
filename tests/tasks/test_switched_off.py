"""A run of an integration switched off in the console does nothing, whatever started it: a skippable
exchange ends with a skipped result saying who switched it off, the full import fails saying so, and
nothing is asked of the systems (their addresses here answer nothing). Switched on again, it runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.full_import import full_import
from flows.stock_sync import stock_sync
from hub.config import load_config
from hub.exchanges import skipped_reason
from hub.store import open_store
from hub.switches import SwitchedOff

pytestmark = pytest.mark.usefixtures("prefect_backend")

CONFIG = """
database_url: sqlite:///{db}
integrations:
  shop:
    systems:
      ms: {{system: moysklad, base_url: "http://127.0.0.1:9/api/remap/1.2", token: "${{SWITCH_TEST_MS_TOKEN}}"}}
      crm: {{system: retailcrm, base_url: "http://127.0.0.1:9", api_key: "${{SWITCH_TEST_CRM_KEY}}"}}
    flows:
      catalog: {{from: ms, to: crm}}
      stock: {{from: ms, to: crm}}
      prices: {{from: ms, to: crm}}
    options:
      feed: {{dir: "{feeds}"}}
"""


def test_runs_of_a_switched_off_integration_skip_or_fail_saying_who_switched_it_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWITCH_TEST_MS_TOKEN", "ms-token")
    monkeypatch.setenv("SWITCH_TEST_CRM_KEY", "crm-key")
    path = tmp_path / "skladbridge.yaml"
    path.write_text(CONFIG.format(db=tmp_path / "hub.db", feeds=tmp_path / "feeds"), encoding="utf-8")
    store = open_store(load_config(path).effective_database_url())
    try:
        store.switches.set("shop", False, by="anna")
        result = stock_sync("shop", config_path=str(path), trigger="webhook")
        why = skipped_reason(result)
        assert why is not None and why.startswith("shop is switched off in the console (by anna"), result
        with pytest.raises(SwitchedOff, match="switched off in the console"):
            full_import("shop", config_path=str(path))
        events = [e.event for e in store.journal.list(integration="shop", limit=10)]
        assert "stock-sync.skipped" in events and "full-import.switched-off" in events
        assert "full-import.failed" in events

        store.switches.set("shop", True, by="anna")  # on again: the run goes to the systems (none answers)
        with pytest.raises(Exception) as failed:
            stock_sync("shop", config_path=str(path))
        assert not isinstance(failed.value, SwitchedOff)
    finally:
        store.close()
