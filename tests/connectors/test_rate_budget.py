"""The rate budget holds over a burst, follows server headers, and is an interface others can implement.

Every timing test runs on virtual time (:class:`~tests.connectors.virtual_time.VirtualTime`): the
budget and the server read one clock that jumps to the next timer, so the assertions are exact
and do not depend on how loaded the machine is. (The burst test used to measure arrival times
at a real loopback server: on a busy machine a request could reach the server later than the 5%
margin after the budget let it go while the next one arrived promptly, and the server then saw
33 units in a 30-unit window, a failure of the test's clock, not of the budget.)
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import ClassVar

import httpx
import pytest

from connectors.http import BaseClient, Budget, RateBudget, RateInfo, request_stats, shared_budget
from tests.connectors.virtual_time import VirtualTime


class ArrivalRecorder:
    """A server (an httpx transport) that records when each request arrived and how many ran at once.

    Args:
        clock: the virtual time arrivals are stamped with.
        work_seconds: how long the server takes to answer.
        max_latency: the longest network delay before a request arrives (each one drawn at random).
    """

    def __init__(self, clock: VirtualTime, work_seconds: float = 0.005, max_latency: float = 0.0) -> None:
        self.clock = clock
        self.arrivals: list[tuple[float, float]] = []
        self.concurrent = 0
        self.max_concurrent = 0
        self.work_seconds = work_seconds
        self.max_latency = max_latency
        self._rng = random.Random(7)
        self.transport = httpx.MockTransport(self.answer)

    async def answer(self, request: httpx.Request) -> httpx.Response:
        if self.max_latency:
            await asyncio.sleep(self._rng.uniform(0, self.max_latency))
        self.arrivals.append((self.clock.now, float(request.headers.get("x-weight", "1"))))
        self.concurrent += 1
        self.max_concurrent = max(self.max_concurrent, self.concurrent)
        await asyncio.sleep(self.work_seconds)
        self.concurrent -= 1
        return httpx.Response(200, json={"ok": True})

    def max_units_in_any_window(self, window: float) -> float:
        arrivals = sorted(self.arrivals)
        worst = 0.0
        for i, (start, _) in enumerate(arrivals):
            units = sum(w for at, w in arrivals[i:] if at < start + window)
            worst = max(worst, units)
        return worst


class PingClient(BaseClient):
    system: ClassVar[str] = "test"


def burst(clock: VirtualTime, budget: Budget, server: ArrivalRecorder, weight: float, calls: int = 200) -> float:
    """``calls`` concurrent requests of ``weight``; returns the virtual seconds they took."""

    async def go() -> float:
        started = clock.now
        async with PingClient("http://t", budget=budget, transport=server.transport) as client:
            await asyncio.gather(
                *(
                    client.request("GET", "/ping", headers={"x-weight": str(weight)}, weight=weight)
                    for _ in range(calls)
                )
            )
        return clock.now - started

    return clock.run(go())


@pytest.mark.parametrize("weight", [1.0, 3.0])
def test_burst_of_200_calls_never_exceeds_budget(weight: float) -> None:
    clock = VirtualTime()
    capacity, window, in_flight = 30.0, 0.5, 4
    budget = RateBudget(capacity, window, in_flight, name="burst", clock=clock)
    server = ArrivalRecorder(clock)

    took = burst(clock, budget, server, weight)

    assert len(server.arrivals) == 200
    assert server.max_units_in_any_window(window) <= capacity
    assert server.max_concurrent <= in_flight
    stats = request_stats().total("test")
    assert stats.requests == 200 and stats.weight == pytest.approx(200 * weight)
    # and it does not crawl: one window (plus the 5% margin) per capacity's worth of units
    windows = int(200 * weight // capacity) - (1 if 200 * weight % capacity == 0 else 0)
    assert windows * window * 1.05 <= took <= (windows + 1) * window * 1.05


def test_network_jitter_within_the_margin_never_breaks_the_servers_window() -> None:
    """What the margin is for: requests reaching the server up to 25 ms after the budget let them go."""
    clock = VirtualTime()
    budget = RateBudget(30.0, 0.5, 4, clock=clock)  # margin: 5% of the window, 25 ms
    server = ArrivalRecorder(clock, max_latency=0.025)

    burst(clock, budget, server, 1.0)

    assert server.max_units_in_any_window(0.5) <= 30.0


def test_budget_is_shared_by_every_client_of_one_credential() -> None:
    first = shared_budget(("ms", "acct", "fp1"), lambda: RateBudget(45, 3, 5))
    again = shared_budget(("ms", "acct", "fp1"), lambda: RateBudget(1, 1, 1))
    other = shared_budget(("ms", "acct", "fp2"), lambda: RateBudget(45, 3, 5))
    assert first is again
    assert other is not first


def waited_for_slots(clock: VirtualTime, budget: RateBudget, slots: int) -> float:
    async def go() -> float:
        started = clock.now
        for _ in range(slots):
            async with budget.acquire(1):
                pass
        return clock.now - started

    return clock.run(go())


def test_server_headers_slow_us_down_when_someone_else_spends_the_budget() -> None:
    clock = VirtualTime()
    budget = RateBudget(10, 1.0, 5, margin_seconds=0, clock=clock)
    # the server says only 1 unit is left: another process spent the rest
    clock.run(budget.observe(remaining=1, reset_seconds=None, limit=10))
    # the first slot takes that unit; the second waits for the booked 9 to leave the window
    assert waited_for_slots(clock, budget, 2) == pytest.approx(1.0)


def test_nothing_left_blocks_until_the_servers_reset() -> None:
    clock = VirtualTime()
    budget = RateBudget(45, 3.0, 5, clock=clock)
    clock.run(budget.observe(remaining=0, reset_seconds=0.3, limit=45))
    assert waited_for_slots(clock, budget, 1) == pytest.approx(0.3)


def test_a_penalty_holds_every_new_request() -> None:
    clock = VirtualTime()
    budget = RateBudget(45, 3.0, 5, clock=clock)
    clock.run(budget.penalize(2.5))
    assert waited_for_slots(clock, budget, 1) == pytest.approx(2.5)
    assert waited_for_slots(clock, budget, 3) == 0.0


def test_rate_info_hook_feeds_the_budget() -> None:
    """A connector's header parser is consulted on every response."""
    seen: list[RateInfo] = []

    class HeaderClient(BaseClient):
        system: ClassVar[str] = "test"

        def rate_info(self, response: httpx.Response) -> RateInfo:
            info = RateInfo(remaining=float(response.headers["x-left"]), limit=45)
            seen.append(info)
            return info

    transport = httpx.MockTransport(lambda req: httpx.Response(200, headers={"x-left": "44"}, json={}))
    budget = RateBudget(45, 3, 5)

    async def run() -> None:
        async with HeaderClient("http://t", budget=budget, transport=transport) as client:
            await client.request("GET", "/x")

    asyncio.run(run())
    assert seen and seen[0].remaining == 44


