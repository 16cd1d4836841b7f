"""MoySklad's ``OrderDocuments`` on the sandbox: shipments built from the order (lines not yet shipped,
its store, counterparty and settlement account, custom fields copied by name, numbered or not),
returns of whole shipments, payments to the account asked for, an order's documents read back with
the hub keys, cost prices; every create answered once per key, however often it is sent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connectors.moysklad.capabilities.documents import MoySkladDocuments
from connectors.moysklad.client import MoySkladClient
from connectors.moysklad.sandbox import MoySkladSandbox
from hub.capabilities import BANK_PAYMENT, CASH_PAYMENT, RETURN, SHIPMENT, DocumentDraft
from tests.connectors.moysklad.conftest import run

Json = dict[str, Any]


def _order(sandbox: MoySkladSandbox, ms: MoySkladClient, quantities: tuple[float, ...]) -> Json:
    org = next(iter(sandbox.store.of_type("organization").values()))
    store = next(iter(sandbox.store.of_type("store")))
    products = [p for p in sandbox.store.of_type("product") if not sandbox.store.get("product", p).get("variantsCount")]  # type: ignore[union-attr]
    agent = sandbox.writer.create("counterparty", {"name": "Покупатель"})
    attr = sandbox.store.add_attribute("customerorder", "Источник")
    body = {
        "organization": {"meta": org["meta"]},
        "organizationAccount": {"meta": org["_accounts"][1]["meta"]},
        "agent": {"meta": agent["meta"]},
        "store": ms.ref(f"entity/store/{store}", "store"),
        "attributes": [{"meta": attr["meta"], "name": "Источник", "value": "сайт"}],
        "positions": [
            {"quantity": q, "price": 1000.0 * (n + 1), "assortment": ms.ref(f"entity/product/{p}", "product")}
            for n, (q, p) in enumerate(zip(quantities, products, strict=False))
        ],
    }
    return sandbox.writer.create("customerorder", body)


def test_shipment_return_and_payments_each_once_with_what_the_order_gives_them(
    sandbox: MoySkladSandbox, make_client: Callable[..., MoySkladClient]
) -> None:
    demand_attr = sandbox.store.add_attribute("demand", "Источник")

    async def go() -> tuple[Any, ...]:
        async with make_client() as ms:
            order = _order(sandbox, ms, (2, 1))
            docs = MoySkladDocuments(ms)
            ship = DocumentDraft("shop:7:shipment", SHIPMENT, order["id"], number="7A", copy_custom_fields=True)
            bank = DocumentDraft(
                "shop:7:payment:p1",
                BANK_PAYMENT,
                order["id"],
                posted=False,
                amount=4000,
                account="40702810900000000001",
            )
            cash = DocumentDraft("shop:7:payment:p2", CASH_PAYMENT, order["id"], amount=500)
            first = await docs.upsert_documents([ship, bank, cash])
            again = await docs.upsert_documents([ship])  # the whole order is shipped: nothing more to make
            shipment_id = first[0].erp_id
            back = DocumentDraft("shop:7:return:x", RETURN, order["id"], shipment_id=shipment_id)
            returned = await docs.upsert_documents([back, back])
            updated = await docs.upsert_documents(
                [DocumentDraft(bank.key, BANK_PAYMENT, order["id"], posted=True, amount=4000, erp_id=first[1].erp_id)]
            )
            papers = await docs.order_papers([order["id"], "00000000-0000-4000-8000-000000000000"])
            costs = await docs.cost_prices([shipment_id or ""])
            return order, first, again, returned, updated, papers, costs

    order, first, again, returned, updated, papers, costs = run(go())
    assert all(o.erp_id for o in first) and again[0].erp_id is None and again[0].note
    shipment = sandbox.store.get("demand", first[0].erp_id or "")
    assert shipment is not None and shipment["name"] == "7A" and shipment["applicable"] is True
    assert rid(shipment["organizationAccount"]) == rid(order["organizationAccount"])
    assert rid(shipment["store"]) == rid(order["store"])
    assert [(rid(a), a["value"]) for a in shipment["attributes"]] == [(demand_attr["id"], "сайт")]
    assert [(p["quantity"], p["price"]) for p in shipment["_positions"]] == [(2, 1000.0), (1, 2000.0)]
    assert returned[0].erp_id == returned[1].erp_id and len(sandbox.store.of_type("salesreturn")) == 1
    bank = sandbox.store.get("paymentin", first[1].erp_id or "")
    assert bank is not None and bank["organizationAccount"]["meta"]["href"].endswith(sandbox_account(sandbox, 0))
    assert (
        updated[0].erp_id == first[1].erp_id
        and bank["applicable"] is True
        and len(sandbox.store.of_type("paymentin")) == 1
    )
    assert set(papers) == {order["id"]}
    kinds = sorted((d.kind, d.key, d.shipment_id) for d in papers[order["id"]].documents)
    assert kinds == sorted(
        [
            (SHIPMENT, "shop:7:shipment", None),
            (BANK_PAYMENT, "shop:7:payment:p1", None),
            (CASH_PAYMENT, "shop:7:payment:p2", None),
            (RETURN, "shop:7:return:x", first[0].erp_id),
        ]
    )
    buy = {ref: sandbox.store.get("product", ref)["buyPrice"]["value"] for ref in costs[first[0].erp_id or ""]}  # type: ignore[index]
    assert costs[first[0].erp_id or ""] == {k: round(v) for k, v in buy.items()} and len(buy) == 2


def test_without_a_number_moysklad_numbers_the_shipment(
    sandbox: MoySkladSandbox, make_client: Callable[..., MoySkladClient]
) -> None:
    async def go() -> Any:
        async with make_client() as ms:
            order = _order(sandbox, ms, (1,))
            return await MoySkladDocuments(ms).upsert_documents(
                [DocumentDraft("shop:8:shipment", SHIPMENT, order["id"])]
            )

    (outcome,) = run(go())
    assert sandbox.store.get("demand", outcome.erp_id or "")["name"] == "00001"  # type: ignore[index]


def sandbox_account(sandbox: MoySkladSandbox, n: int) -> str:
    return str(next(iter(sandbox.store.of_type("organization").values()))["_accounts"][n]["id"])


def rid(value: Json) -> str:
    return str(value["meta"]["href"]).rsplit("/", 1)[1]
