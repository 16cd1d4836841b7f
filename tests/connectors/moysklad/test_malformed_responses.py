"""A success status with a broken body is asked for again; if it stays broken, the error says what is wrong.

Never silent data loss: a page cut short (fewer rows than its ``meta.size`` implies) is not taken
for the whole page. It is a transient fault of that one request: the client fetches the page again
with backoff and counts the retry, and fails only when the page stays broken, naming endpoint and
offset.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from connectors.http import MalformedResponseError, RetryPolicy, request_stats
from connectors.moysklad.client import MoySkladClient
from connectors.moysklad.sandbox import MoySkladSandbox
from tests.connectors.moysklad.conftest import BASE, DAY, run

#: retries without waiting: these tests are about what is retried, not how long it waits
FAST = RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.002)


def _row(n: int) -> dict[str, Any]:
    return {"id": f"00000000-0000-0000-0000-{n:012d}", "meta": {"type": "product"}, "name": f"p{n}"}


def _page(rows: list[dict[str, Any]], size: int) -> dict[str, Any]:
    return {"meta": {"size": size, "limit": 1000}, "rows": rows}


def _client(answer: Callable[[httpx.Request], httpx.Response]) -> MoySkladClient:
    return MoySkladClient(
        BASE, token="t", token_kind="app", today=DAY, transport=httpx.MockTransport(answer), retry=FAST
    )


def _page_at(offset: int, *bodies: Any) -> tuple[list[dict[str, Any]], int]:
    """Read the assortment page at ``offset`` from a server answering ``bodies`` in turn (the last repeats)."""
    answers = list(bodies)

    def answer(request: httpx.Request) -> httpx.Response:
        body = answers.pop(0) if len(answers) > 1 else answers[0]
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.Response(200, content=content, headers={"Content-Type": "application/json"})

    async def go() -> tuple[list[dict[str, Any]], int]:
        async with _client(answer) as ms:
            return await ms.assortment_page(offset, 1000)

    return run(go())


def _malformed_answers() -> int:
    return request_stats().total("moysklad").malformed_answers


def test_a_body_cut_off_mid_transfer_is_reported_as_not_json_once_it_persists() -> None:
    with pytest.raises(MalformedResponseError, match=r"not JSON.*after 4 attempts") as info:
        _page_at(0, b'{"meta": {"size": 3}, "rows": [{"id": "a"')
    assert info.value.retryable
    assert request_stats().total("moysklad").requests == _malformed_answers() == 4


def test_a_body_cut_off_once_is_fetched_again() -> None:
    rows, size = _page_at(0, b'{"meta": {"size": 2}, "rows": [{"id": "a"', _page([_row(0), _row(1)], 2))
    assert (len(rows), size) == (2, 2)
    assert request_stats().total("moysklad").requests == 2 and _malformed_answers() == 1


def test_a_page_with_fewer_rows_than_its_size_implies_is_partial() -> None:
    partial = re.escape("/entity/assortment page at offset 1000: 400 rows where meta.size 2500 means 1000")
    with pytest.raises(MalformedResponseError, match=partial):
        _page_at(1000, _page([_row(n) for n in range(400)], 2500))
    request_stats().reset()
    rows, size = _page_at(2000, _page([_row(n) for n in range(500)], 2500))  # the last page is short
    assert (len(rows), size) == (500, 2500)
    assert _malformed_answers() == 0


@pytest.mark.parametrize(
    "body, what",
    [
        ({"meta": {"size": 2}}, "no 'rows' array"),
        (_page([_row(0), {"meta": {"type": "product"}}], 2), "row 1 has no id"),
        (_page([_row(0), {"id": "x"}], 2), "row 1 has no id or meta.type"),
        ({"rows": [], "meta": {}}, "meta.size is None"),
    ],
)
def test_pages_without_what_the_api_defines_name_the_problem(body: Any, what: str) -> None:
    with pytest.raises(MalformedResponseError, match=re.escape(what)):
        _page_at(0, body)


def test_every_collection_is_checked_not_only_the_assortment(
    sandbox: MoySkladSandbox, make_client: Callable[..., MoySkladClient]
) -> None:
    sandbox.faults.partial_pages, sandbox.faults.partial_pages_on = 1, "/entity/store"

    async def stores() -> list[dict[str, Any]]:
        async with make_client(retry=FAST) as ms:
            return await ms.list_stores()

    assert len(run(stores())) == len(sandbox.store.of_type("store"))  # asked again by the client: whole
    assert sandbox.faults.partial_pages == 0
    assert request_stats().by_endpoint()[("moysklad", "/entity/store")].malformed_answers == 1


def test_a_page_cut_short_once_is_fetched_again_within_the_read(
    sandbox: MoySkladSandbox, make_client: Callable[..., MoySkladClient]
) -> None:
    sandbox.faults.partial_pages, sandbox.faults.partial_pages_on = 1, "/entity/assortment"

    async def read() -> list[dict[str, Any]]:
        async with make_client(retry=FAST) as ms:
            both = {"filter": "archived=true;archived=false"}
            return [row async for page in ms.iter_pages("/entity/assortment", both, limit=50) for row in page]

    rows = run(read())
    total = len(sandbox.store.assortment())
    assert len(rows) == len({r["id"] for r in rows}) == total  # nothing lost, nothing twice
    assert sandbox.faults.partial_pages == 0
    spent = request_stats().by_endpoint()[("moysklad", "/entity/assortment")]
    pages = -(-total // 50)
    assert (spent.requests, spent.malformed_answers) == (pages + 1, 1)  # one page asked twice, counted
    assert sandbox.log.count(path_prefix="/entity/assortment") == pages + 1


def test_a_page_cut_short_on_every_attempt_fails_naming_endpoint_and_offset(
    sandbox: MoySkladSandbox, make_client: Callable[..., MoySkladClient]
) -> None:
    sandbox.faults.partial_pages, sandbox.faults.partial_pages_on = 1000, "/entity/assortment"

    async def page_at(offset: int) -> tuple[list[dict[str, Any]], int]:
        async with make_client(retry=FAST) as ms:
            return await ms.assortment_page(offset, 50)

    message = (
        r"moysklad /entity/assortment \(HTTP 200\): /entity/assortment page at offset 50: "
        r"25 rows .* \(after 4 attempts\)"
    )
    with pytest.raises(MalformedResponseError, match=message) as info:
        run(page_at(50))
    assert info.value.retryable  # the step as a whole may still be tried again later
    assert request_stats().total("moysklad").malformed_answers == 4
    assert sandbox.log.count(path_prefix="/entity/assortment") == 4
