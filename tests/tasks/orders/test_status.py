"""Statuses back on a staged SQLite hub, through made-up capabilities: states mapped back by the inverse
of mappings.statuses, set only where the channel's status differs (no echo of the upload's own state),
undefined states journaled once and applied as soon as they are mapped."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from hub import model
from hub.config import parse_config
from hub.store import QueueStatus, Store, open_store
from tasks.mapping_check import MappingError
from tasks.orders.stage import ORDERS
from tasks.orders.status import STATUSES, StatusRun, plan_status_run, sync_states

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def run_of(tmp_path: Path, store: Store, statuses: Mapping[str, str] | None = None) -> StatusRun:
    config = parse_config(
        {
            "integrations": {
                "shop": {
                    "systems": {
                        "ms": {"system": "moysklad", "token": "${SHOP_MS_TOKEN}"},
                        "crm": {
                            "system": "retailcrm",
                            "base_url": "https://x.retailcrm.ru",
                            "api_key": "${SHOP_CRM_KEY}",
                        },
                    },
                    "flows": {"orders": {"from": "crm", "to": "ms"}, "statuses": {"from": "ms", "to": "crm"}},
                    "mappings": {
                        "statuses": dict(
                            statuses or {"new": "Новый", "assembling": "Подтвержден", "complete": "Отгружен"}
                        )
                    },
                }
            }
        },
        source=tmp_path / "skladbridge.yaml",
        require_secrets=False,
    )
    return plan_status_run(config, "shop", store)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:///{tmp_path / 'hub.db'}") as opened:
        opened.records.upsert_frame(
            "shop",
            ORDERS,
            "retailcrm",
            model.frame("orders", [{"order_id": str(i), "status": "new"} for i in (1, 2, 3)]),
            "order_id",
        )
        yield opened


class Erp:  # OrderStates
    def __init__(self) -> None:
        self.states: dict[str, tuple[str, str]] = {}  # erp id -> (channel order id, state)
        self.reads: list[datetime] = []

    async def changed_states(self, since: datetime) -> pd.DataFrame:
        self.reads.append(since)
        return pd.DataFrame(
            [{"erp_id": e, "external_id": oid, "state": st, "updated_at": T0} for e, (oid, st) in self.states.items()],
            columns=["erp_id", "external_id", "state", "updated_at"],
        )


class Channel:  # StatusSink
    def __init__(self) -> None:
        self.calls: list[dict[str, str]] = []

    async def statuses(self) -> Sequence[str]:
        return ["new", "assembling", "complete"]

    async def set_statuses(self, statuses: Mapping[str, str]) -> dict[str, str]:
        self.calls.append(dict(statuses))
        return {oid: "order is locked" for oid in statuses if oid == "3"}


def sync(run: StatusRun, erp: Erp, channel: Channel, at: datetime = T0) -> Any:
    return asyncio.run(sync_states(run, erp, channel, now=at))


def test_states_come_back_as_statuses_only_where_the_channel_differs(tmp_path: Path, store: Store) -> None:
    run, erp, channel = run_of(tmp_path, store), Erp(), Channel()
    erp.states = {"m1": ("1", "Подтвержден"), "m2": ("2", "Новый"), "m9": ("ms-own-42", "Отгружен")}
    result = sync(run, erp, channel)
    assert erp.reads == [T0 - timedelta(seconds=300)] and store.cursors.get("shop", STATUSES) == T0.isoformat()
    assert channel.calls == [{"1": "assembling"}]  # order 2's state is the one the upload set: no echo
    assert (result.states_read, result.ours, result.sent, result.unchanged) == (3, 2, 1, 1)

    later = T0 + timedelta(minutes=1)
    again = sync(run, erp, channel, later)  # the same states inside the overlap: nothing to set
    assert erp.reads[-1] == T0 - timedelta(seconds=300) and len(channel.calls) == 1 and again.unchanged == 2

    # the channel's manager moves order 1 on; then the ERP's user moves it back: set again
    store.records.upsert_frame(
        "shop", ORDERS, "retailcrm", model.frame("orders", [{"order_id": "1", "status": "complete"}]), "order_id"
    )
    sync(run, erp, channel, later)
    assert channel.calls[-1] == {"1": "assembling"}


def test_an_undefined_state_is_journaled_once_and_applied_when_mapped(tmp_path: Path, store: Store) -> None:
    run, erp, channel = run_of(tmp_path, store), Erp(), Channel()
    erp.states = {"m2": ("2", "Собран")}
    first = sync(run, erp, channel)
    sync(run, erp, channel)
    assert first.undefined == {"2": "Собран"} and channel.calls == []
    warnings = [e for e in store.journal.list(integration="shop") if e.event == "statuses.undefined"]
    assert len(warnings) == 1 and "`Собран` has no mapping — add it to mappings.statuses" in warnings[0].message
    assert store.mappings.unknown("shop", STATUSES) == ["Собран"]
    # the order's queue item says `undefined` and what to do (what `skladbridge queue list` shows)
    [item] = store.queue.list(integration="shop", kind=STATUSES)
    assert item.status == QueueStatus.DEAD and item.payload["status"] == "undefined"
    assert "order 2: status `undefined`: the ERP state `Собран` has no mapping" in (item.last_error or "")

    erp.states = {}  # nothing changes in the ERP any more; someone maps the state
    mapped = run_of(tmp_path, store, {"new": "Новый", "assembling": "Собран"})
    result = sync(mapped, erp, channel, T0 + timedelta(hours=1))
    assert channel.calls == [{"2": "assembling"}] and result.undefined == {}
    assert store.queue.get(item.id).status == QueueStatus.DONE  # type: ignore[union-attr]
    assert sync(mapped, erp, channel, T0 + timedelta(hours=2)).sent == 0  # forgotten once applied


def test_a_refused_status_is_journaled_and_the_cursor_moves(tmp_path: Path, store: Store) -> None:
    run, erp, channel = run_of(tmp_path, store), Erp(), Channel()
    erp.states = {"m3": ("3", "Отгружен")}
    result = sync(run, erp, channel)
    assert result.refused == {"3": "order is locked"} and result.sent == 0
    entry = next(e for e in store.journal.list(integration="shop") if e.event == "statuses.refused")
    assert "order 3: status not set: order is locked" in entry.message
    assert store.cursors.get("shop", STATUSES) == T0.isoformat()


def test_a_mapped_status_the_channel_does_not_have_stops_before_any_write(tmp_path: Path, store: Store) -> None:
    run = run_of(tmp_path, store, {"new": "Новый", "assembling": "Подтвержден", "paid": "Отгружен"})
    erp, channel = Erp(), Channel()
    erp.states = {"m1": ("1", "Подтвержден")}
    with pytest.raises(MappingError, match=r"'paid' is not a status of systems.crm; its statuses: assembling, "):
        sync(run, erp, channel)
    assert channel.calls == [] and store.cursors.get("shop", STATUSES) is None
