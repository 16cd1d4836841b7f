"""Two processes syncing against one MoySklad sandbox account at once share its budget (issue 13).

The sandbox runs on a loopback port in this process, with MoySklad's own rate gate (45 units per 3 s
per credential, 5 requests in flight: ``connectors/moysklad/sandbox/rate.py``). Two spawned
processes each read assortment pages with the real :class:`MoySkladClient`, five readers each, as
fast as their budget lets them. Together they ask for more than one bucket holds, so the gate
refuses (429) as soon as their combined rate leaves the account's budget: with the budget shared
through Redis it never does. Without Redis each process spends a whole budget of its own and the
same load is refused: that contrast is what shows the first test could fail.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import secrets
from typing import Any

import pytest
import redis

from connectors.http import fingerprint
from connectors.http.budget import REDIS_URL_ENV
from connectors.http.redis_budget import redis_tag
from connectors.moysklad.sandbox import API_PREFIX, MoySkladSandbox
from connectors.moysklad.sandbox.generator import seed_catalog
from connectors.moysklad.wire.limits import BUCKET_CAPACITY, BUCKET_WINDOW_SECONDS, MAX_IN_FLIGHT_PER_CREDENTIAL
from connectors.sandboxing import LoopbackServer

PROCESSES = 2
#: pages each process reads: together more than a full bucket (45 units), so pacing decides
PAGES_EACH = 40
READERS = MAX_IN_FLIGHT_PER_CREDENTIAL  # one process alone could fill the credential's in-flight limit
PAGE_LIMIT = 10


def sync_process(index: int, base_url: str, token: str, redis_url: str | None, start: Any, out: Any) -> None:
    """One process: a MoySklad client reading ``PAGES_EACH`` assortment pages with ``READERS`` readers."""
    import asyncio

    if redis_url:
        os.environ[REDIS_URL_ENV] = redis_url
    else:
        os.environ.pop(REDIS_URL_ENV, None)
    from connectors.http import ConnectorError, request_stats
    from connectors.moysklad.client import MoySkladClient

    async def run() -> dict[str, Any]:
        client = MoySkladClient(base_url, token=token, token_kind="app")
        out.put(("ready", index, type(client.budget).__name__))
        start.wait()
        left, pages, errors = PAGES_EACH, 0, 0

        async def reader(n: int) -> None:
            nonlocal left, pages, errors
            while left > 0:
                left -= 1
                try:
                    await client.assortment_page((n * PAGE_LIMIT) % 30, PAGE_LIMIT)
                    pages += 1
                except ConnectorError:
                    errors += 1

        async with client:
            await asyncio.gather(*(reader(n) for n in range(READERS)))
        return {"pages": pages, "errors": errors, "refused": request_stats().total("moysklad").rate_refusals}

    out.put(("done", index, asyncio.run(run())))


def run_processes(redis_url: str | None) -> tuple[MoySkladSandbox, list[dict[str, Any]], list[str]]:
    """Both processes on one fresh account and credential; the sandbox and the processes' reports."""
    token = f"sync-{secrets.token_hex(8)}"
    sandbox = MoySkladSandbox(token=token, token_kind="app")
    seed_catalog(sandbox, 30, images_ratio=0.0)
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    with LoopbackServer(sandbox.app) as server:
        procs = [
            ctx.Process(target=sync_process, args=(i, server.url + API_PREFIX, token, redis_url, start, out))
            for i in range(PROCESSES)
        ]
        for proc in procs:
            proc.start()
        try:
            kinds = [out.get(timeout=120)[2] for _ in procs]
            start.set()
            reports = [out.get(timeout=120)[2] for _ in procs]
        finally:
            for proc in procs:
                proc.join(timeout=30)
                if proc.is_alive():
                    proc.kill()
        if redis_url:
            tag = redis_tag(("moysklad", server.url.split("//", 1)[1], fingerprint(token, None, None)))
            with redis.Redis.from_url(redis_url) as r:
                r.delete(f"{tag}:spent", f"{tag}:leases", f"{tag}:blocked")
    return sandbox, reports, kinds


def worst_window(sandbox: MoySkladSandbox) -> float:
    """Most units the sandbox logged in any window (for messages: log times are when answers left)."""
    seen = sorted((r.at, r.weight) for r in sandbox.log if r.status == 200)
    return max(sum(w for t, w in seen[i:] if t < at + BUCKET_WINDOW_SECONDS) for i, (at, _) in enumerate(seen))


def test_two_processes_on_one_account_stay_within_its_budget_with_no_429(redis_url: str) -> None:
    sandbox, reports, kinds = run_processes(redis_url)

    assert kinds == ["RedisBudget"] * PROCESSES
    admitted = [r for r in sandbox.log if r.status == 200]
    assert [r["pages"] for r in reports] == [PAGES_EACH] * PROCESSES  # both synced all they meant to
    assert sum(r.weight for r in admitted) == PROCESSES * PAGES_EACH > BUCKET_CAPACITY  # more than one bucket
    # the sandbox's gate is the account's budget: it refused nothing, for rate or for parallelism
    assert sandbox.gate.refused == 0 and sandbox.log.count(status=429) == 0, (
        f"refused {sandbox.gate.refused}; worst {BUCKET_WINDOW_SECONDS:g} s window: {worst_window(sandbox)} units"
    )
    assert not sandbox.banned and sandbox.gate.max_refusals_per_minute == 0
    assert all(r["errors"] == 0 and r["refused"] == 0 for r in reports)
    # within the budget for the whole run: a full bucket plus its refill over the time it took
    span = admitted[-1].at - admitted[0].at
    assert sum(r.weight for r in admitted) <= BUCKET_CAPACITY + span * BUCKET_CAPACITY / BUCKET_WINDOW_SECONDS


def test_without_the_shared_budget_the_same_two_processes_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REDIS_URL_ENV, raising=False)
    sandbox, reports, kinds = run_processes(None)

    assert kinds == ["RateBudget"] * PROCESSES
    # each spends a whole budget of its own: the account refuses the sum (they recover by backing off)
    assert sandbox.gate.refused > 0 and sum(r["refused"] for r in reports) > 0
