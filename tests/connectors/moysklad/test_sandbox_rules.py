"""The sandbox enforces MoySklad's rules: gzip, auth, page limits, expand, syncId, 413, bulk errors."""

from __future__ import annotations

import asyncio
import base64
import re
from typing import Any

import httpx

from connectors.moysklad.sandbox import MoySkladSandbox
from connectors.moysklad.sandbox.rate import RateGate
from connectors.moysklad.sandbox.state import STORE_BASE
from tests.connectors.moysklad.conftest import BASE, raw_client, run

MOSCOW_TS = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}$")


def test_415_without_gzip_and_no_body(sandbox: MoySkladSandbox) -> None:
    async def go() -> httpx.Response:
        async with raw_client(sandbox, **{"Accept-Encoding": "identity"}) as c:
            return await c.get("/entity/store")

    response = run(go())
    assert response.status_code == 415
    assert response.content == b""


def test_401_with_error_body_on_bad_token_and_bad_password(sandbox: MoySkladSandbox) -> None:
    bad_basic = "Basic " + base64.b64encode(b"admin@shop:wrong").decode()

    async def go() -> list[httpx.Response]:
        async with raw_client(sandbox) as c:
            return [
                await c.get("/entity/store", headers={"Authorization": "Bearer nope"}),
                await c.get("/entity/store", headers={"Authorization": bad_basic}),
            ]

    for response in run(go()):
        assert response.status_code == 401
        assert response.json()["errors"][0]["code"] == 1056


def test_gzip_json_with_rate_headers(sandbox: MoySkladSandbox) -> None:
    async def go() -> httpx.Response:
        async with raw_client(sandbox) as c:
            return await c.get("/entity/store")

    response = run(go())
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["content-type"] == "application/json;charset=utf-8"
    assert response.headers["x-ratelimit-limit"] == "45"
    assert response.headers["x-ratelimit-remaining"] == "44"
    assert response.headers["x-lognex-retry-timeinterval"] == "3000"


def test_limit_above_1000_is_rejected_and_expand_needs_limit_100(sandbox: MoySkladSandbox) -> None:
    async def go() -> list[httpx.Response]:
        async with raw_client(sandbox) as c:
            return [
                await c.get("/entity/assortment", params={"limit": 1001}),
                await c.get("/entity/assortment", params={"limit": 101, "expand": "images"}),
                await c.get("/entity/assortment", params={"limit": 100, "expand": "images"}),
            ]

    too_big, ignored, expanded = run(go())
    assert too_big.status_code == 400
    assert all("rows" not in r["images"] for r in ignored.json()["rows"] if "images" in r)
    assert any("rows" in r["images"] for r in expanded.json()["rows"] if "images" in r)


