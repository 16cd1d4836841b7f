"""Retail sales in the sandbox, as MoySklad keeps them, and the two-way capability reading them.

A ``retaildemand`` needs its shift, store, counterparty and legal entity ([RD]); its positions are
``demandposition``s ([SPEC] fixture ``retail_demand.json``); posted, it takes the stock and counts as
shipped on the order it was made from; its CREATE webhook is posted with MoySklad's retries under one
``requestId``. The capability reads it back (lines, legal entity, order) and parses the webhook.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from connectors.moysklad.capabilities.two_way import MoySkladTwoWay
from connectors.moysklad.client import MoySkladClient
from connectors.moysklad.sandbox import MoySkladSandbox
from hub.capabilities.two_way import RETAIL_SALE, Line
from tests.connectors.moysklad.conftest import raw_client, run
from tests.connectors.moysklad.test_webhooks import Receiver


def meta(sandbox: MoySkladSandbox, kind: str, id_: str) -> dict[str, Any]:
    return {"meta": {"href": f"http://moysklad.sandbox/api/remap/1.2/entity/{kind}/{id_}", "type": kind}}


def point_of_sale(sandbox: MoySkladSandbox) -> tuple[dict[str, Any], dict[str, Any]]:
    """The references a sale needs: {organization, store, retailStore, retailShift, agent}; and a product."""
    org = next(iter(sandbox.store.of_type("organization")))
    store = next(iter(sandbox.store.of_type("store")))
    product = next(p for p in sandbox.store.of_type("product").values() if not p.get("variantsCount"))

    async def go() -> dict[str, Any]:
        async with raw_client(sandbox) as c:
            refs = {"organization": meta(sandbox, "organization", org), "store": meta(sandbox, "store", store)}
            shop = (await c.post("/entity/retailstore", json={"name": "Касса", **refs})).json()["id"]
            refs["retailStore"] = meta(sandbox, "retailstore", shop)
            shift = (await c.post("/entity/retailshift", json=dict(refs))).json()["id"]
            refs["retailShift"] = meta(sandbox, "retailshift", shift)
            agent = (await c.post("/entity/counterparty", json={"name": "Покупатель"})).json()["id"]
            refs["agent"] = meta(sandbox, "counterparty", agent)
            return refs

    return run(go()), product


def test_a_sale_needs_its_shift_and_is_kept_with_moysklads_shape_and_stock_rules(sandbox: MoySkladSandbox) -> None:
    refs, product = point_of_sale(sandbox)
    store = refs["store"]["meta"]["href"].rsplit("/", 1)[1]
    before = dict(sandbox.ledger.totals[(product["id"], store)])
    line = {"quantity": 2, "price": 15000.0, "assortment": meta(sandbox, "product", product["id"])}

    async def go() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        async with raw_client(sandbox) as c:
            no_shift = await c.post(
                "/entity/retaildemand",
                json={k: v for k, v in refs.items() if k != "retailShift"} | {"positions": [line]},
            )
            made = await c.post("/entity/retaildemand", json={**refs, "positions": [line]})
            rows = await c.get(f"/entity/retaildemand/{made.json()['id']}/positions")
            return no_shift, made, rows

    no_shift, made, rows = run(go())
    assert no_shift.status_code == 412 and no_shift.json()["errors"][0]["parameter"] == "retailShift"
    sale = made.json()
    assert made.status_code == 200 and sale["sum"] == 30000.0 and sale["applicable"] is True
    assert sale["positions"]["meta"]["type"] == "demandposition"
    assert rows.json()["rows"][0]["meta"]["type"] == "demandposition"
    assert sandbox.ledger.totals[(product["id"], store)]["stock"] == before["stock"] - 2


def test_the_capability_reads_sales_and_parses_their_webhook(
    sandbox: MoySkladSandbox, make_client: Callable[..., MoySkladClient]
) -> None:
    refs, product = point_of_sale(sandbox)
    flaky = Receiver(failures=2)
    sandbox.webhooks.transport = httpx.ASGITransport(app=flaky.app)

    async def go() -> tuple[str, dict[str, Any], list[str]]:
        async with make_client() as ms:
            two_way = MoySkladTwoWay(ms)
            done = await two_way.subscribe_changes(
                "http://hub.test/hooks/moysklad/x/tok", ours="http://hub.test/hooks/"
            )
            again = await two_way.subscribe_changes(
                "http://hub.test/hooks/moysklad/x/tok", ours="http://hub.test/hooks/"
            )
            assert again == []
            order = await ms.create_order(
                {
                    "organization": refs["organization"],
                    "agent": refs["agent"],
                    "positions": [
                        {
                            "quantity": 3,
                            "price": 15000.0,
                            "reserve": 3,
                            "assortment": meta(sandbox, "product", product["id"]),
                        }
                    ],
                }
            )
            async with raw_client(sandbox) as c:
                sale = (
                    await c.post(
                        "/entity/retaildemand",
                        json={
                            **refs,
                            "customerOrder": meta(sandbox, "customerorder", order["id"]),
                            "positions": [
                                {"quantity": 1, "price": 14000.0, "assortment": meta(sandbox, "product", product["id"])}
                            ],
                        },
                    )
                ).json()
            await sandbox.webhooks.drain()
            sales = await two_way.retail_sales([sale["id"], "00000000-0000-0000-0000-000000000000"])
            return order["id"], {"sale": sales[sale["id"]], "n": len(sales)}, done

    order_id, got, done = run(go())
    assert done == ["created counterparty UPDATE", "created retaildemand CREATE"]
    sale = got["sale"]
    assert got["n"] == 1 and sale.erp_order_id == order_id and sale.lines == [Line(product["id"], 1.0, 14000)]
    assert sale.organization == next(iter(sandbox.store.of_type("organization").values()))["name"]
    order = sandbox.store.get("customerorder", order_id)
    assert order is not None and order["_positions"][0]["shipped"] == 1  # the sale took one of the order's
    # MoySklad's delivery: failed twice, then taken, all three under one requestId
    sale_calls = [c for c in flaky.calls if c[1]["events"][0]["meta"]["type"] == "retaildemand"]
    assert len(sale_calls) == 3 and len({c[0] for c in sale_calls}) == 1
    parsed = MoySkladTwoWay(None).parse_changes(
        httpx.Request("POST", "http://x", json=sale_calls[0][1]).content, {"requestId": sale_calls[0][0]}
    )
    assert [(c.entity, c.action) for c in parsed.changes] == [(RETAIL_SALE, "CREATE")]
    assert parsed.delivery_id == sale_calls[0][0]


@pytest.mark.parametrize(
    ("body", "query", "why"),
    [
        (b"{}", {"requestId": "r1"}, "no events"),
        (b'{"events":[{"meta":{"type":"product","href":"h/1"},"action":"UPDATE"}]}', {"requestId": "r1"}, "not taken"),
        (b'{"events":[]}', {}, "requestId"),
        (b"[[[", {"requestId": "r1"}, "JSON"),
    ],
)
def test_a_malformed_change_notice_is_refused_with_why(body: bytes, query: dict[str, str], why: str) -> None:
    with pytest.raises(ValueError, match=why):
        MoySkladTwoWay(None).parse_changes(body, query)


def test_counterparty_cards_are_read_and_updated_in_one_bulk_request(
    sandbox: MoySkladSandbox, make_client: Callable[..., MoySkladClient]
) -> None:
    async def go() -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
        async with make_client() as ms:
            two_way = MoySkladTwoWay(ms)
            made = await ms.create_counterparty(
                {"name": "Лавлейс Ада", "phone": "+79991112233", "actualAddress": "Лондон"}
            )
            refused = await two_way.update_customer_cards(
                {
                    made["id"]: {"email": "ada@example.com", "address": None},
                    "00000000-0000-0000-0000-000000000001": {"name": "x"},
                }
            )
            return made, refused, await two_way.customer_cards([made["id"]])

    made, refused, cards = run(go())
    assert list(refused) == ["00000000-0000-0000-0000-000000000001"]
    assert cards[made["id"]] == {
        "name": "Лавлейс Ада",
        "phone": "+79991112233",
        "email": "ada@example.com",
        "address": None,
        "inn": None,
        "kpp": None,
    }
