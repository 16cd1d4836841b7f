"""The sandbox keeps an order's documents with MoySklad's rules, through the client: posting decides
whether a shipment releases the reserve and takes stock, and whether a move moves it; deleting gives
it back; returns are listed on their shipment; posted payments make ``payedSum``; positions answer
``fields=stock`` with their cost price; the organization lists its settlement accounts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connectors.moysklad.client import MoySkladClient
from connectors.moysklad.convert.orders import sync_id_for
from connectors.moysklad.sandbox import MoySkladSandbox
from tests.connectors.moysklad.conftest import run

Json = dict[str, Any]


def _setup(sandbox: MoySkladSandbox) -> tuple[str, list[str], str]:
    org = next(iter(sandbox.store.of_type("organization")))
    stores = list(sandbox.store.of_type("store"))
    product = next(
        k[0]
        for k, v in sandbox.ledger.totals.items()
        if k[1] == stores[0] and v["stock"] >= 10 and sandbox.store.get("product", k[0])
    )
    return org, stores, product


def _stock(ms: MoySkladClient, product: str, store: str) -> Any:
    async def one(measure: str) -> float:
        rows = await ms.stock_current("bystore", measure, include_zero=True)
        return next((r[measure] for r in rows if (r["assortmentId"], r["storeId"]) == (product, store)), 0)

    return one


def test_a_shipment_releases_the_reserve_and_takes_stock_only_while_posted(
    sandbox: MoySkladSandbox, make_client: Callable[..., MoySkladClient]
) -> None:
    org, stores, product = _setup(sandbox)

    async def go() -> list[tuple[float, float, float]]:
        seen = []
        async with make_client() as ms:
            measure = _stock(ms, product, stores[0])

            async def look(order_id: str) -> tuple[float, float, float]:
                order = await ms.get_order(order_id)
                return (await measure("stock"), await measure("reserve"), order["positions"]["rows"][0]["shipped"])

            agent = (await ms.create_counterparty({"name": "Покупатель"}))["id"]
            line = {"quantity": 3, "price": 10000.0, "assortment": ms.ref(f"entity/product/{product}", "product")}
            order = await ms.create_order(
                {
                    "organization": ms.ref(f"entity/organization/{org}", "organization"),
                    "agent": ms.ref(f"entity/counterparty/{agent}", "counterparty"),
                    "store": ms.ref(f"entity/store/{stores[0]}", "store"),
                    "positions": [{**line, "reserve": 3}],
                }
            )
            seen.append(await look(order["id"]))
            draft = await ms.create_demand(
                {
                    "organization": order["organization"],
                    "agent": order["agent"],
                    "store": order["store"],
                    "customerOrder": {"meta": order["meta"]},
                    "applicable": False,
                    "syncId": sync_id_for("shop:1:shipment"),
                    "positions": [line],
                }
            )
            seen.append(await look(order["id"]))  # unposted: nothing moves
            await ms._put(f"/entity/demand/{draft['id']}", {"applicable": True})
            seen.append(await look(order["id"]))  # posted: reserve released, stock taken
            again = await ms.create_demand({**draft, "syncId": sync_id_for("shop:1:shipment")})
            assert again["id"] == draft["id"]  # the syncId answers the shipment made first
            order_now = await ms.get_order(order["id"])
            assert [d["meta"]["href"].rsplit("/", 1)[1] for d in order_now["demands"]] == [draft["id"]]
            assert order_now["shippedSum"] == 30000.0
            await ms.request("DELETE", f"/entity/demand/{draft['id']}")
            seen.append(await look(order["id"]))  # deleted: all back
        return seen

    created, unposted, posted, deleted = run(go())
    assert unposted == created and created[1:] == (3, 0)
    assert posted == (created[0] - 3, 0, 3)
    assert deleted == created


def test_returns_are_listed_on_their_shipments_and_put_stock_back(
    sandbox: MoySkladSandbox, make_client: Callable[..., MoySkladClient]
) -> None:
    org, stores, product = _setup(sandbox)
    start = sandbox.ledger.totals[(product, stores[0])]["stock"]

    async def go() -> tuple[list[Json], Json]:
        async with make_client() as ms:
            agent = (await ms.create_counterparty({"name": "Покупатель"}))["id"]
            base = {
                "organization": ms.ref(f"entity/organization/{org}", "organization"),
                "agent": ms.ref(f"entity/counterparty/{agent}", "counterparty"),
                "store": ms.ref(f"entity/store/{stores[0]}", "store"),
            }
            line = {"quantity": 1, "price": 5000.0, "assortment": ms.ref(f"entity/product/{product}", "product")}
            order = await ms.create_order({**base, "positions": [{**line, "quantity": 2}]})
            demands = [
                await ms.create_demand({**base, "customerOrder": {"meta": order["meta"]}, "positions": [line]})
                for _ in range(2)
            ]
            for demand in demands:
                await ms.create_salesreturn({**base, "demand": {"meta": demand["meta"]}, "positions": [line]})
            shipped = [await ms.get_json(f"/entity/demand/{d['id']}") for d in demands]
            return shipped, await ms.get_order(order["id"])

    shipped, order = run(go())
    assert [len(d["returns"]) for d in shipped] == [1, 1] and len(order["demands"]) == 2
    assert sandbox.ledger.totals[(product, stores[0])]["stock"] == start  # two out, two back


def test_posted_payments_make_the_paid_sum_and_an_edit_changes_it(
    sandbox: MoySkladSandbox, make_client: Callable[..., MoySkladClient]
) -> None:
    org, _stores, product = _setup(sandbox)

    async def go() -> list[float]:
        paid = []
        async with make_client() as ms:
            agent = (await ms.create_counterparty({"name": "Покупатель"}))["id"]
            base = {
                "organization": ms.ref(f"entity/organization/{org}", "organization"),
                "agent": ms.ref(f"entity/counterparty/{agent}", "counterparty"),
            }
            line = {"quantity": 1, "price": 5000.0, "assortment": ms.ref(f"entity/product/{product}", "product")}
            order = await ms.create_order({**base, "positions": [line]})
            link = {"meta": order["meta"], "linkedSum": 5000.0}
            bank = await ms.create_paymentin({**base, "sum": 5000.0, "applicable": False, "operations": [link]})
            paid.append((await ms.get_order(order["id"]))["payedSum"])
            await ms._put(f"/entity/paymentin/{bank['id']}", {"applicable": True})
            paid.append((await ms.get_order(order["id"]))["payedSum"])
            await ms._put(
                f"/entity/paymentin/{bank['id']}", {"sum": 3000.0, "operations": [{**link, "linkedSum": 3000.0}]}
            )
            await ms.create_cashin({**base, "sum": 2000.0, "operations": [{**link, "linkedSum": 2000.0}]})
            order_now = await ms.get_order(order["id"])
            paid.append(order_now["payedSum"])
            paid.append(len(order_now["payments"]))
        return paid

    assert run(go()) == [0.0, 5000.0, 5000.0, 2]


def test_a_posted_move_moves_stock_an_unposted_one_does_not(
    sandbox: MoySkladSandbox, make_client: Callable[..., MoySkladClient]
) -> None:
    org, stores, product = _setup(sandbox)
    before = [sandbox.ledger.totals[(product, s)]["stock"] for s in stores[:2]]

    async def go() -> None:
        async with make_client() as ms:
            body = {
                "organization": ms.ref(f"entity/organization/{org}", "organization"),
                "sourceStore": ms.ref(f"entity/store/{stores[0]}", "store"),
                "targetStore": ms.ref(f"entity/store/{stores[1]}", "store"),
                "positions": [{"quantity": 2, "assortment": ms.ref(f"entity/product/{product}", "product")}],
            }
            await ms.create_move({**body, "applicable": False})
            await ms.create_move(body)

    run(go())
    after = [sandbox.ledger.totals[(product, s)]["stock"] for s in stores[:2]]
    assert after == [before[0] - 2, before[1] + 2]


def test_positions_give_their_cost_price_and_the_organization_its_accounts(
    sandbox: MoySkladSandbox, make_client: Callable[..., MoySkladClient]
) -> None:
    org, stores, product = _setup(sandbox)
    buy = sandbox.store.get("product", product)["buyPrice"]["value"]  # type: ignore[index]

    async def go() -> tuple[Json, list[Json], Json]:
        async with make_client() as ms:
            agent = (await ms.create_counterparty({"name": "Покупатель"}))["id"]
            demand = await ms.create_demand(
                {
                    "organization": ms.ref(f"entity/organization/{org}", "organization"),
                    "agent": ms.ref(f"entity/counterparty/{agent}", "counterparty"),
                    "store": ms.ref(f"entity/store/{stores[0]}", "store"),
                    "positions": [{"quantity": 1, "assortment": ms.ref(f"entity/product/{product}", "product")}],
                }
            )
            read = await ms.get_json(f"/entity/demand/{demand['id']}", {"expand": "positions", "fields": "stock"})
            accounts = await ms.collect(f"/entity/organization/{org}/accounts")
            return read, accounts, await ms.get_json(f"/entity/organization/{org}")

    demand, accounts, organization = run(go())
    stock = demand["positions"]["rows"][0]["stock"]
    assert stock["cost"] == buy and set(stock) == {"cost", "quantity", "reserve", "intransit", "available"}
    assert [a["isDefault"] for a in accounts] == [True, False] and organization["accounts"]["meta"]["size"] == 2
