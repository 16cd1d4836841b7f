"""The Redis-shared rate budget keeps the in-process budget's rules across every holder of its key.

Each "process" here is a :class:`RedisBudget` object of its own on the same key (they share nothing
but Redis), or a real child process where dying matters. Windows are checked on the bucket's own
clock (Redis ``TIME``, the ``grants`` each taken slot reports), never on arrival times at a server:
those depend on how loaded the machine is (see ``tests/connectors/test_rate_budget.py``).
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
import redis.asyncio as aioredis

from connectors.http import RateBudget, fingerprint, shared_budget
from connectors.http.budget import REDIS_URL_ENV
from connectors.http.redis_budget import BudgetUnavailableError, RedisBudget, redis_tag
from connectors.moysklad.client import MoySkladClient
from connectors.moysklad.sandbox import API_PREFIX, MoySkladSandbox
from tests.connectors.virtual_time import VirtualTime

REPO = Path(__file__).resolve().parents[3]


def budget(
    url: str,
    prefix: str,
    *,
    key: tuple[str, ...] = ("moysklad", "host", "fp"),
    capacity: float = 10,
    window: float = 0.3,
    in_flight: int = 5,
    **options: object,
) -> RedisBudget:
    b = RedisBudget(url, key, capacity, window, in_flight, prefix=prefix, **options)  # type: ignore[arg-type]
    b.grants = []
    return b


def redis_now_us(url: str) -> int:
    with redis.Redis.from_url(url) as client:
        seconds, micros = client.time()
    return int(seconds) * 1_000_000 + int(micros)


def leases(url: str, b: RedisBudget) -> int:
    with redis.Redis.from_url(url) as client:
        return int(client.zcard(b.keys[1]))


def worst_window(grants: list[tuple[int, float]], span_us: int) -> float:
    """The most units granted in any window of ``span_us`` (Redis time)."""
    times = sorted(grants)
    return max(sum(w for t, w in times[i:] if t < start + span_us) for i, (start, _) in enumerate(times))


@pytest.fixture
def no_shared_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.delenv(REDIS_URL_ENV, raising=False)
    yield monkeypatch


# -- the bucket's rules ------------------------------------------------------------------------------
def test_no_window_carries_more_than_capacity_across_holders(redis_url: str, redis_prefix: str) -> None:
    holders = [budget(redis_url, redis_prefix) for _ in range(3)]
    weights = random.Random(3).choices([1.0, 2.0, 3.0], k=24)

    async def one(b: RedisBudget, weight: float) -> None:
        async with b.acquire(weight):
            await asyncio.sleep(0.002)

    async def run() -> None:
        await asyncio.gather(*(one(holders[i % 3], w) for i, w in enumerate(weights)))
        for b in holders:
            await b.aclose()

    asyncio.run(run())
    grants = [g for b in holders for g in b.grants or []]
    assert len(grants) == len(weights)
    assert all(b.grants for b in holders)  # every holder got slots: they did share
    span = holders[0]._span_us
    assert worst_window(grants, span) <= 10
    # the window really was the binding limit: the run took several windows, not one burst
    times = sorted(t for t, _ in grants)
    assert times[-1] - times[0] >= (sum(weights) / 10 - 1) * span


def test_in_flight_cap_holds_across_holders(redis_url: str, redis_prefix: str) -> None:
    holders = [budget(redis_url, redis_prefix, capacity=1000, in_flight=2) for _ in range(2)]
    now = peak = 0

    async def one(b: RedisBudget) -> None:
        nonlocal now, peak
        async with b.acquire():
            now += 1
            peak = max(peak, now)
            await asyncio.sleep(0.03)
            now -= 1

    async def run() -> None:
        await asyncio.gather(*(one(holders[i % 2]) for i in range(12)))
        for b in holders:
            await b.aclose()

    asyncio.run(run())
    assert peak == 2
    assert leases(redis_url, holders[0]) == 0  # every place given back


def test_a_cancelled_wait_gives_its_place_back(redis_url: str, redis_prefix: str) -> None:
    b = budget(redis_url, redis_prefix, capacity=1000, in_flight=2)

    async def one(hold: float) -> None:
        async with b.acquire():
            await asyncio.sleep(hold)

    async def run() -> None:
        rng = random.Random(5)
        tasks = [asyncio.create_task(one(0.02)) for _ in range(30)]
        for task in tasks:
            await asyncio.sleep(rng.uniform(0, 0.004))
            if rng.random() < 0.5:
                task.cancel()  # waiting, mid-call to Redis, or holding a place
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(0.1)  # the background releases of cancelled calls
        await b.aclose()

    asyncio.run(run())
    assert b.in_flight == 0
    assert leases(redis_url, b) == 0


def test_a_place_taken_by_a_call_whose_answer_was_cancelled_is_given_back(
    redis_url: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    b = budget(redis_url, redis_prefix, capacity=1000, in_flight=1)
    real_call = b._call

    async def taken_then_cancelled(*args: object) -> object:
        await real_call(*args)  # type: ignore[arg-type]  # Redis took the place ...
        raise asyncio.CancelledError  # ... but the caller was cancelled before it heard so

    async def run() -> None:
        monkeypatch.setattr(b, "_call", taken_then_cancelled)
        with pytest.raises(asyncio.CancelledError):
            async with b.acquire():
                pytest.fail("not reached")
        monkeypatch.setattr(b, "_call", real_call)
        await asyncio.sleep(0.05)  # the background release
        async with b.acquire():  # the only place is free again, now and not after the lease
            pass
        await b.aclose()

    asyncio.run(asyncio.wait_for(run(), timeout=5))
    assert leases(redis_url, b) == 0 and len(b.grants or []) == 1


KILLED_HOLDER = """
import asyncio, sys, time
from connectors.http.redis_budget import RedisBudget