def test_paging_envelope_and_followable_hrefs(sandbox: MoySkladSandbox) -> None:
    async def go() -> list[dict[str, object]]:
        pages = []
        async with raw_client(sandbox) as c:
            url: str | None = f"{BASE}/entity/assortment?limit=50"
            while url:
                body = (await c.get(url)).json()
                pages.append(body)
                url = body["meta"].get("nextHref")
        return pages

    pages = run(go())
    size = len([r for r in sandbox.store.assortment() if not r.get("archived")])
    assert pages[0]["meta"]["size"] == size  # type: ignore[index]
    assert len(pages) == -(-size // 50)
    assert "previousHref" not in pages[0]["meta"]  # type: ignore[operator]
    assert "nextHref" not in pages[-1]["meta"]  # type: ignore[operator]
    row = pages[0]["rows"][0]  # type: ignore[index]
    assert row["meta"]["href"].startswith(BASE)
    assert STORE_BASE not in str(pages)
    assert MOSCOW_TS.match(row["updated"])


def test_filters_archived_updated_and_search(sandbox: MoySkladSandbox) -> None:
    async def go() -> tuple[int, int, int, int]:
        async with raw_client(sandbox) as c:
            default = (await c.get("/entity/assortment")).json()["meta"]["size"]
            both = (await c.get("/entity/assortment", params={"filter": "archived=true;archived=false"})).json()
            later = (await c.get("/entity/product", params={"filter": "updated>=2026-01-10 12:01:00"})).json()
            search = (await c.get("/entity/product", params={"search": "P000007"})).json()
            return default, both["meta"]["size"], later["meta"]["size"], search["meta"]["size"]

    default, both, later, found = run(go())
    assert both == len(sandbox.store.assortment()) > default
    # products are stamped BASE_DATE (09:00 UTC = 12:00 MSK) + i seconds: 60 s in, 60 remain (minus archived)
    assert 0 < later <= 60
    assert found == 1


def test_sync_id_returns_the_same_object_and_413_above_1000_items(sandbox: MoySkladSandbox) -> None:
    org = next(iter(sandbox.store.of_type("organization")))
    body = {"name": "Иванов", "syncId": "5d7e0f5c-0000-4000-8000-000000000001"}

    async def go() -> list[httpx.Response]:
        async with raw_client(sandbox) as c:
            first = await c.post("/entity/counterparty", json=body)
            second = await c.post("/entity/counterparty", json=body)
            too_many = await c.post("/entity/customerorder", json=[{"organization": {}}] * 1001)
            return [first, second, too_many]

    first, second, too_many = run(go())
    assert first.json()["id"] == second.json()["id"]
    assert len(sandbox.store.of_type("counterparty")) == 1
    assert too_many.status_code == 413
    assert org


def test_bulk_post_reports_errors_item_by_item(sandbox: MoySkladSandbox) -> None:
    async def go() -> httpx.Response:
        async with raw_client(sandbox) as c:
            return await c.post("/entity/counterparty", json=[{"name": "A"}, {"phone": "1"}, {"name": "B"}])

    items = run(go()).json()
    assert [("errors" in i) for i in items] == [False, True, False]
    assert items[1]["errors"][0]["code"] == 3000
    assert items[1]["errors"][0]["parameter"] == "name"


def test_states_metadata(sandbox: MoySkladSandbox) -> None:
    async def go() -> Any:
        async with raw_client(sandbox) as c:
            return (await c.get("/entity/customerorder/metadata")).json()

    states = run(go())["states"]
    assert [s["stateType"] for s in states].count("Successful") == 1
    assert all(s["meta"]["href"].startswith(f"{BASE}/entity/customerorder/metadata/states/") for s in states)


def test_bucket_refuses_with_1049_and_retry_after(sandbox: MoySkladSandbox) -> None:
    # time stands still: on a loaded machine 47 requests can take long enough to refill the bucket
    sandbox.gate = RateGate(clock=lambda: 1000.0)

    async def go() -> list[httpx.Response]:
        async with raw_client(sandbox) as c:
            out = []
            for _ in range(47):  # sequential, so the parallel limit is never hit
                out.append(await c.get("/entity/currency"))
            return out

    responses = run(go())
    refused = [r for r in responses if r.status_code == 429]
    assert [r.status_code for r in responses].count(200) == 45, "45 units, one a request, then refusals"
    assert refused[0].json()["errors"][0]["code"] == 1049
    assert int(refused[0].headers["x-lognex-retry-after"]) > 0
    assert not sandbox.banned


def test_parallel_limit_refuses_with_1073(sandbox: MoySkladSandbox) -> None:
    sandbox.faults.slow_seconds = 0.2

    async def go() -> list[httpx.Response]:
        async with raw_client(sandbox) as c:
            return list(await asyncio.gather(*(c.get("/entity/currency") for _ in range(7))))

    responses = run(go())
    parallel = [r for r in responses if r.status_code == 429]
    assert len(parallel) == 2
    assert parallel[0].headers["x-lognex-auth"] == "429005"
    assert "x-lognex-retry-after" not in parallel[0].headers
    assert parallel[0].json()["errors"][0]["code"] == 1073


def test_more_than_200_refusals_a_minute_sets_banned(sandbox: MoySkladSandbox) -> None:
    sandbox.faults.rate_limit_burst = 201

    async def go() -> None:
        async with raw_client(sandbox) as c:
            for _ in range(201):
                await c.get("/entity/currency")

    run(go())
    assert sandbox.banned


def test_user_credentials_are_charged_by_the_dated_table(sandbox: MoySkladSandbox) -> None:
    basic = "Basic " + base64.b64encode(b"admin@shop:s3cret-pass").decode()
    sandbox.gate = RateGate(clock=lambda: 1000.0)  # no refill between the two: the charge alone shows

    async def go() -> list[httpx.Response]:
        async with raw_client(sandbox, Authorization=basic) as c:
            return [await c.get("/entity/currency"), await c.get("/entity/currency")]

    first, second = run(go())
    assert int(first.headers["x-ratelimit-remaining"]) == 42  # 45 - 3 (from 2026-09-01)
    assert int(second.headers["x-ratelimit-remaining"]) == 39
    assert [r.weight for r in sandbox.log] == [3, 3]
