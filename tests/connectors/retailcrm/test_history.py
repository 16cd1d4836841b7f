"""History polling by sinceId: every record once, own-key echoes skipped, the cursor still advancing."""

from __future__ import annotations

import asyncio

from connectors.retailcrm.client import RetailCRMClient
from connectors.retailcrm.sandbox import RetailCRMSandbox

from .conftest import MakeClient


def _read_all(client: RetailCRMClient, since: int | None) -> tuple[list[dict], int | None, int]:
    async def go() -> tuple[list[dict], int | None, int]:
        records: list[dict] = []
        pages = client.iter_order_history(since)
        async for page in pages:
            records.extend(page)
        return records, pages.last_id, pages.skipped

    return asyncio.run(go())


def test_history_pages_by_since_id_and_skips_own_changes(sandbox: RetailCRMSandbox, make_client: MakeClient) -> None:
    sandbox.seed_orders(230)  # manager-made: source "user"
    client = make_client()
    records, last_id, skipped = _read_all(client, None)
    assert len(records) == 230 and skipped == 0
    assert [r["id"] for r in records] == sorted({r["id"] for r in records})
    assert all(r["source"] == "user" for r in records)
    assert records[0]["created"] is True and records[0]["order"]["items"]

    async def our_edit() -> None:
        async with make_client() as c:
            await c.edit_order(1, {"status": "complete"}, by="id")

    asyncio.run(our_edit())
    sandbox.user_edit_order(2, {"status": "assembling", "managerComment": "call back"})
    new, cursor, skipped = _read_all(make_client(), last_id)
    assert skipped == 1
    assert [(r["field"], r["order"]["id"]) for r in new] == [("status", 2), ("manager_comment", 2)]
    assert new[0]["newValue"] == {"code": "assembling"}
    assert cursor == sandbox.history[-1].id == (client.last_history_id or 0) + 3
    # polling again from the cursor: nothing new, no request loops
    assert _read_all(make_client(), cursor)[0] == []


def test_another_integrations_key_sees_our_changes_as_foreign(
    sandbox: RetailCRMSandbox, make_client: MakeClient
) -> None:
    sandbox.add_api_key("other-integration-key")
    sandbox.seed_orders(1)

    async def ours() -> None:
        async with make_client() as c:
            await c.edit_order(1, {"status": "complete"}, by="id")

    asyncio.run(ours())
    mine, _, skipped_mine = _read_all(make_client(), 1)
    theirs, _, skipped_theirs = _read_all(make_client(api_key="other-integration-key"), 1)
    assert (mine, skipped_mine) == ([], 1)
    assert skipped_theirs == 0 and theirs[0]["apiKey"] == {"current": False} and theirs[0]["source"] == "api"


def test_customers_history(sandbox: RetailCRMSandbox, make_client: MakeClient) -> None:
    sandbox.seed_orders(3)

    async def go() -> list[dict]:
        out: list[dict] = []
        async with make_client() as c:
            await c.create_customer({"externalId": "ms-1", "firstName": "Ада"})
            async for page in c.iter_customer_history(None):
                out.extend(page)
        return out

    records = asyncio.run(go())
    assert records and all(r["customer"]["id"] for r in records)
    assert "ms-1" not in {r["customer"].get("externalId") for r in records}  # our own create is skipped
