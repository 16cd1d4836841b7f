"""Benchmark of the keyCRM pair (issue 23) on the sandboxes: requests per order and per stock change
against the minimum the data needs, with latencies, beside the seed's way.

    python bench/keycrm_pair.py [--products 77000] [--orders 1000] [--stream-orders 300]
                                [--order-rate 1.0] [--change-share 0.01] [--cycles 3] [--quick]
                                [--out bench/results]

One world (:func:`deployments.demo.keycrm_pair.keycrm_world`): a MoySklad sandbox of ``--products``
products (30 % with variants: about 1.3 offers each, so 77 000 products ≈ 100 000 offers) and a
keyCRM sandbox holding the same SKUs.

* **Stock**: a first stock-sync cycle (whole read, catalog staged, every offer written: not measured);
  then ``--cycles`` cycles, each after ``--change-share`` of the stocked offers moved in MoySklad (one
  shipment document per 500 offers). Per cycle: MoySklad reads, keyCRM writes and read-backs against
  the minimum (1 read; ⌈changed ÷ 10 000⌉ writes per keyCRM warehouse), seconds from the documents
  to keyCRM holding the new stock (the cycle's time: the webhook path adds only the receiver's hop).
  The seed's way (Ordage, inferred): a full write of every offer per period = ⌈offers ÷ 10 000⌉
  per warehouse, and its latency is half the period on average (10 min period: p50 300 s, p95 570 s).
* **Orders**, each placed in keyCRM firing its trigger webhook to the hub's receiver, timed from the
  trigger to the MoySklad order (a watcher thread polls the sandbox every 20 ms):

  - a **stream** of ``--stream-orders`` at ``--order-rate`` a second (1 a second = 3 600 an hour, far
    above a busy shop's peak hour): p50/p95, keyCRM requests a minute against the key's 60;
  - an instantaneous **burst** of ``--orders`` triggers sent together: its drain time (the last
    arrival) and p50/p95, beside what the budget allows — the hub needs ⌈N ÷ 50⌉ ``GET /order``
    pages, the seed's way one ``GET /order/{id}`` per event; 60 requests in any minute, so ``r``
    requests cannot all be made before ⌈r ÷ 60⌉ − 1 minutes (1 000 events: the hub's 20 reads fit
    the first minute; the seed's 1 000 requests need at least 16 minutes).

  Requests per order against the minimum (one page per 50 changed orders). Both sandboxes, the hub and
  the bench share one process and the machine's cores: on a loaded machine the latencies are the
  CPU's, not keyCRM's budget.

Writes ``<out>/keycrm_pair-<offers>-<UTC>.json`` and prints the table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import secrets
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

KC_PAGE, KC_BATCH, PEER_PERIOD = 50, 10_000, 600.0


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)], 2)


def stocked(world: Any) -> list[tuple[str, str, str]]:
    """(offer id, kind, store id) of offers with stock on hand at a mapped store."""
    ms = world.moysklad
    names = {s["id"]: s["name"] for s in ms.store.of_type("store").values()}
    out = []
    for row in ms.ledger.report(by_store=True, stock_type="stock", include_zero=False):
        if names.get(row.get("storeId")) in ("Основной склад", "Склад 2", "Склад 3") and float(row["stock"]) >= 1:
            kind = "variant" if ms.store.get("variant", row["assortmentId"]) else "product"
            if kind == "product" and (ms.store.get("product", row["assortmentId"]) or {}).get("variantsCount"):
                continue
            out.append((str(row["assortmentId"]), kind, str(row["storeId"])))
    return out


def move_stock(world: Any, picked: list[tuple[str, str, str]]) -> None:
    """Ship one unit of each picked offer, one shipment per store and 500 offers."""
    from connectors.moysklad.sandbox.state import entity_meta

    ms = world.moysklad
    org = next(iter(ms.store.of_type("organization")))
    agent = ms.writer.create("counterparty", {"name": "Бенчмарк"})["id"]
    by_store: dict[str, list[tuple[str, str]]] = {}
    for oid, kind, store in picked:
        by_store.setdefault(store, []).append((oid, kind))
    for store, offers in by_store.items():
        for start in range(0, len(offers), 500):
            ms.writer.create(
                "demand",
                {
                    "organization": {"meta": entity_meta("organization", org)},
                    "agent": {"meta": entity_meta("counterparty", agent)},
                    "store": {"meta": entity_meta("store", store)},
                    "positions": [
                        {"assortment": {"meta": entity_meta(kind, oid)}, "quantity": 1}
                        for oid, kind in offers[start : start + 500]
                    ],
                },
            )


def count(log: Any, method: str | None = None, path: str = "") -> int:
    return sum(1 for r in log if (method is None or r.method == method) and r.path.startswith(path))


def summary(result: Any) -> dict[str, Any]:
    from hub.exchanges import ran

    out = ran(result)
    if out is None:
        raise RuntimeError(f"a bench run was skipped: {result}")
    return out


def bench_stock(world: Any, cycles: int, share: float) -> dict[str, Any]:
    from flows.stock_sync import stock_sync

    started = time.monotonic()
    first = summary(stock_sync("keycrm", config_path=str(world.config_path)))
    first_seconds = time.monotonic() - started
    offers = len(world.keycrm.state.offers)
    runs = []
    rng = random.Random(0)
    for _ in range(cycles):
        by_offer = {oid: (oid, kind, store) for oid, kind, store in stocked(world)}  # one store an offer
        picked = rng.sample(sorted(by_offer.values()), min(len(by_offer), max(1, int(offers * share))))
        ms_before, kc_before = len(world.moysklad.log), len(world.keycrm.log)
        move_stock(world, picked)
        started = time.monotonic()
        result = summary(stock_sync("keycrm", config_path=str(world.config_path)))
        seconds = time.monotonic() - started
        ms_log, kc_log = list(world.moysklad.log)[ms_before:], list(world.keycrm.log)[kc_before:]
        warehouses = 2
        runs.append(
            {
                "changed": len(picked),
                "offers_changed": result["offers_changed"],
                "seconds": round(seconds, 2),
                "moysklad_stock_reads": count(ms_log, "GET", "/report/stock"),
                "keycrm_writes": count(kc_log, "PUT", "/offers/stocks"),
                "keycrm_readbacks": count(kc_log, "GET", "/offers/stocks"),
                "keycrm_refused": sum(1 for r in kc_log if r.status == 429),
                "minimum": {"moysklad_reads": 1, "keycrm_writes": warehouses * math.ceil(len(picked) / KC_BATCH)},
            }
        )
    times = [float(r["seconds"]) for r in runs]
    return {
        "offers": offers,
        "first_cycle": {"seconds": round(first_seconds, 1), "offers_sent": first["offers_sent"]},
        "cycles": runs,
        "p50_seconds": pct(times, 0.5),
        "p95_seconds": pct(times, 0.95),
        "requests_per_change": round(
            sum(r["keycrm_writes"] + r["keycrm_readbacks"] for r in runs) / max(1, sum(r["changed"] for r in runs)), 4
        ),
        "peer": {
            "keycrm_writes_per_period": 2 * math.ceil(offers / KC_BATCH),
            "p50_seconds": PEER_PERIOD / 2,
            "p95_seconds": PEER_PERIOD * 0.95,
        },
    }


def _reads_bound(n: int) -> dict[str, Any]:
    """What keyCRM's budget allows a burst of ``n`` order events: the hub needs ⌈n ÷ 50⌉ page reads,
    the seed's way one ``GET /order/{id}`` each; 60 requests in any minute (a sliding window, so a
    quiet key has 60 at once), so ``r`` requests cannot all be made before ⌈r ÷ 60⌉ − 1 minutes."""
    reads = math.ceil(n / KC_PAGE)
    return {
        "hub_reads": reads,
        "hub_budget_wait_seconds": max(0, math.ceil(reads / 60) - 1) * 60,
        "seed_requests": n,
        "seed_budget_wait_seconds": max(0, math.ceil(n / 60) - 1) * 60,
    }


class OrderWatch:
    """Places keyCRM orders, fires their trigger webhooks into the hub's receiver and times each from
    its trigger to the MoySklad order (a watcher thread polls the MoySklad sandbox every 20 ms)."""

    def __init__(self, world: Any) -> None:
        import httpx

        from deployments.service.webhooks import webhook_app
        from flows.order_upload import order_upload

        order_upload("keycrm", config_path=str(world.config_path))  # the cursor
        self.world = world
        self.app = webhook_app(world.config_path)
        world.keycrm.webhooks.transport = httpx.ASGITransport(app=self.app)
        token = world.env["SKLADBRIDGE_KC_HOOK_TOKEN"]
        world.keycrm.add_order_trigger(f"http://hub.bench/hooks/keycrm/keycrm/{token}")
        self.skus = [o["sku"] for o in world.keycrm.state.offers.values()]
        self.rng = random.Random(1)
        self.sent_at: dict[str, float] = {}
        self.arrived: dict[str, float] = {}
        self.placed = 0
        self._done = threading.Event()
        threading.Thread(target=self._watch, daemon=True).start()

    @property
    def receiver(self) -> Any:
        return self.app.state.receiver

    def _watch(self) -> None:
        seen = 0
        while not self._done.is_set():
            now = time.monotonic()
            orders = list(self.world.moysklad.store.of_type("customerorder").values())
            for order in orders[seen:] if len(orders) >= seen else orders:  # created in order: look at new ones
                code = str(order.get("externalCode"))
                if code in self.sent_at and code not in self.arrived:
                    self.arrived[code] = now
            seen = max(0, len(orders) - 50)  # a late write of the last few is looked at again
            time.sleep(0.02)

    def place(self) -> str:
        i = self.placed
        self.placed += 1
        order = self.world.keycrm.place_order(
            {
                "buyer": {"full_name": f"Покупець {i}", "phone": f"+38050{1000000 + i}"},
                "products": [{"sku": self.rng.choice(self.skus), "quantity": 1}],
            }
        )
        return str(order["id"])

    def wait(self, ids: list[str], seconds: float = 900) -> None:
        deadline = time.monotonic() + seconds
        while any(i not in self.arrived for i in ids) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.receiver.orders.trigger.wait_idle(60)

    def phase(
        self, ids: list[str], kc_before: int, ms_before: int, cycles_before: int, started: float
    ) -> dict[str, Any]:
        latencies = [self.arrived[i] - self.sent_at[i] for i in ids if i in self.arrived]
        kc_log = list(self.world.keycrm.log)[kc_before:]
        ms_log = list(self.world.moysklad.log)[ms_before:]
        n = len(ids)
        last = max((self.arrived[i] for i in ids if i in self.arrived), default=started)
        return {
            "orders": n,
            "arrived": len(latencies),
            "p50_seconds": pct(latencies, 0.5),
            "p95_seconds": pct(latencies, 0.95),
            "max_seconds": round(max(latencies), 2) if latencies else None,
            "drain_seconds": round(last - started, 2),
            "upload_cycles": self.receiver.orders.trigger.cycles("keycrm") - cycles_before,
            "keycrm_requests": len(kc_log),
            "keycrm_refused": sum(1 for r in kc_log if r.status == 429),
            "requests_per_order": round(len(kc_log) / max(1, n), 4),
            # MoySklad's budget is 45 weight units per 3 s; a request costs 1 with a token, 4 with a
            # login and password (from 2026-12-01): the order side's other limit
            "moysklad_requests": len(ms_log),
            "moysklad_weight": sum(r.weight for r in ms_log),
            "moysklad_refused": sum(1 for r in ms_log if r.status == 429),
            "minimum_per_order": round(math.ceil(n / KC_PAGE) / max(1, n), 4),
            "peer_per_order": 1.0,
        }

    def stream(self, n: int, rate: float) -> dict[str, Any]:
        """``n`` orders, one every 1/``rate`` s, each trigger sent as it is placed."""
        kc_before, cycles = len(self.world.keycrm.log), self.receiver.orders.trigger.cycles("keycrm")
        ms_before = len(self.world.moysklad.log)
        started = time.monotonic()
        ids = []
        for k in range(n):
            time.sleep(max(0.0, started + k / rate - time.monotonic()))
            oid = self.place()
            self.sent_at[oid] = time.monotonic()
            asyncio.run(self.world.keycrm.flush())
            ids.append(oid)
        self.wait(ids)
        out = self.phase(ids, kc_before, ms_before, cycles, started)
        minutes = max(out["drain_seconds"], 1.0) / 60
        return {
            **out,
            "rate_per_second": rate,
            "keycrm_requests_per_minute": round(out["keycrm_requests"] / minutes, 1),
            # the seed's way reads each order: at a rate over 1 a second it outruns the 60-a-minute key
            "peer_requests_per_minute": round(60 * rate, 1),
        }

    def burst(self, n: int) -> dict[str, Any]:
        """``n`` orders placed at once, their ``n`` triggers sent together."""
        kc_before, cycles = len(self.world.keycrm.log), self.receiver.orders.trigger.cycles("keycrm")
        ms_before = len(self.world.moysklad.log)
        ids = [self.place() for _ in range(n)]
        started = time.monotonic()
        for oid in ids:
            self.sent_at[oid] = started
        asyncio.run(self.world.keycrm.flush())
        self.wait(ids)
        return {**self.phase(ids, kc_before, ms_before, cycles, started), "budget": _reads_bound(n)}

    def close(self) -> dict[str, Any]:
        self._done.set()
        receiver = self.receiver
        receiver.close()
        codes = [str(o.get("externalCode")) for o in self.world.moysklad.store.of_type("customerorder").values()]
        return {
            "events_received": receiver.orders.events,
            "duplicates": receiver.orders.duplicates,
            "doubled": len(codes) - len(set(codes)),
        }


def use_token(world: Any) -> None:
    """Sign the hub in to MoySklad with a solution token (weight 1) instead of the demo's password."""
    token = secrets.token_urlsafe(24)
    world.moysklad.tokens[token] = "app"
    os.environ["SKLADBRIDGE_KC_MS_TOKEN"] = token
    text = world.config_path.read_text(encoding="utf-8")
    signed = text.replace("login: admin@demo", "token: ${SKLADBRIDGE_KC_MS_TOKEN}")
    signed = "\n".join(line for line in signed.splitlines() if "password: ${SKLADBRIDGE_KC_MS_PASSWORD}" not in line)
    assert signed != text, "the config signs in otherwise than expected"
    world.config_path.write_text(signed + "\n", encoding="utf-8")


