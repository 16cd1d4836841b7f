"""MoySklad moves over the sandbox: one per draft however often it is sent, linked to the order, priced as
its positions, and what a posted move does to stock is what ``report/stock/bystore/current`` answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connectors.moysklad.capabilities.documents import MoySkladDocuments
from connectors.moysklad.client import MoySkladClient
from connectors.moysklad.sandbox import MoySkladSandbox
from hub.capabilities import MOVE, DocumentDraft
from tests.connectors.moysklad.conftest import run


def test_a_posted_move_moves_stock_an_unposted_one_does_not_each_made_once(
    sandbox: MoySkladSandbox, make_client: Callable[..., MoySkladClient]
) -> None:
    org = next(iter(sandbox.store.of_type("organization").values()))
    main, other = [s for s in sandbox.store.of_type("store").values()][:2]
    product, item = next((p, o) for p, o in sandbox.store.of_type("product").items() if not o.get("variantsCount"))
    agent = sandbox.writer.create("counterparty", {"name": "Покупатель"})

    def order() -> dict[str, Any]:
        return sandbox.writer.create(
            "customerorder",
            {
                "organization": {"meta": org["meta"]},
                "agent": {"meta": agent["meta"]},
                "store": {"meta": main["meta"]},
                "positions": [
                    {
                        "assortment": {"meta": item["meta"]},
                        "quantity": 3,
                        "price": 5000.0,
                    }
                ],
            },
        )

    posted, unposted = order(), order()

    async def go() -> tuple[Any, ...]:
        async with make_client() as ms:
            docs = MoySkladDocuments(ms)
            before = await ms.stock_current("bystore", "stock", include_zero=True)
            drafts = [
                DocumentDraft(
                    "s:1:move:Склад 2", MOVE, posted["id"], source_store=other["name"], lines=[(product, 2.0)]
                ),
                DocumentDraft(
                    "s:2:move:Склад 2",
                    MOVE,
                    unposted["id"],
                    posted=False,
                    source_store=other["id"],
                    lines=[(product, 1.0)],
                ),
                DocumentDraft("s:3:move:x", MOVE, posted["id"], source_store="Нет такого", lines=[(product, 1.0)]),
                DocumentDraft("s:4:move:y", MOVE, posted["id"], source_store=main["name"], lines=[(product, 1.0)]),
            ]
            first = await docs.upsert_documents(drafts)
            again = await docs.upsert_documents(drafts[:2])  # a lost answer, sent again
            after = await ms.stock_current("bystore", "stock", include_zero=True)
            papers = await docs.order_papers([posted["id"]])
            return before, first, again, after, papers

    before, first, again, after, papers = run(go())

    def at(rows: list[dict[str, Any]], store: dict[str, Any]) -> float:
        return sum(float(r["stock"]) for r in rows if r["assortmentId"] == product and r["storeId"] == store["id"])

    assert [o.erp_id is not None for o in first] == [True, True, False, False]
    assert "Нет такого" in (first[2].error or "") and first[3].note  # the order's own store: nothing to move
    assert [o.erp_id for o in again] == [o.erp_id for o in first[:2]] and len(sandbox.store.of_type("move")) == 2
    move = sandbox.store.get("move", first[0].erp_id or "")
    assert move is not None and move["applicable"] is True and move["externalCode"] == "s:1:move:Склад 2"
    assert [(p["quantity"], p["price"]) for p in move["_positions"]] == [(2.0, 5000.0)]
    assert (at(after, other), at(after, main)) == (at(before, other) - 2, at(before, main) + 2)  # the unposted: nothing
    assert [(d.kind, d.key) for d in papers[posted["id"]].documents] == [(MOVE, "s:1:move:Склад 2")]
