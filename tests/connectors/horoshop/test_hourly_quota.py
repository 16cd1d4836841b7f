"""The hourly quota: both reported refusals honoured, long waits failed fast, the budget pacing below it."""

from __future__ import annotations

import asyncio
import time

import pytest

from connectors.horoshop.client import HoroshopClient
from connectors.horoshop.sandbox import HoroshopSandbox
from connectors.horoshop.wire import envelope as wire
from connectors.http import RateBudget, RateLimitedError, RetryPolicy, request_stats
from tests.connectors.horoshop.conftest import Clock, MakeClient


def _quota_shop(clock: Clock, style: str, quota: int) -> HoroshopSandbox:
    shop = HoroshopSandbox(password="shop-password", hourly_quota=quota, quota_style=style, clock=clock)  # type: ignore[arg-type]
    shop.seed_catalog(5)
    return shop


@pytest.mark.parametrize("style", ["http", "envelope"])
def test_a_short_quota_wait_is_waited_and_the_call_repeated(style: str, make_client: MakeClient, clock: Clock) -> None:
    shop = _quota_shop(clock, style, quota=1000)
    shop.faults.rate_limit_burst = 1  # the quota is spent for one more second

    async def go() -> int:
        async with make_client() as client:
            client._http._transport = __import__("httpx").ASGITransport(app=shop.app)
            before = request_stats().by_endpoint()
            rows = [r async for page in client.iter_catalog() for r in page]
            assert request_stats().since(before).total("horoshop").rate_refusals == 1
            return len(rows)

    started = time.monotonic()
    assert asyncio.run(go()) == 5
    assert time.monotonic() - started >= 0.9  # Retry-After / "Retry after 1 seconds" was honoured


@pytest.mark.parametrize("style", ["http", "envelope"])
def test_an_hour_long_wait_fails_at_once_as_rate_limited_and_blocks_further_calls(
    style: str, make_client: MakeClient, clock: Clock
) -> None:
    shop = _quota_shop(clock, style, quota=3)

    async def go() -> tuple[RateLimitedError, RateLimitedError]:
        async with make_client(max_quota_wait=120) as client:
            client._http._transport = __import__("httpx").ASGITransport(app=shop.app)
            for _ in range(3):
                await client.call("currency/export")
            with pytest.raises(RateLimitedError) as refused:
                await client.call("currency/export")
            with pytest.raises(RateLimitedError) as held:
                await client.call("currency/export")  # not even sent
            return refused.value, held.value

    started = time.monotonic()
    refused, held = asyncio.run(go())
    assert time.monotonic() - started < 5
    assert refused.retryable and refused.status == 429
    assert "quota" in held.message
    metered = [r for r in list(shop.log) if r.path != "/auth"]
    assert [r.status for r in metered] == [200, 200, 200, 429 if style == "http" else 200]


def test_the_envelope_message_names_the_seconds() -> None:
    found = wire.parse(
        '{"status":"ERROR","response":{"code":429,"message":"You hour requests limit has been '
        'exceeded. Retry after 1712 seconds"}}'
    )
    assert wire.quota_wait(found) == 1712
    assert wire.quota_wait(wire.Envelope("ERROR", {"message": "Wrong login or password"})) is None


def test_the_budget_spends_only_the_share_of_the_quota() -> None:
    client = HoroshopClient("http://shop.test", login="a", password="p", hourly_quota=500, quota_share=0.8)
    assert isinstance(client.budget, RateBudget)
    assert client.budget.capacity == 400 and client.budget.window == 3600
    asyncio.run(client.aclose())


def test_a_run_paced_by_the_budget_is_never_refused(clock: Clock) -> None:
    """A quota of 30 an hour and 40 calls: the budget (share 0.8 = 24) makes the rest wait, not be refused."""

    class Fake:
        def __init__(self) -> None:
            self.t = 0.0

        def monotonic(self) -> float:
            return self.t

        async def sleep(self, seconds: float) -> None:
            self.t += seconds
            clock.now += seconds

    fake = Fake()
    shop = _quota_shop(clock, "http", quota=30)
    budget = RateBudget(capacity=24, window_seconds=3600, max_in_flight=2, margin_seconds=60, clock=fake)

    async def go() -> None:
        client = HoroshopClient(
            "http://shop.test",
            login="apiadmin",
            password="shop-password",
            transport=__import__("httpx").ASGITransport(app=shop.app),
            budget=budget,
            clock=clock,
            retry=RetryPolicy(base_delay=0.01),
        )
        async with client:
            for _ in range(40):
                await client.call("currency/export")

    asyncio.run(go())
    assert all(r.status == 200 for r in list(shop.log))
    assert fake.t >= 3600  # the 25th call waited for the hour to move
