"""keyCRM's StockSink on its own: one request per warehouse, ≤ 10 000 items, unknown SKUs reported,
202 writes read back (per warehouse, or totals only as a live account answered), the reserve rule."""

from __future__ import annotations

import asyncio
from typing import Any

import pandas as pd
import pytest

from connectors.http import TransientError
from connectors.keycrm.capabilities.stock import KeyCRMStock, confirm_delays
from connectors.keycrm.convert.stock import stock_entries, webhook_levels
from connectors.keycrm.sandbox import KeyCRMSandbox
from connectors.keycrm.settings import KeyCRMSettings
from hub.capabilities import OfferKeyed, OwnReserves, StockSink
from hub.model import frame
from tests.connectors.keycrm.conftest import client_of

SETTINGS = KeyCRMSettings(system="keycrm", api_key="${KC_KEY}", warehouses={"main": 1, "kyiv": 2}, confirm_seconds=2)


def stock(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return frame("stock", [{"offer_id": o, "store_id": s, "available": q, "stock_type": "stock"} for o, s, q in rows])


def send(sandbox: KeyCRMSandbox, entries: list[dict[str, Any]], settings: KeyCRMSettings = SETTINGS) -> Any:
    async def go() -> Any:
        async with client_of(sandbox) as client:
            return await KeyCRMStock(client, settings).send(entries)

    return asyncio.run(go())


def level(sandbox: KeyCRMSandbox, sku: str, wid: int) -> float:
    offer = sandbox.state.offer_by_sku(sku)
    assert offer is not None
    return sandbox.state.stock.get((offer["id"], wid), [0.0, 0.0])[0]


def test_it_declares_the_stock_capabilities() -> None:
    sink = KeyCRMStock(None, SETTINGS)
    assert isinstance(sink, StockSink) and isinstance(sink, OfferKeyed) and isinstance(sink, OwnReserves)
    assert sink.max_batch == 10_000 and sink.subtracts_own_reserves


def test_entries_name_offers_by_sku_with_every_mapped_warehouse_floored() -> None:
    entries = stock_entries(
        stock([("ms-1", "main", 2.7), ("ms-1", "kyiv", 0.0), ("ms-2", "main", 1.0), ("ms-3", "main", 4.0)]),
        {"ms-1": "A-1", "ms-2": "A-2"},  # ms-3 has no SKU: keyCRM cannot be told which offer it is
        SETTINGS.warehouses,
    )
    assert entries == [
        {"offer": "ms-1", "sku": "A-1", "warehouses": {"1": 2, "2": 0}},
        {"offer": "ms-2", "sku": "A-2", "warehouses": {"1": 1}},
    ]


def test_a_batch_is_one_request_per_warehouse_and_confirmed(sandbox: KeyCRMSandbox) -> None:
    entries = [{"offer": f"ms-{n}", "sku": f"KC-{n:06d}", "warehouses": {"1": n, "2": 10 + n}} for n in range(1, 41)]
    delivered = send(sandbox, entries)
    assert delivered.processed == 40 and not delivered.not_found
    assert sandbox.log.count(path_prefix="/offers/stocks", method="PUT") == 2
    assert level(sandbox, "KC-000007", 1) == 7 and level(sandbox, "KC-000007", 2) == 17


def test_unknown_skus_come_back_as_not_found_and_the_rest_is_written(sandbox: KeyCRMSandbox) -> None:
    entries = [
        {"offer": "ms-1", "sku": "KC-000001", "warehouses": {"1": 5}},
        {"offer": "ms-x", "sku": "NO-SUCH", "warehouses": {"1": 9}},
    ]
    delivered = send(sandbox, entries)
    assert delivered.not_found == frozenset({"ms-x"}) and delivered.processed == 1
    assert level(sandbox, "KC-000001", 1) == 5


def test_totals_only_read_backs_confirm_a_single_warehouse(sandbox: KeyCRMSandbox) -> None:
    sandbox.state.totals_only = True  # GET /offers/stocks ignores filter[details] (C.7)
    one = KeyCRMSettings(system="keycrm", api_key="${KC_KEY}", warehouses={"main": 1}, confirm_seconds=2)
    for (offer_id, wid), _ in list(sandbox.state.stock.items()):
        if wid != 1:
            del sandbox.state.stock[(offer_id, wid)]
    delivered = send(sandbox, [{"offer": "ms-1", "sku": "KC-000001", "warehouses": {"1": 12}}], one)
    assert delivered.processed == 1 and level(sandbox, "KC-000001", 1) == 12


def test_a_write_not_applied_in_time_is_a_retryable_failure(sandbox: KeyCRMSandbox) -> None:
    sandbox.state.apply_delay = 3600
    with pytest.raises(TransientError, match="not applied") as failed:
        send(sandbox, [{"offer": "ms-1", "sku": "KC-000001", "warehouses": {"1": 12}}])
    assert failed.value.retryable
    assert confirm_delays(2) == [0.5, 1.0, 0.5] and confirm_delays(0) == []


def test_the_stock_webhook_array_reads_as_levels() -> None:
    assert webhook_levels([{"offer_id": 130827, "sku": "a001-56", "in_stock": 16, "in_reserve": 3}]) == {
        "a001-56": (16.0, 3.0)
    }
    with pytest.raises(ValueError):
        webhook_levels({"sku": "a"})


def test_the_reserve_rule_refuses_free_stock_for_a_channel_that_subtracts_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hub.config import ConfigError, parse_config
    from tasks.stock.cycle import plan_stock_run

    monkeypatch.setenv("MS_TOKEN", "t")
    monkeypatch.setenv("KC_KEY", "k")

    def config(measure: str) -> Any:
        return parse_config(
            {
                "integrations": {
                    "kc": {
                        "systems": {
                            "ms": {"system": "moysklad", "base_url": "http://ms.test", "token": "${MS_TOKEN}"},
                            "kc": {"system": "keycrm", "api_key": "${KC_KEY}", "warehouses": {"main": 1}},
                        },
                        "flows": {"stock": {"from": "ms", "to": "kc"}},
                        "options": {"stock": {"measure": measure}},
                    }
                }
            }
        )

    with pytest.raises(ConfigError, match="measure: stock"):
        plan_stock_run(config("freeStock"), "kc", None)  # type: ignore[arg-type]
    assert plan_stock_run(config("stock"), "kc", None).target == "kc"  # type: ignore[arg-type]
