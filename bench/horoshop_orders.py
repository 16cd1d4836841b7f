"""Benchmark of Horoshop's side of the order flow against its hourly quota (issue 24).

    python bench/horoshop_orders.py [--orders 1000] [--archive 10000] [--quota 1000] [--out bench/results]

1. A day replayed: ``--orders`` orders placed on the Horoshop sandbox at random moments of 24 hours,
   read by an order cycle every 10 minutes, two ways:
   * the hub's: ``OrderSource.changed_orders`` — a creation window reaching ``order_overlap_minutes``
     back before the previous read, orders already read left out (the cursor names them);
   * the seed's: the retailCRM module's way, a full order window (the last 24 hours, every page) each
     cycle [inferred from its help page: it reads a window, not changes].
   For each: Horoshop function calls (sign-ins apart: the sandbox does not meter them [inferred]),
   calls per order against the minimum (⌈orders ÷ 100⌉ for the data; one call a cycle for a
   10-minute freshness), orders read more than once, and the busiest hour's share of the quota.
2. The archive: ``--archive`` past orders read page by page (``orders_in_period``, the archive flow's
   read) through a client whose budget spends ``quota_share`` of a shop quota of ``--quota``: calls,
   429s (must be 0), and the share of the quota spent.

Writes ``<out>/horoshop_orders-<orders>-<UTC>.json`` and prints the tables. Orders are placed in
process (the storefront), so placing costs nobody's quota; only the shop's log is read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from connectors.horoshop.capabilities.orders import HoroshopOrders  # noqa: E402
from connectors.horoshop.client import HoroshopClient  # noqa: E402
from connectors.horoshop.sandbox import HoroshopSandbox  # noqa: E402
from connectors.horoshop.settings import HoroshopSettings  # noqa: E402
from connectors.horoshop.wire.limits import ORDERS_PAGE  # noqa: E402
from connectors.horoshop.wire.shop_time import to_wire  # noqa: E402
from connectors.http import RateBudget  # noqa: E402

CYCLE = timedelta(minutes=10)
DAY = timedelta(hours=24)
PASSWORD = "bench-password"


def settings(quota: int) -> HoroshopSettings:
    return HoroshopSettings.model_validate(
        {
            "system": "horoshop",
            "base_url": "http://shop.bench",
            "login": "apiadmin",
            "password": "${HS_PASSWORD}",
            "hourly_quota": quota,
        }
    )


def client(shop: HoroshopSandbox, quota: int) -> HoroshopClient:
    """A client paced by the budget the hub would have for a shop quota of ``quota`` (0: unpaced, for
    a replayed day whose hours pass in milliseconds: its calls are counted per replayed hour instead)."""
    share = settings(max(quota, 10)).quota_share
    capacity = int(quota * share) if quota else 10**9
    return HoroshopClient(
        "http://shop.bench",
        login="apiadmin",
        password=PASSWORD,
        transport=httpx.ASGITransport(app=shop.app),
        budget=RateBudget(capacity=capacity, window_seconds=3600, max_in_flight=2, margin_seconds=60),
    )


def calls(shop: HoroshopSandbox, since: int = 0) -> list[Any]:
    return [r for r in list(shop.log)[since:] if r.path != "/auth"]


def shop_with_day(orders: int, start: datetime, seed: int) -> tuple[HoroshopSandbox, list[datetime]]:
    shop = HoroshopSandbox(password=PASSWORD, hourly_quota=10**9)
    shop.seed_catalog(50, seed=seed)
    rng = random.Random(seed)
    return shop, sorted(start + timedelta(seconds=rng.uniform(0, DAY.total_seconds())) for _ in range(orders))


def place_until(shop: HoroshopSandbox, moments: list[datetime], until: datetime, rng: random.Random) -> None:
    articles = list(shop.state.products)
    while moments and moments[0] <= until:
        created = moments.pop(0)
        shop.place_order(
            phone=f"+38067{rng.randrange(1_000_000, 9_999_999)}",
            name="Покупець Тест",
            lines=[(rng.choice(articles), 1.0)],
            created=created,
        )


async def the_hubs_day(orders: int, quota: int, seed: int) -> dict[str, Any]:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    shop, moments = shop_with_day(orders, start, seed)
    rng, seen, per_hour = random.Random(seed + 1), Counter[str](), Counter[int]()
    async with client(shop, 0) as api:
        cap = HoroshopOrders.over(api, settings(quota))
        now = start
        cap.clock = lambda: now
        cursor = (await cap.changed_orders(None)).cursor
        while now < start + DAY:
            now += CYCLE
            place_until(shop, moments, now, rng)
            before = len(list(shop.log))
            batch = await cap.changed_orders(cursor)
            cursor = batch.cursor
            seen.update(batch.orders["order_id"])
            per_hour[int((now - start).total_seconds() // 3600)] += len(calls(shop, before))
    return _day("hub: window with overlap, dedup'd", shop, seen, per_hour, orders, quota, api.sign_ins)


async def the_seeds_day(orders: int, quota: int, seed: int) -> dict[str, Any]:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    shop, moments = shop_with_day(orders, start, seed)
    rng, seen, per_hour = random.Random(seed + 1), Counter[str](), Counter[int]()
    async with client(shop, 0) as api:
        now = start
        while now < start + DAY:
            now += CYCLE
            place_until(shop, moments, now, rng)
            before = len(list(shop.log))
            window = {"from": to_wire(now - DAY, "Europe/Kyiv"), "to": to_wire(now, "Europe/Kyiv")}
            async for page in api.iter_orders(window, limit=ORDERS_PAGE):
                seen.update(str(o["order_id"]) for o in page)
            per_hour[int((now - start).total_seconds() // 3600)] += len(calls(shop, before))
    return _day("seed: the full order window every 10 min", shop, seen, per_hour, orders, quota, api.sign_ins)


def _day(
    way: str, shop: HoroshopSandbox, seen: Counter[str], per_hour: Counter[int], orders: int, quota: int, signs: int
) -> dict[str, Any]:
    total = len(calls(shop))
    cycles = int(DAY / CYCLE)
    return {
        "way": way,
        "orders": orders,
        "orders_read": len(seen),
        "orders_read_again": sum(n - 1 for n in seen.values()),
        "calls": total,
        "sign_ins": signs,
        "calls_per_order": round(total / orders, 3),
        "minimum_for_the_data": math.ceil(orders / ORDERS_PAGE),
        "minimum_at_10_min_freshness": cycles,
        "busiest_hour_calls": max(per_hour.values(), default=0),
        "busiest_hour_share_of_quota": round(max(per_hour.values(), default=0) / quota, 4),
        "refused": sum(1 for r in calls(shop) if r.status == 429),
    }


async def archive(count: int, quota: int, seed: int) -> dict[str, Any]:
    shop = HoroshopSandbox(password=PASSWORD, hourly_quota=quota)
    shop.seed_catalog(50, seed=seed)
    shop.seed_orders(count, seed=seed, days=365)
    started = time.monotonic()
    read: set[str] = set()
    async with client(shop, quota) as api:
        cap = HoroshopOrders.over(api, settings(quota))
        end = datetime.now(UTC) + timedelta(days=1)
        page: str | None = None
        while True:
            batch = await cap.orders_in_period(end - timedelta(days=400), end, [], page)
            read.update(batch.orders["order_id"])
            if not batch.more:
                break
            page = batch.cursor
    total = len(calls(shop))
    return {
        "orders": count,
        "orders_read": len(read),
        "calls": total,
        "minimum": math.ceil(count / ORDERS_PAGE),
        "refused": sum(1 for r in calls(shop) if r.status == 429),
        "share_of_quota": round(total / quota, 4),
        "seconds": round(time.monotonic() - started, 2),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--orders", type=int, default=1000)
    p.add_argument("--archive", type=int, default=10000)
    p.add_argument("--quota", type=int, default=1000, help="the shop's hourly quota (not published; 1000 assumed)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = p.parse_args(argv)
    result = {
        "when": datetime.now(UTC).isoformat(),
        "quota": args.quota,
        "day": [
            asyncio.run(the_hubs_day(args.orders, args.quota, args.seed)),
            asyncio.run(the_seeds_day(args.orders, args.quota, args.seed)),
        ],
        "archive": asyncio.run(archive(args.archive, args.quota, args.seed)),
    }
    for row in result["day"]:
        print(
            f"{row['way']:<42} calls {row['calls']:>5}  per order {row['calls_per_order']:>6}  "
            f"read again {row['orders_read_again']:>6}  busiest hour {row['busiest_hour_calls']:>4} "
            f"({row['busiest_hour_share_of_quota']:.1%} of {args.quota})"
        )
    a = result["archive"]
    print(
        f"archive of {a['orders']}: {a['calls']} calls (minimum {a['minimum']}), {a['refused']} refused, "
        f"{a['share_of_quota']:.1%} of an hour's quota, {a['seconds']} s"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (args.out / f"horoshop_orders-{args.orders}-{stamp}.json").write_text(
        json.dumps(result, indent=2), encoding="utf-8"
    )
    return result


if __name__ == "__main__":
    main()