def bench_orders(world: Any, stream_n: int, rate: float, burst_n: int) -> dict[str, Any]:
    watch = OrderWatch(world)
    stream = watch.stream(stream_n, rate) if stream_n else None
    burst = watch.burst(burst_n) if burst_n else None
    return {"stream": stream, "burst": burst, **watch.close()}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=77_000)
    parser.add_argument("--orders", type=int, default=1000, help="orders of the instantaneous burst")
    parser.add_argument("--stream-orders", type=int, default=300, help="orders of the steady stream")
    parser.add_argument("--order-rate", type=float, default=1.0, help="orders a second in the stream")
    parser.add_argument("--change-share", type=float, default=0.01)
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument(
        "--ms-auth",
        choices=("token", "login"),
        default="token",
        help="how the hub signs in to MoySklad: a token (1 weight unit a request) or the demo's login and "
        "password (4 units a request from 2026-12-01)",
    )
    parser.add_argument("--quick", action="store_true", help="2 000 products, 40 streamed orders, a burst of 200")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args(argv)
    if args.quick:
        args.products, args.orders, args.stream_orders, args.cycles = 2000, 200, 40, 2
    with tempfile.TemporaryDirectory() as tmp:
        from deployments.schedule.prefect_env import configure

        configure(Path(tmp) / ".prefect")
        from deployments.demo.keycrm_pair import keycrm_world

        with keycrm_world(Path(tmp) / "world", args.products) as world:
            world.keycrm.state.apply_delay = 0.3
            if args.ms_auth == "token":
                use_token(world)
            stock = bench_stock(world, args.cycles, args.change_share)
            orders = bench_orders(world, args.stream_orders, args.order_rate, args.orders)
    result = {
        "at": datetime.now(UTC).isoformat(),
        "products": args.products,
        "moysklad_auth": args.ms_auth,
        "load_average": os.getloadavg(),
        "stock": stock,
        "orders": orders,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"keycrm_pair-{stock['offers']}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"{'':<34}{'requests/unit':>14}{'minimum':>10}{'seed way':>10}{'p50 s':>8}{'p95 s':>8}")
    print(
        f"{'stock (per changed offer)':<34}{stock['requests_per_change']:>14}"
        f"{'-':>10}{stock['peer']['keycrm_writes_per_period']:>10}{stock['p50_seconds']!s:>8}{stock['p95_seconds']!s:>8}"
    )
    for name in ("stream", "burst"):
        phase = orders[name]
        if phase is None:
            continue
        label = f"orders, {name} of {phase['orders']}" + (
            f" at {phase['rate_per_second']}/s" if name == "stream" else " at once"
        )
        print(
            f"{label:<34}{phase['requests_per_order']:>14}{phase['minimum_per_order']:>10}"
            f"{phase['peer_per_order']:>10}{phase['p50_seconds']!s:>8}{phase['p95_seconds']!s:>8}"
        )
    for run in stock["cycles"]:
        print(f"  stock cycle: {json.dumps(run, ensure_ascii=False)}")
    print(f"  orders: {json.dumps(orders, ensure_ascii=False)}")
    print(f"written: {path}")
    return result


if __name__ == "__main__":
    main()
