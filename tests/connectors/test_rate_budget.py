"""The rate budget holds over a burst against a real local server, and follows server headers."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import ClassVar

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectors.http import BaseClient, RateBudget, RateInfo, request_stats, shared_budget
from connectors.sandboxing import LoopbackServer


class ArrivalRecorder:
    """A tiny server that records when each request arrived and how many ran at once."""

    def __init__(self, work_seconds: float = 0.005) -> None:
        self.arrivals: list[tuple[float, float]] = []
        self.concurrent = 0
        self.max_concurrent = 0
        self.work_seconds = work_seconds
        self._lock = threading.Lock()
        self.app = Starlette(routes=[Route("/ping", self.ping)])

    async def ping(self, request: Request) -> JSONResponse:
        weight = float(request.headers.get("x-weight", "1"))
        with self._lock:
            self.arrivals.append((time.monotonic(), weight))
            self.concurrent += 1
            self.max_concurrent = max(self.max_concurrent, self.concurrent)
        await asyncio.sleep(self.work_seconds)
        with self._lock:
            self.concurrent -= 1
        return JSONResponse({"ok": True})

    def max_units_in_any_window(self, window: float) -> float:
        arrivals = sorted(self.arrivals)
        worst = 0.0
        for i, (start, _) in enumerate(arrivals):
            units = sum(w for at, w in arrivals[i:] if at < start + window)
            worst = max(worst, units)
        return worst


class PingClient(BaseClient):
    system: ClassVar[str] = "test"


@pytest.mark.parametrize("weight", [1.0, 3.0])
def test_burst_of_200_calls_never_exceeds_budget(weight: float) -> None:
    recorder = ArrivalRecorder()
    capacity, window, in_flight = 30.0, 0.5, 4
    budget = RateBudget(capacity, window, in_flight, name="burst")

    async def burst(url: str) -> None:
        client = PingClient(url, budget=budget)
        async with client:
            await asyncio.gather(*(
                client.request("GET", "/ping", headers={"x-weight": str(weight)}, weight=weight)
                for _ in range(200)
            ))

    with LoopbackServer(recorder.app) as server:
        asyncio.run(burst(server.url))

    assert len(recorder.arrivals) == 200
    assert recorder.max_units_in_any_window(window) <= capacity
    assert recorder.max_concurrent <= in_flight
    stats = request_stats().total("test")
    assert stats.requests == 200 and stats.weight == pytest.approx(200 * weight)


def test_budget_is_shared_by_every_client_of_one_credential() -> None:
    first = shared_budget(("ms", "acct", "fp1"), lambda: RateBudget(45, 3, 5))
    again = shared_budget(("ms", "acct", "fp1"), lambda: RateBudget(1, 1, 1))
    other = shared_budget(("ms", "acct", "fp2"), lambda: RateBudget(45, 3, 5))
    assert first is again
    assert other is not first


def test_server_headers_slow_us_down_when_someone_else_spends_the_budget() -> None:
    budget = RateBudget(10, 1.0, 5, margin_seconds=0)

    async def run() -> float:
        # the server says only 1 unit is left: another process spent the rest
        budget.observe(remaining=1, reset_seconds=None, limit=10)
        started = time.monotonic()
        for _ in range(2):
            async with budget.slot(1):
                pass
        return time.monotonic() - started

    assert asyncio.run(run()) >= 0.9


def test_nothing_left_blocks_until_the_servers_reset() -> None:
    budget = RateBudget(45, 3.0, 5)

    async def run() -> float:
        budget.observe(remaining=0, reset_seconds=0.3, limit=45)
        started = time.monotonic()
        async with budget.slot(1):
            pass
        return time.monotonic() - started

    assert asyncio.run(run()) >= 0.25


def test_rate_info_hook_feeds_the_budget() -> None:
    """A connector's header parser is consulted on every response."""
    seen: list[RateInfo] = []

    class HeaderClient(BaseClient):
        system: ClassVar[str] = "test"

        def rate_info(self, response):  # type: ignore[no-untyped-def]
            info = RateInfo(remaining=float(response.headers["x-left"]), limit=45)
            seen.append(info)
            return info

    import httpx

    transport = httpx.MockTransport(lambda req: httpx.Response(200, headers={"x-left": "44"}, json={}))
    budget = RateBudget(45, 3, 5)

    async def run() -> None:
        async with HeaderClient("http://t", budget=budget, transport=transport) as client:
            await client.request("GET", "/x")

    asyncio.run(run())
    assert seen and seen[0].remaining == 44
