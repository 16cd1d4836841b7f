"""Counterparties, customer orders and the documents around them, through the client, on the sandbox."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.http import TransientError
from connectors.moysklad.client import MoySkladClient
from connectors.moysklad.convert.orders import sync_id_for
from connectors.moysklad.sandbox import API_PREFIX, MoySkladSandbox
from connectors.sandboxing import LoopbackServer
from tests.connectors.moysklad.conftest import BASE, DAY, TOKEN, run

Json = dict[str, Any]


def _ids(sandbox: MoySkladSandbox) -> tuple[str, list[str], list[str]]:
    org = next(iter(sandbox.store.of_type("organization")))
    stores = list(sandbox.store.of_type("store"))
    stocked = [k[0] for k, v in sandbox.ledger.totals.items() if k[1] == stores[0] and v["stock"] >= 5]
    products = [a for a in stocked if sandbox.store.get("product", a)][:2]
    return org, stores, products


def _order(ms: MoySkladClient, org: str, agent: str, store: str, product: str, key: str, qty: float = 3) -> Json:
    return {
        "syncId": sync_id_for(key),
        "externalCode": key,
        "organization": ms.ref(f"entity/organization/{org}", "organization"),
        "agent": ms.ref(f"entity/counterparty/{agent}", "counterparty"),
        "store": ms.ref(f"entity/store/{store}", "store"),
        "positions": [
            {
                "quantity": qty,
                "price": 15000.0,
                "reserve": qty,
                "assortment": ms.ref(f"entity/product/{product}", "product"),
            }
        ],
    }


def test_counterparty_create_with_accounts_and_contact_then_find(
    sandbox: MoySkladSandbox, make_client: Callable[..., MoySkladClient]
) -> None:
    async def go() -> tuple[Json, list[Json], list[Json], list[Json], list[Json]]:
        async with make_client() as ms:
            created = await ms.create_counterparty(
                {
                    "name": "ИП Петров",
                    "companyType": "entrepreneur",
                    "inn": "771234567890",
                    "phone": "+79991112233",
                    "email": "petrov@example.ru",
                    "syncId": sync_id_for("customer:1"),
                    "accounts": [{"accountNumber": "40802810000000000001", "bic": "044525225"}],
                    "contactpersons": [{"name": "Пётр", "phone": "+79991112233"}],
                }
            )
            return (
                created,
                await ms.find_counterparty(inn="771234567890"),
                await ms.find_counterparty(email="petrov@example.ru"),
                await ms.find_counterparty(phone="+79991112233"),
                await ms.find_counterparty(phone="+7000"),
            )

    created, by_inn, by_email, by_phone, nobody = run(go())
    assert created["accounts"]["meta"]["size"] == 1 and created["contactpersons"]["meta"]["size"] == 1
    assert [r["id"] for r in by_inn] == [r["id"] for r in by_email] == [r["id"] for r in by_phone] == [created["id"]]
    assert nobody == []


def test_bulk_orders_per_item_errors_idempotent_resend_reserve_and_state(
    sandbox: MoySkladSandbox, make_client: Callable[..., MoySkladClient]
) -> None:
    org, stores, products = _ids(sandbox)

    async def go() -> tuple[Any, ...]:
        async with make_client() as ms:
            agent = (await ms.create_counterparty({"name": "Покупатель"}))["id"]
            payloads = [
                _order(ms, org, agent, stores[0], products[0], "shop:1"),
                {"externalCode": "shop:bad", "agent": ms.ref(f"entity/counterparty/{agent}", "counterparty")},
                _order(ms, org, agent, stores[0], products[1], "shop:2"),
            ]
            first = await ms.create_orders(payloads)
            again = await ms.create_orders([payloads[0], payloads[2]])
            stock = await ms.stock_current("bystore", "reserve", include_zero=False)
            states = await ms.list_states()
            done = next(s for s in states if s["stateType"] == "Successful")
            updated = await ms.update_order_state(first[0].entity["id"], done["id"])  # type: ignore[index]
            recent = [
                o
                async for page in ms.iter_orders(datetime.now(UTC) - timedelta(minutes=5), expand="positions")
                for o in page
            ]
            return first, again, stock, done, updated, recent

    first, again, stock, done, updated, recent = run(go())
    assert [r.ok for r in first] == [True, False, True]
    assert first[1].errors[0]["code"] == 3000 and first[1].errors[0]["parameter"] == "organization"
    assert [r.entity["id"] for r in again] == [first[0].entity["id"], first[2].entity["id"]]  # type: ignore[index]
    assert len(sandbox.store.of_type("customerorder")) == 2
    reserved = {(r["assortmentId"], r["storeId"]): r["reserve"] for r in stock}
    assert reserved[(products[0], stores[0])] == 3
    assert updated["state"]["meta"]["href"].endswith(done["id"])
    assert {o["id"] for o in recent} == {first[0].entity["id"], first[2].entity["id"]}  # type: ignore[index]
    assert all(len(o["positions"]["rows"]) == 1 for o in recent)


def test_demand_move_payment_cashin_and_return_move_stock_and_money(
    sandbox: MoySkladSandbox, make_client: Callable[..., MoySkladClient]
) -> None:
    org, stores, products = _ids(sandbox)
    product = products[0]
    before = {k: dict(v) for k, v in sandbox.ledger.totals.items() if k[0] == product}

    async def go() -> tuple[Json, Json, Json]:
        async with make_client() as ms:
            agent = (await ms.create_counterparty({"name": "Покупатель"}))["id"]
            order = await ms.create_order(_order(ms, org, agent, stores[0], product, "shop:9", qty=2))
            base = {"organization": order["organization"], "agent": order["agent"]}
            line = {"quantity": 1, "price": 15000.0, "assortment": ms.ref(f"entity/product/{product}", "product")}
            link = [{"meta": order["meta"], "linkedSum": 10000.0}]
            demand = await ms.create_demand(
                {
                    **base,
                    "store": order["store"],
                    "customerOrder": {"meta": order["meta"]},
                    "positions": [{**line, "quantity": 2}],
                }
            )
            await ms.create_move(
                {
                    "organization": order["organization"],
                    "sourceStore": order["store"],
                    "targetStore": ms.ref(f"entity/store/{stores[1]}", "store"),
                    "positions": [line],
                }
            )
            await ms.create_paymentin({**base, "sum": 20000.0, "operations": [{**link[0], "linkedSum": 20000.0}]})
            await ms.create_cashin({**base, "sum": 10000.0, "operations": link})
            ret = await ms.create_salesreturn(
                {**base, "store": order["store"], "demand": {"meta": demand["meta"]}, "positions": [line]}
            )
            return await ms.get_order(order["id"]), demand, ret

    order, demand, ret = run(go())
    assert order["payedSum"] == 30000.0 and order["shippedSum"] == demand["sum"] == 30000.0
    assert order["positions"]["rows"][0]["shipped"] == 2
    after = sandbox.ledger.totals
    s0, s1 = (product, stores[0]), (product, stores[1])
    assert after[s0]["stock"] == before[s0]["stock"] - 2 - 1 + 1  # shipped, moved out, returned
    assert after[s1]["stock"] == before.get(s1, {"stock": 0.0})["stock"] + 1
    assert after[s0]["reserve"] == before[s0]["reserve"]  # the shipment released the order's reserve
    assert ret["demand"]["meta"]["href"].endswith(demand["id"])


def test_lost_response_after_commit_does_not_duplicate_an_order(sandbox: MoySkladSandbox) -> None:
    """Over a real socket: the write commits, the connection drops, the syncId retry finds it."""
    org, stores, products = _ids(sandbox)
    sandbox.faults.drop_after_write = 1

    async def go(url: str) -> Json:
        async with MoySkladClient(url, token=TOKEN, token_kind="app", today=DAY) as ms:
            agent = (await ms.create_counterparty({"name": "Покупатель"}))["id"]
            sandbox.faults.drop_after_write = 1
            return await ms.create_order(_order(ms, org, agent, stores[0], products[0], "shop:lost"))

    sandbox.faults.drop_after_write = 0
    with LoopbackServer(sandbox.app) as server:
        order = run(go(server.url + API_PREFIX))
    assert len(sandbox.store.of_type("customerorder")) == 1
    assert order["externalCode"] == "shop:lost"
    assert sandbox.log.count(path_prefix="/entity/customerorder", method="POST") == 2


def test_a_post_without_sync_id_is_not_repeated_after_a_lost_response(sandbox: MoySkladSandbox) -> None:
    sandbox.faults.drop_after_write = 1

    async def go(url: str) -> None:
        async with MoySkladClient(url, token=TOKEN, token_kind="app", today=DAY) as ms:
            await ms.create_counterparty({"name": "Без ключа"})

    with LoopbackServer(sandbox.app) as server, pytest.raises(TransientError):
        run(go(server.url + API_PREFIX))
    assert len(sandbox.store.of_type("counterparty")) == 1


def test_hrefs_accept_the_base_url_of_the_client(sandbox: MoySkladSandbox) -> None:
    assert BASE.endswith(API_PREFIX)
    assert asyncio.iscoroutinefunction(MoySkladClient.create_order)
