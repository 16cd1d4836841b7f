"""The 10 requests/s per key budget: the sandbox refuses beyond it, the client never gets there."""

from __future__ import annotations

import asyncio
import math

import httpx

from connectors.http import RetryPolicy, request_stats
from connectors.retailcrm.client import RetailCRMClient
from connectors.retailcrm.convert.catalog import stock_to_inventories
from connectors.retailcrm.sandbox import RetailCRMSandbox
from connectors.retailcrm.wire.conventions import INVENTORY_BATCH
from connectors.sandboxing import LoopbackServer
from hub.model import frame

from .conftest import KEY, MakeClient


def test_sandbox_answers_503_nginx_page_beyond_10_rps(sandbox: RetailCRMSandbox) -> None:
    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.app)) as http:
            return [await http.get("http://t/api/v5/reference/stores", headers={"X-API-KEY": KEY}) for _ in range(15)]

    statuses = [r.status_code for r in asyncio.run(burst())]
    assert statuses[:10] == [200] * 10 and 503 in statuses[10:]
    assert sandbox.log.count(status=503) == statuses.count(503)


def test_client_retries_rate_refusals(sandbox: RetailCRMSandbox, make_client: MakeClient) -> None:
    sandbox.faults.rate_limit_burst = 2

    async def go() -> object:
        async with make_client(retry=RetryPolicy(base_delay=0.01)) as client:
            return await client.reference("stores")

    assert isinstance(asyncio.run(go()), list)
    assert sandbox.log.count(status=503) == 2 and sandbox.log.count(status=200) == 1
    assert request_stats().total("retailcrm").rate_refusals == 2


def test_two_clients_of_one_key_share_the_budget(sandbox: RetailCRMSandbox, make_client: MakeClient) -> None:
    async def go() -> None:
        async with make_client() as a, make_client() as b:
            assert a.budget is b.budget
            await asyncio.gather(*(c.reference("stores") for c in (a, b) for _ in range(12)))

    asyncio.run(go())
    assert sandbox.log.count(status=503) == 0 and sandbox.log.count(status=200) == 24


def test_10000_offers_inventories_over_loopback_in_40_requests_without_503() -> None:
    sandbox = RetailCRMSandbox(api_key=KEY)
    sandbox.seed_catalog(10_000)
    offers = list(sandbox.offers.values())
    stock = frame(
        "stock",
        [
            {"offer_id": o["xmlId"], "store_id": ms_store, "available": float(i % 7), "stock_type": "stock"}
            for i, o in enumerate(offers)
            for ms_store in ("ms-a", "ms-b")
        ],
    )
    payload = stock_to_inventories(stock, store_map={"ms-a": "main", "ms-b": "msk"})
    assert len(payload) == 10_000

    async def upload(url: str) -> int:
        processed = 0
        async with RetailCRMClient(url, api_key=KEY) as client:
            for start in range(0, len(payload), INVENTORY_BATCH):
                result = await client.upload_inventories(payload[start : start + INVENTORY_BATCH])
                processed += result.processed
                assert result.not_found == []
        return processed

    with LoopbackServer(sandbox.app) as server:
        assert asyncio.run(upload(server.url)) == 10_000
    assert len(sandbox.log) == math.ceil(10_000 / 250) == 40
    assert sandbox.log.count(status=503) == 0
    assert request_stats().total("retailcrm").requests == 40
    some = offers[5]["id"]
    assert sandbox.inventories[some] == {
        "main": {"available": 5.0, "purchasePrice": None},
        "msk": {"available": 5.0, "purchasePrice": None},
    }
    zero = offers[7]["id"]
    assert sandbox.inventories[zero]["main"]["available"] == 0.0
