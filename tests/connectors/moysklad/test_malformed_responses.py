"""A success status with a broken body is an error that says what is wrong, never silent data loss."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from connectors.http import MalformedResponseError
from connectors.moysklad.client import MoySkladClient
from connectors.moysklad.sandbox import MoySkladSandbox
from tests.connectors.moysklad.conftest import BASE, DAY, run


def _row(n: int) -> dict[str, Any]:
    return {"id": f"00000000-0000-0000-0000-{n:012d}", "meta": {"type": "product"}, "name": f"p{n}"}


def _page(rows: list[dict[str, Any]], size: int) -> dict[str, Any]:
    return {"meta": {"size": size, "limit": 1000}, "rows": rows}


def _client(answer: Callable[[httpx.Request], httpx.Response]) -> MoySkladClient:
    return MoySkladClient(BASE, token="t", token_kind="app", today=DAY, transport=httpx.MockTransport(answer))


def _page_at(offset: int, body: Any) -> tuple[list[dict[str, Any]], int]:
    def answer(request: httpx.Request) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.Response(200, content=content, headers={"Content-Type": "application/json"})

    async def go() -> tuple[list[dict[str, Any]], int]:
        async with _client(answer) as ms:
            return await ms.assortment_page(offset, 1000)

    return run(go())


def test_a_body_cut_off_mid_transfer_is_reported_as_not_json() -> None:
    with pytest.raises(MalformedResponseError, match="not JSON") as info:
        _page_at(0, b'{"meta": {"size": 3}, "rows": [{"id": "a"')
    assert info.value.retryable


def test_a_page_with_fewer_rows_than_its_size_implies_is_partial() -> None:
    partial = re.escape("offset 1000: 400 rows where meta.size 2500 means 1000")
    with pytest.raises(MalformedResponseError, match=partial):
        _page_at(1000, _page([_row(n) for n in range(400)], 2500))
    rows, size = _page_at(2000, _page([_row(n) for n in range(500)], 2500))  # the last page is short
    assert (len(rows), size) == (500, 2500)


@pytest.mark.parametrize("body, what", [
    ({"meta": {"size": 2}}, "no 'rows' array"),
    (_page([_row(0), {"meta": {"type": "product"}}], 2), "row 1 has no id"),
    (_page([_row(0), {"id": "x"}], 2), "row 1 has no id or meta.type"),
    ({"rows": [], "meta": {}}, "meta.size is None"),
])
def test_pages_without_what_the_api_defines_name_the_problem(body: Any, what: str) -> None:
    with pytest.raises(MalformedResponseError, match=re.escape(what)):
        _page_at(0, body)


def test_every_collection_is_checked_not_only_the_assortment(
    sandbox: MoySkladSandbox, make_client: Callable[..., MoySkladClient]
) -> None:
    sandbox.faults.partial_pages, sandbox.faults.partial_pages_on = 1, "/entity/store"

    async def stores() -> list[dict[str, Any]]:
        async with make_client() as ms:
            return await ms.list_stores()

    with pytest.raises(MalformedResponseError, match="partial answer"):
        run(stores())
    assert len(run(stores())) == len(sandbox.store.of_type("store"))  # asked again: whole
