"""How the client speaks retailCRM: auth header, form bodies with JSON fields, brackets, errors."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qsl

import httpx
import pytest

from connectors.http import (
    AuthError,
    MalformedResponseError,
    NotFoundError,
    RequestValidationError,
    RetryPolicy,
    request_stats,
)
from connectors.retailcrm.client import RetailCRMClient, api_url
from connectors.retailcrm.sandbox import RetailCRMSandbox

from .conftest import KEY, MakeClient


class Recording(httpx.AsyncBaseTransport):
    """Forwards to the sandbox and keeps every request (what went over the wire)."""

    def __init__(self, app: object) -> None:
        self.inner = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.requests.append(request)
        return await self.inner.handle_async_request(request)


def test_account_url_gets_api_v5_once() -> None:
    assert api_url("https://demo.retailcrm.ru/") == "https://demo.retailcrm.ru/api/v5"
    assert api_url("https://demo.retailcrm.ru/api/v5") == "https://demo.retailcrm.ru/api/v5"


def test_key_travels_in_the_header_and_posts_are_forms_with_json_fields(sandbox: RetailCRMSandbox) -> None:
    transport = Recording(sandbox.app)
    offer = sandbox.offers[1]

    async def go() -> None:
        async with RetailCRMClient("http://crm.test", api_key=KEY, site="main", transport=transport) as client:
            await client.upload_inventories([{"xmlId": offer["xmlId"], "stores": [{"code": "main", "available": 0}]}])
            async for _ in client.iter_offers({"ids": [1, 2], "active": True}):
                break

    asyncio.run(go())
    post, get = transport.requests
    assert post.url.path == "/api/v5/store/inventories/upload"
    assert post.headers["X-API-KEY"] == KEY and "apiKey" not in str(post.url)
    assert post.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = dict(parse_qsl(post.content.decode()))
    assert form["site"] == "main"
    assert json.loads(form["offers"]) == [{"xmlId": offer["xmlId"], "stores": [{"code": "main", "available": 0}]}]
    assert get.url.params.get_list("filter[ids][]") == ["1", "2"]
    assert get.url.params["filter[active]"] == "1" and get.url.params["limit"] == "100"


def test_html_answer_is_a_config_error_without_retry(sandbox: RetailCRMSandbox, make_client: MakeClient) -> None:
    sandbox.account_exists = False

    async def go() -> None:
        async with make_client() as client:
            await client.reference("statuses")

    with pytest.raises(AuthError, match="account does not exist"):
        asyncio.run(go())
    assert len(sandbox.log) == 1


def test_wrong_and_missing_key_use_the_official_texts(sandbox: RetailCRMSandbox, make_client: MakeClient) -> None:
    async def go() -> None:
        async with make_client(api_key="wrong-key-123") as client:
            await client.reference("statuses")

    with pytest.raises(AuthError) as caught:
        asyncio.run(go())
    assert caught.value.status == 403 and 'Wrong "apiKey" value.' in caught.value.message
    assert "wrong-key-123" not in str(caught.value)

    async def missing() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.app)) as http:
            return await http.get("http://t/api/v5/reference/sites")

    assert asyncio.run(missing()).json() == {"success": False, "errorMsg": '"apiKey" is missing.'}


def test_site_is_required_when_the_key_covers_several_stores() -> None:
    sb = RetailCRMSandbox(sites=("shop-a", "shop-b"))
    sb.seed_catalog(4, site="shop-a")
    order = {"externalId": "x1", "items": [{"offer": {"id": 1}, "quantity": 1, "initialPrice": 10}]}

    async def go(site: str | None) -> dict:
        async with RetailCRMClient(
            "http://crm.test", api_key="sandbox-key", site=site, transport=httpx.ASGITransport(app=sb.app)
        ) as client:
            return await client.create_order(order)

    with pytest.raises(RequestValidationError, match="Parameter 'site' is missing"):
        asyncio.run(go(None))
    assert asyncio.run(go("shop-a"))["site"] == "shop-a"


def test_validation_errors_carry_the_crm_texts(make_client: MakeClient) -> None:
    async def go() -> None:
        async with make_client() as client:
            await client.create_order({"status": "no-such", "items": [{"offer": {"id": 999999}, "quantity": 1}]})

    with pytest.raises(RequestValidationError) as caught:
        asyncio.run(go())
    assert "items[0].offer.id: Offer with id 999999 not found." in caught.value.message
    assert 'Status "no-such" does not exist.' in caught.value.message


def test_not_found_and_request_counting(make_client: MakeClient) -> None:
    async def go() -> None:
        async with make_client() as client:
            await client.get_order("nope")

    with pytest.raises(NotFoundError):
        asyncio.run(go())
    assert request_stats().total("retailcrm").requests == 1
    assert ("retailcrm", "/orders/{uid}") in request_stats().by_endpoint()


def test_sandbox_page_limits_are_20_50_100(sandbox: RetailCRMSandbox) -> None:
    async def go(limit: int) -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.app)) as http:
            return await http.get(f"http://t/api/v5/store/offers?limit={limit}", headers={"X-API-KEY": KEY})

    expected = {"limit": 50, "totalCount": 40, "currentPage": 1, "totalPageCount": 1}
    assert asyncio.run(go(50)).json()["pagination"] == expected
    assert asyncio.run(go(250)).status_code == 400


BROKEN_RETRY = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.002)


def _answering(*bodies: bytes) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """A server answering ``bodies`` in turn with 200 (the last one repeats), and its requests."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = bodies[min(len(seen), len(bodies)) - 1]
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})

    return httpx.MockTransport(answer), seen


@pytest.mark.parametrize(
    "body, what", [(b'{"success": true, "offers": [', "not JSON"), (b'[{"success": true}]', "not the API's envelope")]
)
def test_a_broken_success_answer_is_asked_again_then_a_retryable_malformed_response(body: bytes, what: str) -> None:
    transport, seen = _answering(body)

    async def go() -> None:
        async with RetailCRMClient(
            "https://shop.retailcrm.ru", api_key=KEY, transport=transport, retry=BROKEN_RETRY
        ) as crm:
            await crm.sites()

    with pytest.raises(MalformedResponseError, match=rf"{what}.*after 3 attempts") as info:
        asyncio.run(go())
    assert info.value.retryable
    assert len(seen) == 3 and request_stats().total("retailcrm").malformed_answers == 3


def test_a_success_answer_broken_once_is_read_on_the_second_attempt() -> None:
    whole = b'{"success": true, "sites": {"a": {"code": "a"}}}'
    transport, seen = _answering(whole[:30], whole)

    async def go() -> dict[str, dict[str, object]]:
        async with RetailCRMClient(
            "https://shop.retailcrm.ru", api_key=KEY, transport=transport, retry=BROKEN_RETRY
        ) as crm:
            return await crm.sites()

    assert asyncio.run(go()) == {"a": {"code": "a"}}
    assert len(seen) == 2 and request_stats().total("retailcrm").malformed_answers == 1


def test_a_broken_answer_to_a_plain_create_is_not_repeated() -> None:
    """The create went through before its answer broke: repeating it would make a second customer."""
    transport, seen = _answering(b'{"success": true, "id": ')

    async def go() -> None:
        async with RetailCRMClient(
            "https://shop.retailcrm.ru", api_key=KEY, transport=transport, retry=BROKEN_RETRY
        ) as crm:
            await crm.create_customer({"firstName": "Ada"})

    with pytest.raises(MalformedResponseError, match="not repeated"):
        asyncio.run(go())
    assert len(seen) == 1
