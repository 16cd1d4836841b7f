"""Sign-in: the token in every body, renewed before its 600 s end, and once more when refused mid-run."""

from __future__ import annotations

import asyncio

import pytest

from connectors.horoshop.sandbox import HoroshopSandbox
from connectors.http import AuthError
from tests.connectors.horoshop.conftest import Clock, MakeClient, sample


def test_the_token_travels_in_the_body_and_one_sign_in_serves_many_calls(
    shop: HoroshopSandbox, make_client: MakeClient
) -> None:
    async def go() -> int:
        async with make_client() as client:
            for _ in range(5):
                await client.call("currency/export")
            return client.sign_ins

    assert asyncio.run(go()) == 1
    paths = [r.path for r in list(shop.log)]
    assert paths.count("/auth") == 1 and paths.count("/currency/export") == 5


def test_a_token_near_its_end_is_renewed_before_a_call(
    shop: HoroshopSandbox, make_client: MakeClient, clock: Clock
) -> None:
    async def go() -> int:
        async with make_client() as client:
            await client.call("currency/export")
            clock.now += 580  # 20 s left: less than the 30 s the client keeps in hand
            await client.call("currency/export")
            return client.sign_ins

    assert asyncio.run(go()) == 2
    assert all(r.status == 200 for r in list(shop.log))  # renewed before, never refused


def test_a_token_expired_mid_run_signs_in_once_more_and_the_run_goes_on(
    shop: HoroshopSandbox, make_client: MakeClient
) -> None:
    async def go() -> tuple[int, int]:
        async with make_client() as client:
            first = [o async for page in client.iter_orders({}, limit=5) for o in page]
            shop.state.expire_tokens()  # revoked early (the shop's clock, an admin resetting sessions)
            again = [o async for page in client.iter_orders({}, limit=5) for o in page]
            assert [o["order_id"] for o in again] == [o["order_id"] for o in first]
            return client.sign_ins, len(again)

    sign_ins, read = asyncio.run(go())
    assert sign_ins == 2 and read == 12
    refused = [r for r in list(shop.log) if r.path == "/orders/get" and r.status == 200]
    assert len(refused) >= 7  # 3 pages + the one refused + 3 pages (all under HTTP 200)


def test_a_wrong_password_is_an_auth_error_not_repeated(shop: HoroshopSandbox, make_client: MakeClient) -> None:
    async def go() -> AuthError:
        async with make_client(password="wrong") as client:
            with pytest.raises(AuthError) as refused:
                await client.call("orders/get")
            return refused.value

    error = asyncio.run(go())
    assert error.status == 401 and "wrong" not in str(error).split("apiadmin")[0]
    assert "Wrong login or password" in str(error)
    assert [r.path for r in list(shop.log)] == ["/auth"]


def test_the_sandbox_answers_auth_as_the_sample_does(shop: HoroshopSandbox) -> None:
    exchange = sample("horoshop-auth.exchange.json")
    assert set(exchange["response_ok"]) == {"status", "response"} and "token" in exchange["response_ok"]["response"]
    assert shop._auth({"login": "apiadmin", "password": "nope"}) == exchange["response_error"]
    ok = shop._auth({"login": "apiadmin", "password": "shop-password"})
    assert ok["status"] == "OK" and set(ok["response"]) == {"token"}