class LedgerBudget:
    """Another :class:`Budget` (as a cross-process one would be): records what the client tells it."""

    max_in_flight = 2

    def __init__(self) -> None:
        self.acquired: list[float] = []
        self.observed: list[float | None] = []
        self.penalties: list[float] = []

    @asynccontextmanager
    async def acquire(self, weight: float = 1.0) -> AsyncIterator[None]:
        self.acquired.append(weight)
        yield

    async def observe(
        self, remaining: float | None, reset_seconds: float | None = None, limit: float | None = None
    ) -> None:
        self.observed.append(remaining)

    async def penalize(self, seconds: float) -> None:
        self.penalties.append(seconds)


def test_any_budget_implementation_plugs_into_the_client() -> None:
    answers = iter(
        [httpx.Response(429, headers={"Retry-After": "0"}), httpx.Response(200, headers={"Retry-After": "0"}, json={})]
    )
    ledger = LedgerBudget()

    class LeftClient(PingClient):
        def rate_info(self, response: httpx.Response) -> RateInfo:
            return RateInfo(remaining=7, retry_after_seconds=0.0)

    async def run() -> None:
        async with LeftClient("http://t", budget=ledger, transport=httpx.MockTransport(lambda r: next(answers))) as c:
            await c.request("GET", "/x", weight=3)

    asyncio.run(run())
    assert ledger.acquired == [3, 3]  # the refused request and its retry each asked for a slot
    assert ledger.observed == [7, 7]
    assert len(ledger.penalties) == 1  # the refusal made everyone on the credential wait
