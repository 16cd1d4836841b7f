"""Paginators read every page once and stop; a server that hands back a page already read is an error.

The loop guard matters to a merchant because the alternative is a run that never ends (or one that
stages the same 1000 items forever) when an API starts ignoring its paging parameters.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from connectors.http import ConnectorError, RetryPolicy
from connectors.moysklad.client import MoySkladClient
from connectors.paging import (
    NextLinkPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    PagingLoopError,
    SinceIdPaginator,
    follow,
)
from connectors.retailcrm.client import RetailCRMClient

ITEMS = [{"id": n} for n in range(1, 24)]  # 23 items: pages of 10 are 10, 10, 3


def read_all(paginator: Any, fetch: Callable[[Any], Awaitable[Any]]) -> list[Any]:
    async def go() -> list[Any]:
        return [page async for page in follow(paginator, fetch)]

    return asyncio.run(go())


def ids(pages: list[Any], key: str | None = None) -> list[int]:
    return [row["id"] for page in pages for row in (page[key] if key else page)]


# -- offset --------------------------------------------------------------------------------------
async def by_offset(offset: int) -> list[dict[str, int]]:
    return ITEMS[offset : offset + 10]


def test_offset_paging_reads_every_row_once_and_stops_on_the_short_page() -> None:
    paging = OffsetPaginator(10, system="shop", endpoint="catalog/export")
    asked: list[int] = []

    async def fetch(offset: int) -> list[dict[str, int]]:
        asked.append(offset)
        return await by_offset(offset)

    assert ids(read_all(paging, fetch)) == [item["id"] for item in ITEMS]
    assert asked == [0, 10, 20] and paging.finished and paging.pages == 3


def test_offset_paging_stops_at_the_total_without_asking_for_an_empty_page() -> None:
    exact = ITEMS[:20]
    paging = OffsetPaginator(
        10, system="shop", endpoint="x", rows=lambda page: page["rows"], total=lambda page: page["size"]
    )

    async def fetch(offset: int) -> dict[str, Any]:
        return {"size": len(exact), "rows": exact[offset : offset + 10]}

    assert len(read_all(paging, fetch)) == 2


def test_offset_paging_gives_the_remaining_offsets_for_concurrent_reads() -> None:
    paging = OffsetPaginator(1000, system="moysklad", endpoint="/entity/assortment")
    assert list(paging.remaining(2500)) == [1000, 2000]
    assert list(paging.remaining(1000)) == []


def test_a_server_ignoring_the_offset_is_caught_by_the_repeated_rows() -> None:
    paging = OffsetPaginator(10, system="shop", endpoint="catalog/export")

    async def stuck(offset: int) -> list[dict[str, int]]:
        return ITEMS[:10]  # "offset is ignored unless limit is sent" (Horoshop)

    with pytest.raises(PagingLoopError, match=r"shop catalog/export: offset 10 brought the same rows as offset 0"):
        read_all(paging, stuck)


def test_an_answer_for_another_offset_is_a_loop() -> None:
    paging = OffsetPaginator(
        10, system="moysklad", endpoint="/entity/store", rows=lambda p: p["rows"], echoed=lambda p: p["offset"]
    )
    paging.check({"offset": 0, "rows": []}, 0)
    with pytest.raises(PagingLoopError, match="asked for offset 10, the answer is offset 0") as info:
        paging.check({"offset": 0, "rows": []}, 10)
    assert isinstance(info.value, ConnectorError) and not info.value.retryable
    assert info.value.endpoint == "/entity/store"


# -- page number ---------------------------------------------------------------------------------
def crm_page(page: int, *, echo: int | None = None) -> dict[str, Any]:
    total = -(-len(ITEMS) // 10)
    return {
        "orders": ITEMS[(page - 1) * 10 : page * 10],
        "pagination": {"currentPage": echo or page, "totalPageCount": total},
    }


def crm_paging(**kw: Any) -> PageNumberPaginator:
    return PageNumberPaginator(
        system="retailcrm",
        endpoint="/orders",
        rows=lambda b: b["orders"],
        total_pages=lambda b: b["pagination"]["totalPageCount"],
        echoed=lambda b: b["pagination"]["currentPage"],
        **kw,
    )


def test_page_numbers_run_to_the_page_count() -> None:
    asked: list[int] = []

    async def fetch(page: int) -> dict[str, Any]:
        asked.append(page)
        return crm_page(page)

    assert ids(read_all(crm_paging(), fetch), "orders") == [item["id"] for item in ITEMS]
    assert asked == [1, 2, 3]


def test_page_numbers_without_a_count_stop_on_a_short_page() -> None:
    paging = PageNumberPaginator(system="keycrm", endpoint="/order", limit=10)

    async def fetch(page: int) -> list[dict[str, int]]:
        return ITEMS[(page - 1) * 10 : page * 10]

    assert len(read_all(paging, fetch)) == 3


def test_the_server_answering_another_page_number_is_a_loop() -> None:
    async def fetch(page: int) -> dict[str, Any]:
        return crm_page(page, echo=1)  # always "page 1"

    with pytest.raises(PagingLoopError, match="retailcrm /orders: asked for page 2, the answer is page 1"):
        read_all(crm_paging(), fetch)


def test_the_same_rows_under_a_new_page_number_are_a_loop() -> None:
    async def fetch(page: int) -> dict[str, Any]:
        return {**crm_page(1), "pagination": {"currentPage": page, "totalPageCount": 3}}

    with pytest.raises(PagingLoopError, match="page 2 brought the same rows as page 1"):
        read_all(crm_paging(), fetch)


# -- sinceId -------------------------------------------------------------------------------------
def history_after(since: int | None, limit: int = 10) -> list[dict[str, int]]:
    return [item for item in ITEMS if since is None or item["id"] > since][:limit]


def test_since_id_moves_the_cursor_to_the_last_record_and_stops_on_a_short_page() -> None:
    paging = SinceIdPaginator(None, system="retailcrm", endpoint="/orders/history", limit=10)
    asked: list[int | None] = []

    async def fetch(since: int | None) -> list[dict[str, int]]:
        asked.append(since)
        return history_after(since)

    assert ids(read_all(paging, fetch)) == [item["id"] for item in ITEMS]
    assert asked == [None, 10, 20] and paging.current == 23


def test_since_id_with_nothing_new_keeps_the_cursor() -> None:
    paging = SinceIdPaginator(23, system="retailcrm", endpoint="/orders/history", limit=10)

    async def fetch(since: int | None) -> list[dict[str, int]]:
        return history_after(since)

    assert read_all(paging, fetch) == [[]]
    assert paging.current == 23 and paging.finished


def test_since_id_that_does_not_advance_is_a_loop() -> None:
    paging = SinceIdPaginator(5, system="retailcrm", endpoint="/orders/history", limit=3)

    async def fetch(since: int | None) -> list[dict[str, int]]:
        return ITEMS[:3]  # the server ignores sinceId: ids 1..3 again

    with pytest.raises(PagingLoopError, match=r"retailcrm /orders/history: history did not advance past sinceId=5"):
        read_all(paging, fetch)


# -- next links ----------------------------------------------------------------------------------
def test_next_links_are_followed_until_there_is_none() -> None:
    pages = {None: ("p2", ITEMS[:10]), "p2": ("p3", ITEMS[10:20]), "p3": (None, ITEMS[20:])}
    paging = NextLinkPaginator(
        system="keycrm",
        endpoint="/order",
        rows=lambda b: b["data"],
        next_link=lambda b: (b.get("links") or {}).get("next"),
    )

    async def fetch(link: str | None) -> dict[str, Any]:
        following, rows = pages[link]
        return {"data": rows, "links": {"next": following}}

    assert ids(read_all(paging, fetch), "data") == [item["id"] for item in ITEMS]


def test_a_next_link_already_followed_is_a_loop() -> None:
    links = {None: "p2", "p2": "p3", "p3": "p2"}  # p3 links back to p2
    paging = NextLinkPaginator(system="keycrm", endpoint="/order", next_link=lambda b: b["next"], rows=lambda b: [])

    async def fetch(link: str | None) -> dict[str, Any]:
        return {"next": links[link]}

    with pytest.raises(PagingLoopError, match="keycrm /order: next link 'p2' came back, already read"):
        read_all(paging, fetch)


# -- in the clients ------------------------------------------------------------------------------
def test_retailcrm_lists_stop_when_the_server_ignores_the_page_number() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        body = {
            "success": True,
            "offers": [{"id": 1}, {"id": 2}],
            "pagination": {"currentPage": 1, "totalPageCount": 5},
        }
        return httpx.Response(200, json=body)

    async def go() -> None:
        async with RetailCRMClient(
            "https://shop.retailcrm.ru", api_key="k-paging-test", transport=httpx.MockTransport(answer)
        ) as crm:
            async for _ in crm.iter_offers():
                pass

    with pytest.raises(PagingLoopError, match="retailcrm /store/offers: asked for page 2, the answer is page 1"):
        asyncio.run(go())


def test_moysklad_paging_stops_when_the_server_ignores_the_offset() -> None:
    rows = [{"id": f"id-{n}", "meta": {"type": "store"}} for n in range(2)]

    def answer(request: httpx.Request) -> httpx.Response:
        query = parse_qs(request.url.query.decode())
        limit = int(query["limit"][0])
        body = {"meta": {"size": 6, "limit": limit, "offset": 0}, "rows": rows}  # offset ignored
        return httpx.Response(200, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"})

    async def go() -> None:
        async with MoySkladClient(
            "http://ms/api/remap/1.2",
            token="t-paging",
            token_kind="app",
            transport=httpx.MockTransport(answer),
            retry=RetryPolicy(base_delay=0.001),
        ) as ms:
            async for _ in ms.iter_pages("/entity/store", limit=2):
                pass

    with pytest.raises(PagingLoopError, match=r"moysklad /entity/store: asked for offset [24], the answer is offset 0"):
        asyncio.run(go())
