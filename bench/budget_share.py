"""Benchmark of one MoySklad budget shared by several processes (issue 13), and of what an acquire costs.

    python bench/budget_share.py [--processes 1,2,4] [--seconds 10] [--embedded 2] [--acquire-cost]
                                 [--redis redis://127.0.0.1:6379/0] [--out bench/results] [--no-target]

Share: a MoySklad sandbox on a loopback port in this process; N worker processes, each a
:class:`MoySkladClient` on the same account reading assortment pages (5 at a time) for
``--seconds``, pacing through the Redis budget. The sandbox's own request log and rate gate judge:
the combined rate (weighted units per 3 s) against the 45-unit budget, and the 429s. ``--embedded N``
adds N processes on the in-process budget (no Redis) for contrast. Acquire cost: p50/p95 of one
acquire+release through Redis (the Lua bucket), a PostgreSQL function doing the same under an
advisory lock, and the in-process budget. Writes ``<out>/budget_share-<UTC>.json``.

Exit status: 1 when a Redis-shared run saw a 429 (or would have been banned), 2 when one stayed
under 90 % of the budget (unless ``--no-target``: smoke runs too short to judge a rate), else 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import platform
import secrets
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from connectors.http.budget import REDIS_URL_ENV  # noqa: E402

READERS_PER_PROCESS = 5  # MoySklad's in-flight limit: one process alone could fill it
PAGE_LIMIT = 100
PRODUCTS = 300


def worker(
    index: int, base_url: str, token: str, redis_url: str | None, seconds: float, start: Any, results: Any
) -> None:
    """One process: read assortment pages with READERS_PER_PROCESS readers until the time is up."""
    if redis_url:
        os.environ[REDIS_URL_ENV] = redis_url
    else:
        os.environ.pop(REDIS_URL_ENV, None)
    from connectors.http import ConnectorError, request_stats
    from connectors.moysklad.client import MoySkladClient

    async def run() -> dict[str, Any]:
        pages = errors = 0
        async with MoySkladClient(base_url, token=token, token_kind="app") as client:
            _, size = await client.assortment_page(0, PAGE_LIMIT)  # warm: connection, budget, Redis link
            results.put(("ready", index))
            start.wait()
            began = time.time()
            deadline = time.monotonic() + seconds

            async def reader(n: int) -> None:
                nonlocal pages, errors
                offset = (n * PAGE_LIMIT) % max(size, 1)
                while time.monotonic() < deadline:
                    try:
                        await client.assortment_page(offset, PAGE_LIMIT)
                        pages += 1
                    except ConnectorError:
                        errors += 1
                    offset = (offset + PAGE_LIMIT) % max(size, 1)

            await asyncio.gather(*(reader(n) for n in range(READERS_PER_PROCESS)))
            refused = request_stats().total("moysklad").rate_refusals
            return {
                "pages": pages,
                "errors": errors,
                "client_refusals": refused,
                "wall_seconds": round(time.time() - began, 2),
            }

    results.put(("done", index, asyncio.run(run())))


class ArrivalGate:
    """Records when the sandbox's rate gate admitted each request (the log stamps when answers left).

    Wraps the sandbox's own :class:`RateGate` without changing what it decides: arrival times are
    what a server counts its windows in, so the worst window is judged on them.
    """

    def __init__(self, gate: Any) -> None:
        self.gate = gate
        self.admitted: list[tuple[float, float]] = []

    def enter(self, credential: str, weight: float, *, forced_refusal: bool = False) -> Any:
        verdict = self.gate.enter(credential, weight, forced_refusal=forced_refusal)
        if verdict.admitted:
            self.admitted.append((time.time(), float(weight)))
        return verdict

    def __getattr__(self, name: str) -> Any:
        return getattr(self.gate, name)


def judge(
    log: list[Any], arrivals: list[tuple[float, float]], since: float, capacity: float, window: float
) -> dict[str, Any]:
    """What the sandbox saw from ``since``: the share of the budget spent, the worst window, refusals.

    The share is read from a replay of the sandbox gate's token bucket over the admitted requests'
    arrival times: refill that arrives while the bucket is full is budget nobody used. That is
    edge-free (a run's first burst from a full bucket, or a window cut by its end, does not skew
    it), unlike units over wall time, which ``mean_units_per_window`` still gives for reference.
    """
    seen = [r for r in log if r.at >= since]
    admitted = sorted((at, w) for at, w in arrivals if at >= since)
    weight = sum(w for _, w in admitted)
    span = admitted[-1][0] - admitted[0][0] if len(admitted) > 1 else 0.0
    tokens, last, unused = capacity, admitted[0][0] if admitted else 0.0, 0.0
    for at, w in admitted:
        tokens, last = tokens + (at - last) * capacity / window, at
        unused, tokens = unused + max(tokens - capacity, 0.0), min(tokens, capacity) - w
    refill = span * capacity / window
    share = 1 - unused / refill if refill else 0.0

    def worst(times: list[tuple[float, float]]) -> float:
        return max((sum(w for t, w in times[i:] if t < at + window) for i, (at, _) in enumerate(times)), default=0.0)

    answered = sorted((r.at, float(r.weight)) for r in seen if r.status == 200)
    return {
        "requests": len(seen),
        "weight": weight,
        "refused_429": sum(r.status == 429 for r in seen),
        "units_per_second": round(weight / span, 2) if span else 0.0,
        "units_per_window": round(share * capacity, 2),
        "pct_of_budget": round(100 * share, 1),
        "mean_units_per_window": round(weight / span * window, 2) if span else 0.0,
        "max_units_in_any_window": worst(admitted),
        "max_units_in_any_window_by_answer": worst(answered),
        "span_seconds": round(span, 2),
    }


def run_share(processes: int, seconds: float, redis_url: str | None, products: int = PRODUCTS) -> dict[str, Any]:
    """``processes`` workers on one sandbox account at once; the sandbox's verdict and the workers' reports."""
    from connectors.http import fingerprint
    from connectors.http.redis_budget import redis_tag
    from connectors.moysklad.sandbox import API_PREFIX, MoySkladSandbox
    from connectors.moysklad.sandbox.generator import seed_catalog
    from connectors.moysklad.wire.limits import BUCKET_CAPACITY, BUCKET_WINDOW_SECONDS
    from connectors.sandboxing import LoopbackServer

    token = f"bench-{secrets.token_hex(8)}"  # a fresh credential: a fresh bucket in the sandbox and in Redis
    sandbox = MoySkladSandbox(token=token, token_kind="app")
    sandbox.gate = gate = ArrivalGate(sandbox.gate)  # type: ignore[assignment]
    seed_catalog(sandbox, products, images_ratio=0.0)
    ctx = mp.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    with LoopbackServer(sandbox.app) as server:
        base = server.url + API_PREFIX
        procs = [
            ctx.Process(target=worker, args=(i, base, token, redis_url, seconds, start, results))
            for i in range(processes)
        ]
        for proc in procs:
            proc.start()
        for _ in procs:
            results.get(timeout=120)  # ready
        time.sleep(BUCKET_WINDOW_SECONDS + 0.2)  # the warm-up requests leave the window first
        since = time.time()
        start.set()
        reports = {}
        for _ in procs:
            _, index, report = results.get(timeout=seconds + 120)
            reports[index] = report
        wall = time.time() - since
        for proc in procs:
            proc.join(timeout=30)
    verdict = judge(list(sandbox.log), gate.admitted, since, BUCKET_CAPACITY, BUCKET_WINDOW_SECONDS)
    if redis_url:
        import redis

        host = server.url.split("//", 1)[1]
        tag = redis_tag(("moysklad", host, fingerprint(token, None, None)))
        with redis.Redis.from_url(redis_url) as r:
            r.delete(f"{tag}:spent", f"{tag}:leases", f"{tag}:blocked")
    return {
        "processes": processes,
        "budget": "redis" if redis_url else "embedded",
        "seconds": seconds,
        "wall_seconds": round(wall, 2),
        "capacity": BUCKET_CAPACITY,
        "window_seconds": BUCKET_WINDOW_SECONDS,
        **verdict,
        "banned": sandbox.banned,
        "workers": [reports[i] for i in sorted(reports)],
    }


def percentiles(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    return {"p50_us": round(s[len(s) // 2], 1), "p95_us": round(s[int(len(s) * 0.95)], 1), "n": len(s)}


async def timed(n: int, one: Any) -> dict[str, float]:
    for _ in range(n // 10):
        await one()  # warm-up: connections, script cache, plans
    samples = []
    for _ in range(n):
        began = time.perf_counter()
        await one()
        samples.append((time.perf_counter() - began) * 1e6)
    return percentiles(samples)


PG_TAKE = """
CREATE UNLOGGED TABLE {s}.spent (k text, at timestamptz, units float8);
CREATE INDEX ON {s}.spent (k, at);
CREATE UNLOGGED TABLE {s}.leases (k text, id text PRIMARY KEY, until_ timestamptz);
CREATE FUNCTION {s}.take(key text, w float8, cap float8, span float8, maxf int, lid text, ttl float8)
RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE now_ timestamptz := clock_timestamp(); used float8;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext(key));
  DELETE FROM {s}.leases l WHERE l.k = key AND l.until_ <= now_;
  IF (SELECT count(*) FROM {s}.leases l WHERE l.k = key) >= maxf THEN RETURN 0.01; END IF;
  DELETE FROM {s}.spent x WHERE x.k = key AND x.at <= now_ - make_interval(secs => span);
  SELECT coalesce(sum(units), 0) INTO used FROM {s}.spent x WHERE x.k = key;
  IF used + w > cap THEN RETURN 0.05; END IF;
  INSERT INTO {s}.spent VALUES (key, now_, w);
  INSERT INTO {s}.leases VALUES (key, lid, now_ + make_interval(secs => ttl));
  RETURN 0;
