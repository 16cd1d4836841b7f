"""The client pages concurrently within the budget, paces to the server and survives 429/5xx.

The pacing tests run the client's budget and the sandbox's rate gate on one virtual clock, so
whether a request is refused does not depend on how loaded the machine is.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from connectors.http import RateBudget, request_stats
from connectors.moysklad.client import MoySkladClient
from connectors.moysklad.sandbox import MoySkladSandbox
from connectors.moysklad.sandbox.rate import RateGate
from connectors.moysklad.wire.limits import BUCKET_CAPACITY, BUCKET_WINDOW_SECONDS, MAX_IN_FLIGHT_PER_CREDENTIAL
from tests.connectors.moysklad.conftest import run
from tests.connectors.virtual_time import VirtualTime


def test_iter_pages_fetches_every_offset_once_and_yields_all_rows(
    sandbox: MoySkladSandbox, make_client: Callable[..., MoySkladClient]
) -> None:
    async def go() -> list[list[dict[str, object]]]:
        async with make_client() as ms:
            both = {"filter": "archived=true;archived=false"}
            return [page async for page in ms.iter_pages("/entity/assortment", both, limit=10)]

    pages = run(go())
    total = len(sandbox.store.assortment())
    ids = [r["id"] for page in pages for r in page]
    assert len(ids) == len(set(ids)) == total
    assert len(pages) == math.ceil(total / 10)
    offsets = sorted(int(r.query.split("offset=")[1].split("&")[0]) for r in sandbox.log)
    assert offsets == list(range(0, total, 10))


def test_assortment_uses_the_new_endpoint_header_and_both_archived(
    sandbox: MoySkladSandbox, make_client: Callable[..., MoySkladClient]
) -> None:
    async def go() -> int:
        async with make_client() as ms:
            return sum([len(page) async for page in ms.iter_assortment()])

    assert run(go()) == len(sandbox.store.assortment())
    assert "archived%3Dtrue%3Barchived%3Dfalse" in next(iter(sandbox.log)).query


def test_expand_forces_pages_of_100(sandbox: MoySkladSandbox, make_client: Callable[..., MoySkladClient]) -> None:
    async def go() -> None:
        async with make_client() as ms:
            async for page in ms.iter_pages("/entity/assortment", {"expand": "images"}):
                assert len(page) <= 100

    run(go())
    assert all("limit=100" in r.query for r in sandbox.log)


def on_virtual_time(sandbox: MoySkladSandbox, client: MoySkladClient) -> VirtualTime:
    """Put the client's budget and the sandbox's rate gate on one virtual clock (exact, and fast)."""
    clock = VirtualTime()
    sandbox.gate = RateGate(clock=clock.monotonic)
    client.budget = RateBudget(BUCKET_CAPACITY, BUCKET_WINDOW_SECONDS, MAX_IN_FLIGHT_PER_CREDENTIAL, clock=clock)
    return clock


def test_user_credentials_pace_without_a_single_429(
    sandbox: MoySkladSandbox, make_client: Callable[..., MoySkladClient]
) -> None:
    """Weight 3 per request: 20+ requests are more than the 45 units; none may be refused."""
    ms = make_client(login="admin@shop", password="s3cret-pass")
    clock = on_virtual_time(sandbox, ms)

    async def go() -> int:
        async with ms:
            return len([p async for p in ms.iter_pages("/entity/assortment", limit=6)])

    started = clock.now
    pages = clock.run(go())
    assert pages * 3 > 45
    assert sandbox.log.count(status=429) == 0
    assert all(r.weight == 3 for r in sandbox.log)
    assert request_stats().total("moysklad").weight == 3 * len(sandbox.log)
    # paced, not stalled: the units beyond the first 45 take one 3-second window (plus margin) per 45
    assert clock.now - started <= (pages * 3 // 45 + 1) * 3 * 1.05


def test_injected_429_burst_and_5xx_are_retried(
    sandbox: MoySkladSandbox, make_client: Callable[..., MoySkladClient]
) -> None:
    sandbox.faults.rate_limit_burst = 2
    sandbox.faults.server_errors = 1
    ms = make_client()
    clock = on_virtual_time(sandbox, ms)

    async def go() -> int:
        async with ms:
            return len(await ms.list_stores())

    assert clock.run(go()) == 3
    assert sandbox.log.count(status=429) == 2
    assert sandbox.log.count(status=500) == 1
    assert not sandbox.banned
    spent = request_stats().total("moysklad")
    assert (spent.requests, spent.rate_refusals, spent.server_errors) == (4, 2, 1)


def test_fetch_images_uses_the_cheaper_strategy(
    sandbox: MoySkladSandbox, make_client: Callable[..., MoySkladClient]
) -> None:
    owners = [r for r in sandbox.store.assortment() if sandbox.store.images.get(r["id"])]
    rendered = [{"id": r["id"], "meta": r["meta"], "images": r["images"]} for r in owners]

    async def go(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        async with make_client() as ms:
            return await ms.fetch_images(rows)

    assert len(owners) > 2
    images = run(go(rendered))
    assert {k: len(v) for k, v in images.items()} == {o["id"]: len(sandbox.store.images[o["id"]]) for o in owners}
    assert len(sandbox.log) == math.ceil(len(owners) / 100)  # expand pages, not one call per owner
    # both strategies ask for the permanent links a channel can load (a paid tariff gives them)
    assert all(img["meta"].get("downloadPermanentHref") for rows in images.values() for img in rows)
    sandbox.log.clear()
    sandbox.paid_tariff = False
    single = run(go(rendered[:1]))
    assert len(single[owners[0]["id"]]) == len(sandbox.store.images[owners[0]["id"]])
    assert next(iter(sandbox.log)).path.endswith("/images")
    assert not any("downloadPermanentHref" in img["meta"] for img in single[owners[0]["id"]])


def test_stock_current_one_call_one_measure(
    sandbox: MoySkladSandbox, make_client: Callable[..., MoySkladClient]
) -> None:
    async def go() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
        async with make_client() as ms:
            return await ms.stock_current("bystore", "quantity"), await ms.stock_current(
                "all", "stock", include_zero=False
            )

    by_store, total = run(go())
    assert all(set(r) == {"assortmentId", "storeId", "quantity"} for r in by_store)
    assert all(set(r) == {"assortmentId", "stock"} and r["stock"] != 0 for r in total)
    assert len(sandbox.log) == 2


def test_assortment_page_returns_rows_and_total_size() -> None:
    """Page-range workers fetch one offset at a time and learn the catalog size from any page."""
    import asyncio

    import httpx

    from connectors.moysklad.client import MoySkladClient
    from connectors.moysklad.sandbox import MoySkladSandbox
    from connectors.moysklad.sandbox.generator import seed_catalog

    sandbox = MoySkladSandbox(token="page-token", token_kind="app")
    seed_catalog(sandbox, 250, variants_ratio=0.0)

    async def go() -> tuple[list[dict], int, list[dict], int]:
        transport = httpx.ASGITransport(app=sandbox.app)
        async with MoySkladClient(
            "http://ms/api/remap/1.2", token="page-token", token_kind="app", transport=transport
        ) as ms:
            first, size = await ms.assortment_page(0, 100)
            last, size_again = await ms.assortment_page(200, 100)
        return first, size, last, size_again

    first, size, last, size_again = asyncio.run(go())
    assert size == size_again == 250
    assert len(first) == 100 and len(last) == 50
    assert not {r["id"] for r in first} & {r["id"] for r in last}