async def main():
    b = RedisBudget(sys.argv[1], ("moysklad", "host", "fp"), 100, 1.0, 1, prefix=sys.argv[2], lease_seconds=1.0)
    async with b.acquire():
        print("held", flush=True)
        time.sleep(120)  # killed long before

asyncio.run(main())
"""


def test_the_lease_of_a_killed_holder_lapses(redis_url: str, redis_prefix: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(KILLED_HOLDER), redis_url, redis_prefix],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
    finally:
        child.kill()
        child.wait(timeout=10)
    b = budget(redis_url, redis_prefix, capacity=100, window=1.0, in_flight=1)
    assert leases(redis_url, b) == 1  # the dead holder's place is still taken ...
    killed_at = redis_now_us(redis_url)

    async def run() -> None:
        async with b.acquire():
            pass
        await b.aclose()

    asyncio.run(asyncio.wait_for(run(), timeout=10))  # ... until its lease lapses, not for ever
    assert b.grants and b.grants[0][0] > killed_at
    assert leases(redis_url, b) == 0


def test_a_request_longer_than_its_lease_keeps_its_place(redis_url: str, redis_prefix: str) -> None:
    long, other = (budget(redis_url, redis_prefix, capacity=100, in_flight=1, lease_seconds=0.6) for _ in range(2))
    order: list[str] = []

    async def hold() -> None:
        async with long.acquire():
            order.append("long in")
            await asyncio.sleep(1.5)  # two and a half leases: renewed, not lapsed
            order.append("long out")

    async def wait_turn() -> None:
        await asyncio.sleep(0.1)
        async with other.acquire():
            order.append("other in")

    async def run() -> None:
        await asyncio.gather(hold(), wait_turn())
        await long.aclose()
        await other.aclose()

    asyncio.run(run())
    assert order == ["long in", "long out", "other in"]


def test_penalize_blocks_every_holder(redis_url: str, redis_prefix: str) -> None:
    refused, other = budget(redis_url, redis_prefix), budget(redis_url, redis_prefix)

    async def run() -> int:
        before = redis_now_us(redis_url)
        await refused.penalize(0.4)
        async with other.acquire():
            pass
        await refused.aclose()
        await other.aclose()
        return before

    before = asyncio.run(run())
    assert other.grants and other.grants[0][0] >= before + 400_000


def test_headers_saying_nothing_is_left_block_every_holder(redis_url: str, redis_prefix: str) -> None:
    seen, other = budget(redis_url, redis_prefix, capacity=45, window=3.0), budget(redis_url, redis_prefix)

    async def run() -> int:
        before = redis_now_us(redis_url)
        await seen.observe(0, reset_seconds=0.3, limit=45)
        async with other.acquire():
            pass
        await seen.aclose()
        await other.aclose()
        return before

    before = asyncio.run(run())
    assert other.grants and other.grants[0][0] >= before + 300_000


def test_a_429_seen_by_one_client_holds_a_client_in_another_process(
    redis_url: str, no_shared_env: pytest.MonkeyPatch
) -> None:
    """Real client code: MoySklad refuses one request; the client's penalty holds another process's budget."""
    no_shared_env.setenv(REDIS_URL_ENV, redis_url)
    token = f"tok-{os.urandom(6).hex()}"
    sandbox = MoySkladSandbox(token=token, token_kind="app")
    sandbox.faults.rate_limit_burst = 1
    client = MoySkladClient(
        "http://ms.test" + API_PREFIX, token=token, token_kind="app", transport=httpx.ASGITransport(app=sandbox.app)
    )
    assert isinstance(client.budget, RedisBudget)
    shared = client.budget
    elsewhere = RedisBudget.like(shared, ("moysklad", "ms.test", fingerprint(token, None, None)), redis_url)
    elsewhere.grants = []
    assert elsewhere.keys == shared.keys  # another process's budget of the same credential

    async def run() -> int:
        watcher = aioredis.Redis.from_url(redis_url)
        try:
            async with client:
                request = asyncio.create_task(client.list_stores())  # refused once (429), then answered
                until = None
                while until is None and not request.done():
                    until = await watcher.get(shared.keys[2])
                    await asyncio.sleep(0.002)
                assert until is not None, "the refusal left no penalty in Redis"
                async with elsewhere.acquire():
                    pass
                await request
        finally:
            await watcher.delete(*shared.keys)
            await watcher.aclose()
            await elsewhere.aclose()
            await shared.aclose()
        return int(until)

    until = asyncio.run(run())
    assert sandbox.log.count(status=429) == 1 and sandbox.log.count(status=200) == 1
    assert elsewhere.grants and elsewhere.grants[0][0] >= until  # it waited out the whole penalty


# -- wiring: when it is used, and what reaches Redis -----------------------------------------------
def test_without_the_setting_a_single_process_keeps_its_own_budget(no_shared_env: pytest.MonkeyPatch) -> None:
    client = MoySkladClient("http://ms.test" + API_PREFIX, token="t0k", token_kind="app")
    assert type(client.budget) is RateBudget


def test_with_the_setting_clients_of_a_credential_share_one_redis_bucket(
    redis_url: str, no_shared_env: pytest.MonkeyPatch
) -> None:
    no_shared_env.setenv(REDIS_URL_ENV, redis_url)
    one = MoySkladClient("http://ms.test" + API_PREFIX, token="t0k", token_kind="app")
    two = MoySkladClient("http://ms.test" + API_PREFIX, token="t0k", token_kind="app")
    assert isinstance(one.budget, RedisBudget) and one.budget is two.budget
    assert (one.budget.capacity, one.budget.window, one.budget.max_in_flight) == (45.0, 3.0, 5)
    # a budget on a test's own clock is never swapped: Redis time is not that clock
    on_virtual = shared_budget(("x", "y", "z"), lambda: RateBudget(1, 1, 1, clock=VirtualTime()))
    assert type(on_virtual) is RateBudget


def test_redis_keys_never_contain_the_credential(redis_url: str, no_shared_env: pytest.MonkeyPatch) -> None:
    no_shared_env.setenv(REDIS_URL_ENV, redis_url)
    token, login, password = f"tok-{os.urandom(8).hex()}", "admin@shop", f"pw-{os.urandom(8).hex()}"
    sandbox = MoySkladSandbox(token=token, login=login, password=password, token_kind="app")
    clients = [
        MoySkladClient(
            "http://ms.test" + API_PREFIX, token=token, token_kind="app", transport=httpx.ASGITransport(app=sandbox.app)
        ),
        MoySkladClient(
            "http://ms.test" + API_PREFIX,
            login=login,
            password=password,
            transport=httpx.ASGITransport(app=sandbox.app),
        ),
    ]

    async def run() -> None:
        for client in clients:
            async with client:
                await client.list_stores()
                await client.budget.penalize(0.001)
                await client.budget.observe(10, 1.0, 45)
            await client.budget.aclose()  # type: ignore[attr-defined]

    asyncio.run(run())
    keys = [k for c in clients for k in c.budget.keys]  # type: ignore[attr-defined]
    with redis.Redis.from_url(redis_url) as r:
        stored = {k: (r.type(k).decode(), r.zrange(k, 0, -1) if r.type(k) == b"zset" else r.get(k)) for k in keys}
        r.delete(*keys)
    assert any(v[1] for v in stored.values())  # something was written there
    import base64

    basic = base64.b64encode(f"{login}:{password}".encode()).decode()
    text = repr(stored)
    for secret in (token, password, basic, login):
        assert secret not in text
    assert all(k.startswith("skladbridge:budget:{moysklad:") for k in keys)


def test_redis_tag_names_the_system_and_hides_the_rest() -> None:
    tag = redis_tag(("moysklad", "api.moysklad.ru", "secret-fingerprint"))
    assert tag.startswith("skladbridge:budget:{moysklad:") and tag.endswith("}")
    assert "api.moysklad.ru" not in tag and "secret" not in tag
    assert redis_tag(("moysklad", "a", "b")) != redis_tag(("moysklad", "a", "c"))


def test_redis_set_but_down_is_an_error_naming_the_setting_never_a_fallback(
    no_shared_env: pytest.MonkeyPatch,
) -> None:
    with socket_closed_port() as port:
        no_shared_env.setenv(REDIS_URL_ENV, f"redis://:hunter2-secret@127.0.0.1:{port}/0")
        with pytest.raises(BudgetUnavailableError) as caught:
            MoySkladClient("http://ms.test" + API_PREFIX, token="t0k", token_kind="app")
    message = str(caught.value)
    assert REDIS_URL_ENV in message and f"127.0.0.1:{port}" in message
    assert "hunter2" not in message and "t0k" not in message
    assert "\n" not in message


def socket_closed_port() -> _ClosedPort:
    return _ClosedPort()


class _ClosedPort:
    """A loopback port nothing listens on (bound, then closed)."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        return None
