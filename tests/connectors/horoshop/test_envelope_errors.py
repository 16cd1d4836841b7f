"""Errors under HTTP 200, HTML pages and missing modules, each as the typed error of the shared table."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from connectors.horoshop.sandbox import HoroshopSandbox
from connectors.horoshop.wire import envelope as wire
from connectors.http import NotFoundError, RequestValidationError, ServerError, request_stats
from tests.connectors.horoshop.conftest import MakeClient


def test_an_html_page_is_the_shop_unavailable_and_is_retried(shop: HoroshopSandbox, make_client: MakeClient) -> None:
    async def go() -> int:
        async with make_client() as client:
            await client.call("currency/export")
            shop.html_pages = 2
            return len(await client.available_statuses())

    assert asyncio.run(go()) == len(shop.state.statuses)
    assert shop.faults.fired["html_page"] == 2


def test_an_html_page_that_persists_fails_as_a_server_error_saying_so(
    shop: HoroshopSandbox, make_client: MakeClient
) -> None:
    async def go() -> ServerError:
        async with make_client() as client:
            await client.call("currency/export")
            shop.html_pages = 100
            with pytest.raises(ServerError) as failed:
                await client.call("orders/get")
            return failed.value

    error = asyncio.run(go())
    assert error.status == 503 and "web page instead of the API" in error.message


def test_undefined_function_is_a_missing_module_not_empty_data(make_client: MakeClient, clock: object) -> None:
    shop = HoroshopSandbox(password="shop-password", missing={"orders/get_available_statuses"})

    async def go() -> None:
        async with make_client() as client:
            client._http._transport = __import__("httpx").ASGITransport(app=shop.app)
            with pytest.raises(NotFoundError) as missing:
                await client.available_statuses()
            assert missing.value.status == 404 and "UNDEFINED_FUNCTION" in missing.value.message

    asyncio.run(go())


def test_an_error_envelope_is_a_refused_request_with_the_shops_message(make_client: MakeClient) -> None:
    async def go() -> RequestValidationError:
        async with make_client() as client:
            with pytest.raises(RequestValidationError) as refused:
                await client.call("orders/get", {"from": "yesterday"})
            return refused.value

    error = asyncio.run(go())
    assert error.status == 400 and "wrong date format" in error.message


def test_empty_is_no_rows_not_an_error(make_client: MakeClient) -> None:
    async def go() -> list[dict[str, Any]]:
        async with make_client() as client:
            return await client.orders_page({"from": "2001-01-01", "to": "2001-01-02"}, 0)

    assert asyncio.run(go()) == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"status": "UNAUTHORIZED", "response": {"message": "token expired"}}, 401),
        ({"status": "ERROR", "response": {"message": "bad"}}, 400),
        ({"status": "EXCEPTION", "response": {"message": "boom"}}, 500),
        ({"status": "UNDEFINED_FUNCTION", "response": []}, 404),
        ({"status": "HTTP_ERROR", "response": {"code": 502, "message": "bad gateway"}}, 502),
        (wire.quota_message(60), 429),
        ({"status": "OK", "response": {}}, None),
        ({"status": "WARNING", "response": {"log": []}}, None),
    ],
)
def test_each_envelope_status_stands_for_an_http_status(body: dict[str, object], status: int | None) -> None:
    assert wire.equivalent_status(wire.Envelope(str(body["status"]), body["response"])) == status


def test_requests_are_counted_under_the_system(make_client: MakeClient) -> None:
    before = request_stats().by_endpoint()

    async def go() -> None:
        async with make_client() as client:
            await client.call("currency/export")

    asyncio.run(go())
    assert request_stats().since(before).total("horoshop").requests == 2  # auth + the call
