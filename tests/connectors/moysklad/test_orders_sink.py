"""MoySklad's OrderSink and OrderStates over loopback HTTP: bulk upserts, exactly once, per-item outcomes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pandas as pd
import pytest

from connectors.moysklad.capabilities.orders import MoySkladOrders
from connectors.moysklad.client import MoySkladClient
from connectors.moysklad.convert.orders import sync_id_for
from connectors.moysklad.sandbox import API_PREFIX, MoySkladSandbox
from connectors.moysklad.sandbox.generator import seed_catalog
from connectors.sandboxing import LoopbackServer
from hub import systems
from hub.capabilities import OrderDraft, OrderSink, OrderStates
from tests.connectors.moysklad.conftest import DAY, TOKEN, run
from tests.connectors.moysklad.spec import SPEC, Recorder, SpecValidator
from tests.shared_apis import require


@pytest.fixture
def served() -> Iterator[tuple[MoySkladSandbox, str]]:
    sb = MoySkladSandbox(token=TOKEN, token_kind="app", today=DAY)
    seed_catalog(sb, 30, seed=9)
    sb.store.put("counterparty", {"name": "Покупатель"})
    with LoopbackServer(sb.app) as server:
        yield sb, server.url + API_PREFIX


def client(base: str, transport: httpx.AsyncBaseTransport | None = None) -> MoySkladClient:
    return MoySkladClient(base, token=TOKEN, token_kind="app", today=DAY, transport=transport)


def drafts(sb: MoySkladSandbox, n: int, *, qty: float = 2.0) -> list[OrderDraft]:
    org = next(iter(sb.store.of_type("organization")))
    agent = next(iter(sb.store.of_type("counterparty")))
    products = list(sb.store.of_type("product"))
    state = sb.store.states[0]["id"]
    return [
        OrderDraft(
            key=f"shop:{i}",
            order={
                "order_id": str(i),
                "number": f"{i}A",
                "external_id": str(i),
                "created_at": pd.Timestamp("2026-11-20 09:00Z"),
                "comment": "звонить",
            },
            lines=[{"offer_id": products[i % len(products)], "quantity": qty, "price": 150000, "discount": 30000}],
            line_kinds={},
            customer_id=agent,
            organization_id=org,
            state_id=state,
            reserve=True,
        )
        for i in range(n)
    ]


def posts(sb: MoySkladSandbox) -> int:
    return sb.log.count(path_prefix="/entity/customerorder", method="POST")


def test_a_thousand_orders_in_ten_requests_and_again_without_a_duplicate(served: tuple[MoySkladSandbox, str]) -> None:
    sb, base = served
    batch = drafts(sb, 1000)

    async def go() -> tuple[list[Any], list[Any]]:
        async with client(base) as ms:
            sink = MoySkladOrders(ms)
            return await sink.upsert_orders(batch), await sink.upsert_orders(batch)

    first, again = run(go())
    assert posts(sb) == 20  # 10 a run: 100 orders a bulk POST, nothing sent twice
    assert all(o.erp_id and o.error is None for o in first) and [o.key for o in first] == [d.key for d in batch]
    assert [o.erp_id for o in again] == [o.erp_id for o in first]
    orders = sb.store.of_type("customerorder")
    assert len(orders) == 1000
    one = orders[first[7].erp_id or ""]
    assert (one["externalCode"], one["syncId"], one["name"]) == ("7", sync_id_for("shop:7"), "7A")
    assert one["moment"] == "2026-11-20 12:00:00" and one["description"] == "звонить"
    pos = one["_positions"][0]
    assert (pos["quantity"], pos["price"], pos["discount"], pos["reserve"]) == (2.0, 150000.0, 10.0, 2.0)


def test_refused_items_do_not_fail_the_rest(served: tuple[MoySkladSandbox, str]) -> None:
    sb, base = served
    batch = drafts(sb, 3)
    batch[1] = replace(batch[1], lines=[{**batch[1].lines[0], "offer_id": "00000000-0000-4000-8000-000000000000"}])
    batch[2] = replace(batch[2], order={**batch[2].order, "created_at": pd.Timestamp("2026-11-20 09:00")})  # naive

    async def go() -> list[Any]:
        async with client(base) as ms:
            return await MoySkladOrders(ms).upsert_orders(batch)

    outcomes = run(go())
    assert outcomes[0].erp_id and outcomes[0].error is None
    assert outcomes[1].erp_id is None and outcomes[1].error is not None and "[1021]" in outcomes[1].error
    assert not outcomes[1].retryable
    assert outcomes[2].error is not None and "timezone" in outcomes[2].error
    assert len(sb.store.of_type("customerorder")) == 1 and posts(sb) == 1


def test_updates_by_link_lost_link_and_a_deleted_order(served: tuple[MoySkladSandbox, str]) -> None:
    require(SPEC)
    sb, base = served
    batch = drafts(sb, 3)
    recorder = Recorder(httpx.AsyncHTTPTransport())

    async def go() -> tuple[list[Any], list[Any]]:
        async with client(base, recorder) as ms:
            sink = MoySkladOrders(ms)
            made = await sink.upsert_orders(batch)
            sb.writer.delete("customerorder", made[2].erp_id or "")
            edited = [
                replace(batch[0], erp_id=made[0].erp_id, lines=[{**batch[0].lines[0], "quantity": 5.0}]),
                replace(batch[1], lines=[{**batch[1].lines[0], "quantity": 7.0}]),  # the link was lost
                replace(batch[2], erp_id=made[2].erp_id),
            ]  # linked, but deleted in MoySklad
            return made, await sink.upsert_orders(edited)

    made, edited = run(go())
    orders = sb.store.of_type("customerorder")
    assert [o.erp_id for o in edited[:2]] == [o.erp_id for o in made[:2]]
    assert edited[2].erp_id not in (None, made[2].erp_id)
    assert [orders[o.erp_id or ""]["_positions"][0]["quantity"] for o in edited] == [5.0, 7.0, 2.0]
    assert len(orders) == 3 and posts(sb) == 3  # the create, then one bulk POST, then one for what it missed
    second = [e for e in recorder.exchanges if e.method == "POST"][1]
    assert "syncId" not in second.request_body[0] and second.request_body[0]["meta"]["href"].endswith(made[0].erp_id)
    spec = SpecValidator()
    problems = [p for e in recorder.exchanges for p in spec.check(e) or []]
    assert problems == []


def test_find_orders_by_external_code_and_changed_states(served: tuple[MoySkladSandbox, str]) -> None:
    sb, base = served
    since = datetime.now(UTC) - timedelta(seconds=5)

    async def go() -> tuple[dict[str, str], pd.DataFrame]:
        async with client(base) as ms:
            sink = MoySkladOrders(ms)
            made = await sink.upsert_orders(drafts(sb, 150))
            shipped = next(s for s in sb.store.states if s["name"] == "Отгружен")
            await ms.update_order_state(made[3].erp_id or "", shipped["id"])
            before = sb.log.count(path_prefix="/entity/customerorder", method="GET")
            found = await sink.find_orders([str(i) for i in range(0, 150, 2)] + ["nope"])
            assert sb.log.count(path_prefix="/entity/customerorder", method="GET") == before + 1
            return found, await sink.changed_states(since)

    found, states = run(go())
    orders = sb.store.of_type("customerorder")
    assert set(found) == {str(i) for i in range(0, 150, 2)}
    assert all(orders[v]["externalCode"] == k for k, v in found.items())
    assert list(states.columns) == ["erp_id", "external_id", "state", "updated_at"] and len(states) == 150
    by_code = states.set_index("external_id")
    assert by_code.loc["3", "state"] == "Отгружен" and by_code.loc["4", "state"] == "Новый"
    assert str(states["updated_at"].dtype) == "datetime64[ns, UTC]"
    assert (states["updated_at"] >= since - timedelta(seconds=1)).all()


def test_moysklad_declares_the_order_capabilities() -> None:
    found = systems.connector("moysklad")
    assert found.can(OrderSink) and found.can(OrderStates)
    assert "orders" in found.streams("writes") and "statuses" in found.streams("reads")
    assert isinstance(MoySkladOrders(None), OrderSink) and isinstance(MoySkladOrders(None), OrderStates)