END $$;
"""


async def acquire_cost(redis_url: str, pg_url: str | None, n: int = 3000) -> dict[str, Any]:
    """p50/p95 of one uncontended acquire+release (the window kept tiny so only the cost is timed)."""
    from connectors.http import RateBudget
    from connectors.http.redis_budget import RedisBudget

    out: dict[str, Any] = {}
    local = RateBudget(1e9, 0.001, 100)
    shared = RedisBudget(redis_url, ("bench", secrets.token_hex(6)), 1e9, 0.001, 100, prefix="sbbench")

    async def cycle(budget: RateBudget) -> None:
        async with budget.acquire(1):
            pass

    out["in_process"] = await timed(n, lambda: cycle(local))
    out["redis_lua"] = await timed(n, lambda: cycle(shared))
    out["redis_ping"] = await timed(n, shared._link().client.ping)
    await shared._link().client.delete(*shared.keys)
    await shared.aclose()
    if pg_url:
        import psycopg

        schema = f"sb_budget_{secrets.token_hex(4)}"
        async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
            await conn.execute(f"CREATE SCHEMA {schema}")
            try:
                await conn.execute(PG_TAKE.format(s=schema))  # type: ignore[arg-type]

                async def pg_cycle() -> None:
                    lid = secrets.token_hex(8)
                    await conn.execute(f"SELECT {schema}.take('k', 1, 1e9, 0.001, 100, %s, 30)", (lid,))  # type: ignore[arg-type]
                    await conn.execute(f"DELETE FROM {schema}.leases WHERE id = %s", (lid,))  # type: ignore[arg-type]

                out["postgres_function"] = await timed(n, pg_cycle)
                out["postgres_select_1"] = await timed(n, lambda: conn.execute("SELECT 1"))
            finally:
                await conn.execute(f"DROP SCHEMA {schema} CASCADE")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--processes", default="1,2,4", help="comma-separated process counts, on the Redis budget")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--embedded", type=int, default=2, help="processes on in-process budgets, for contrast (0: none)")
    p.add_argument("--acquire-cost", action="store_true", help="also time one acquire in Redis, PostgreSQL, memory")
    p.add_argument("--redis", default=os.environ.get(REDIS_URL_ENV) or "redis://127.0.0.1:6379/0")
    p.add_argument(
        "--postgres",
        default=os.environ.get("SKLADBRIDGE_TEST_POSTGRES_URL") or "postgresql://postgres@127.0.0.1:5432/test",
    )
    p.add_argument("--acquire-n", type=int, default=3000, help="acquires timed per kind")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    p.add_argument("--no-target", action="store_true", help="judge only 429s, not the rate (smoke runs)")
    args = p.parse_args(argv)
    runs = [run_share(int(n), args.seconds, args.redis) for n in args.processes.split(",") if n.strip()]
    if args.embedded:
        runs.append(run_share(args.embedded, args.seconds, None))
    result: dict[str, Any] = {
        "benchmark": "budget_share",
        "runs": runs,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "notes": [
            "pct_of_budget: 1 - refill lost to a full bucket / refill, replaying the sandbox's bucket "
            "over the admitted requests' arrival times; mean_units_per_window counts the first burst "
            "of a full bucket as rate",
            "max_units_in_any_window: by arrival at the sandbox's gate; _by_answer: by the log's "
            "timestamps, taken when each answer left (later by the page's rendering time)",
            "target: every redis run >= 90 % of the budget with zero 429",
        ],
    }
    if args.acquire_cost:
        result["acquire_cost"] = asyncio.run(acquire_cost(args.redis, args.postgres, args.acquire_n))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"budget_share-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(
        f"{'procs':>5} {'budget':>8} {'units/3s':>9} {'% budget':>8} {'units/s':>8} {'worst 3s':>8} "
        f"{'429':>5} {'requests':>8} {'wall s':>7}"
    )
    for r in runs:
        print(
            f"{r['processes']:>5} {r['budget']:>8} {r['units_per_window']:>9} {r['pct_of_budget']:>8} "
            f"{r['units_per_second']:>8} {r['max_units_in_any_window']:>8} {r['refused_429']:>5} "
            f"{r['requests']:>8} {r['wall_seconds']:>7}"
        )
    for name, cost in result.get("acquire_cost", {}).items():
        print(f"acquire {name}: p50 {cost['p50_us']} µs, p95 {cost['p95_us']} µs")
    print(f"results: {path}")
    shared = [r for r in runs if r["budget"] == "redis"]
    if any(r["refused_429"] or r["banned"] for r in shared):
        return 1
    return 0 if args.no_target or all(r["pct_of_budget"] >= 90 for r in shared) else 2


if __name__ == "__main__":
    sys.exit(main())
