"""Benchmark of the order upload (issue 12) against the sandboxes on loopback, with the seed module as a peer.

    python bench/orders.py [--orders 1000] [--latency-orders 40] [--poll-seconds 2] [--arrival-seconds 60]
                           [--quick] [--no-peer] [--out bench/results]

One run on the demo world (MoySklad sandbox with ``--products`` products, retailCRM sandbox, feed
server; full import once, not measured; the order mappings of the chaos test):

1. bulk: ``--orders`` orders placed at once in retailCRM by ``orders ÷ 8`` people (repeat customers,
   phones typed six ways, e-mails in two cases), then one order-upload cycle: seconds, orders per
   minute, requests per order per system (read from the sandboxes' logs, our credentials only),
   429/503, and every order once in MoySklad by ``externalCode``.
2. one order on its own, twice: by a new customer, then by a customer the hub already linked; the
   MoySklad requests of each cycle by endpoint (the reference books a cycle reads are shown apart).
3. latency from an order appearing in retailCRM (``create_order`` returned) to it existing in
   MoySklad (a watcher polls the sandbox's state every 10 ms), ``--latency-orders`` orders at random
   moments over ``--arrival-seconds``: (a) the history poll of the long-running process, emulated by a
   loop calling the order-upload flow every ``--poll-seconds`` (as ``skladbridge serve`` will);
   (b) the scheduled 1-minute flow, modelled: an order waits for the next run (uniform over the
   minute, drawn per order) and then a measured cycle carrying the orders of a minute.
4. the peer, the seed module's way: the same bulk orders read from the CRM's history, then per order a
   counterparty search by the contact as typed, a create when none is found and one POST of the order,
   against a second MoySklad sandbox holding the same catalog (its own log).

Writes ``<out>/orders-<orders>-<UTC>.json`` and prints the tables.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

BENCH = REPO / "bench"
SCHEDULE_SECONDS = 60.0
TARGETS = {"ms_requests_per_order_bulk": 0.1, "ms_requests_single_order": 3, "poll_p95_seconds": 5.0, "refused": 0}
STATUSES = {
    "new": "Новый",
    "assembling": "Подтвержден",
    "assembling-complete": "Собран",
    "complete": "Отгружен",
    "cancel-other": "Отменен",
}
#: MoySklad endpoints of the reference books a cycle reads before planning (OrderSink.order_reference)
REFERENCE_BOOKS = (
    "/entity/customerorder/metadata",
    "/entity/organization",
    "/entity/store",
    "/entity/service",
    "/entity/counterparty/metadata",
)
QUICK = {"orders": 20, "products": 30, "latency_orders": 4, "arrival_seconds": 4.0}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--orders", type=int, default=1000, help="orders placed at once for the bulk cycle")
    p.add_argument("--products", type=int, default=200)
    p.add_argument("--latency-orders", type=int, default=40, help="orders timed on the polling path")
    p.add_argument("--poll-seconds", type=float, default=2.0)
    p.add_argument("--arrival-seconds", type=float, default=60.0, help="latency orders arrive over this long")
    p.add_argument("--no-peer", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--catalog-wait", type=float, default=60.0)
    p.add_argument("--quick", action="store_true", help="CI smoke: 20 orders, 30 products, 4 timed over 4 s")
    p.add_argument("--out", type=Path, default=BENCH / "results")
    p.add_argument("--prefect-home", type=Path, default=BENCH / ".prefect")
    args = p.parse_args(argv)
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
    return args


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


class Bench:
    """The running world, our credentials in the sandboxes' logs, and the flow called in this thread."""

    def __init__(self, world: Any, config_path: Path) -> None:
        self.world, self.config_path = world, config_path
        self.ours_ms: set[str] = set()
        self.ours_crm: set[str] = set()

    def upload(self, trigger: str = "schedule") -> dict[str, Any]:
        from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

        from deployments.demo import DEMO_INTEGRATION
        from flows.order_upload import order_upload

        with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            return order_upload(DEMO_INTEGRATION, config_path=str(self.config_path), trigger=trigger)

    def spent(self, since: float, until: float) -> dict[str, Any]:
        from bench import measure

        ms = measure.count_log([e for e in self.world.moysklad.log if e.credential in self.ours_ms], since, until, 429)
        crm = measure.count_log(
            [e for e in self.world.retailcrm.log if e.credential in self.ours_crm], since, until, 503
        )
        return {"moysklad": ms.as_dict(), "retailcrm": crm.as_dict()}

    def cycle(self, label: str) -> dict[str, Any]:
        """One measured order-upload cycle."""
        since, started = time.time(), time.monotonic()
        error, summary = None, {}
        try:
            summary = self.upload()
        except Exception:
            error = traceback.format_exc()
        seconds = time.monotonic() - started
        spent = self.spent(since, time.time())
        ms_by = spent["moysklad"]["by_endpoint"]
        row: dict[str, Any] = {
            "run": label,
            "seconds": round(seconds, 2),
            "requests": {"moysklad": spent["moysklad"]["requests"], "retailcrm": spent["retailcrm"]["requests"]},
            "reference_book_requests": sum(n for e, n in ms_by.items() if e in REFERENCE_BOOKS),
            "refused": {"429": spent["moysklad"]["refused"], "503": spent["retailcrm"]["refused"]},
            "summary": {
                k: summary.get(k)
                for k in (
                    "orders_read",
                    "eligible",
                    "queued",
                    "parked",
                    "accepted",
                    "created",
                    "refused",
                    "customers_found",
                    "customers_created",
                )
            },
            "log": spent,
        }
        if error:
            row["error"] = error
        return row


def per_order(row: dict[str, Any], orders: int) -> None:
    row["orders"] = orders
    row["orders_per_minute"] = _r(orders / row["seconds"] * 60 if row["seconds"] else None, 0)
    row["requests_per_order"] = {k: _r(v / orders if orders else None, 3) for k, v in row["requests"].items()}


# -- phases -----------------------------------------------------------------------------------------------


def run_bulk(b: Bench, count: int, rng: random.Random) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
    from bench.order_world import once_by_external_code, people, place_many

    head = b.world.retailcrm.state.history[-1].id if b.world.retailcrm.state.history else 0
    crowd = people(max(4, count // 8), rng)
    placed = place_many(b.world, crowd, count, rng)
    row = b.cycle(f"ours: {count} orders at once")
    per_order(row, count)
    row["people"] = len(crowd)
    row["crm_customers"] = len({o["customer"]["id"] for o in placed})
    row["in_moysklad"] = once_by_external_code(b.world, [o["id"] for o in placed])
    return row, placed, head


def run_single(b: Bench, rng: random.Random) -> list[dict[str, Any]]:
    from bench.order_world import live_offers, once_by_external_code, people, place

    offers = live_offers(b.world)
    someone = people(1, rng, prefix="single-")[0]
    rows = []
    for label, known in (("ours: 1 order, a new customer", False), ("ours: 1 order, a customer linked before", True)):
        time.sleep(3.5)  # the bucket refills: the cycle starts fresh
        order = place(b.world, someone, offers, rng, known=known)
        row = b.cycle(label)
        per_order(row, 1)
        row["in_moysklad"] = once_by_external_code(b.world, [order["id"]])
        rows.append(row)
    return rows


class Poller:
    """Calls ``run`` every ``period`` seconds (at once when a cycle overran) in a thread, until stopped."""

    def __init__(self, run: Callable[[], dict[str, Any]], period: float) -> None:
        import threading

        self.run_cycle, self.period = run, period
        self.cycles: list[dict[str, Any]] = []
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="order-poll", daemon=True)

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._halt.set()
        self._thread.join()

    def _loop(self) -> None:
        due = time.monotonic()
        while not self._halt.is_set():
            started = time.monotonic()
            try:
                s = self.run_cycle()
                self.cycles.append(
                    {
                        "seconds": round(time.monotonic() - started, 2),
                        **{k: s.get(k) for k in ("orders_read", "accepted", "skipped")},
                    }
                )
            except Exception as exc:
                self.cycles.append({"seconds": round(time.monotonic() - started, 2), "error": repr(exc)})
            due = max(due + self.period, time.monotonic())
            self._halt.wait(due - time.monotonic())


def run_polling(b: Bench, count: int, period: float, window: float, rng: random.Random) -> dict[str, Any]:
    from bench.order_world import Watcher, live_offers, people, percentile, place

    offers = live_offers(b.world)
    crowd = people(max(2, count // 3), rng, prefix="poll-")
    watcher = Watcher(b.world)
    watcher.start()
    since = time.time()
    moments = sorted(rng.uniform(0, window) for _ in range(count))
    try:
        with Poller(lambda: b.upload("poll"), period) as poller:
            start = time.monotonic()
            for moment in moments:
                time.sleep(max(0.0, start + moment - time.monotonic()))
                order = place(b.world, rng.choice(crowd), offers, rng)
                watcher.watch(order["id"], time.monotonic())
            deadline = time.monotonic() + 4 * period + 60
            while watcher.pending and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        watcher.stop()
    lat = watcher.latencies()
    spent = b.spent(since, time.time())
    busy = [c for c in poller.cycles if c.get("accepted")]
    return {
        "path": f"history poll every {period:g} s (a loop calling the order-upload flow)",
        "poll_seconds": period,
        "orders": count,
        "held": len(lat),
        "arrival_seconds": window,
        "p50": _r(percentile(lat, 0.5)),
        "p95": _r(percentile(lat, 0.95)),
        "max": _r(max(lat, default=None)),
        "cycles": len(poller.cycles),
        "cycles_with_orders": len(busy),
        "cycle_seconds_with_orders": {
            "p50": _r(percentile([c["seconds"] for c in busy], 0.5)),
            "max": _r(max((c["seconds"] for c in busy), default=None)),
        },
        "cycle_seconds_idle": _r(percentile([c["seconds"] for c in poller.cycles if not c.get("accepted")], 0.5)),
        "errors": [c["error"] for c in poller.cycles if "error" in c][:5],
        "requests": {"moysklad": spent["moysklad"]["requests"], "retailcrm": spent["retailcrm"]["requests"]},
        "refused": {"429": spent["moysklad"]["refused"], "503": spent["retailcrm"]["refused"]},
        "log": spent,
    }


def run_scheduled(b: Bench, per_minute: int, rng: random.Random) -> dict[str, Any]:
    """A real cycle carrying a minute's orders; each order's wait for the next run drawn uniform(0, 60)."""
    from bench.order_world import live_offers, people, percentile, place

    offers = live_offers(b.world)
    crowd = people(max(2, per_minute // 3), rng, prefix="sched-")
    time.sleep(3.5)
    for _ in range(per_minute):
        place(b.world, rng.choice(crowd), offers, rng)
    row = b.cycle(f"scheduled cycle with {per_minute} orders")
    waits = [rng.uniform(0, SCHEDULE_SECONDS) + row["seconds"] for _ in range(max(per_minute, 1000))]
    return {
        "path": f"scheduled flow every {SCHEDULE_SECONDS:g} s (model: uniform wait + measured cycle)",
        "orders_in_cycle": per_minute,
        "cycle_seconds": row["seconds"],
        "p50": _r(percentile(waits, 0.5)),
        "p95": _r(percentile(waits, 0.95)),
        "max": _r(SCHEDULE_SECONDS + row["seconds"]),
        "requests": row["requests"],
        "refused": row["refused"],
        **({"error": row["error"]} if "error" in row else {}),
    }


def run_peer(b: Bench, placed: list[dict[str, Any]], head: int, products: int, seed: int) -> dict[str, Any]:
    """The seed module's upload of the bulk orders into a second MoySklad sandbox with the same catalog."""
    from bench.order_world import peer_upload
    from connectors.moysklad.sandbox import MoySkladSandbox
    from connectors.moysklad.sandbox.generator import seed_catalog
    from connectors.sandboxing import LoopbackServer
    from deployments.demo import DEMO_INTEGRATION, MS_LOGIN

    password = os.urandom(8).hex()
    twin = MoySkladSandbox(token=None, login=MS_LOGIN, password=password, token_kind="user", seed=seed)
    seed_catalog(twin, products, variants_ratio=0.3, stores=4, price_types=2, images_ratio=0.3, seed=seed)
    kinds = {oid: kind for kind in ("product", "variant") for oid in twin.store.of_type(kind)}
    assert set(kinds) >= {i["offer"]["xmlId"] for o in placed for i in o["items"]}, "the twin's catalog differs"
    before = len(twin.store.of_type("counterparty"))
    crm_key = "peer-" + os.urandom(8).hex()
    b.world.retailcrm.add_api_key(crm_key, sites=[DEMO_INTEGRATION])
    time.sleep(3.5)
    from connectors.sandboxing.rules import credential_digest

    with LoopbackServer(twin.app) as server:
        since = time.time()
        result = peer_upload(
            os.environ["SKLADBRIDGE_DEMO_CRM_URL"],
            crm_key,
            head,
            {o["id"] for o in placed},
            server.url + "/api/remap/1.2",
            (MS_LOGIN, password),
            kinds,
        )
    crm = [e for e in b.world.retailcrm.log if e.credential == credential_digest(crm_key) and e.at >= since]
    ms_requests = len(twin.log)
    counted = Counter(o.get("externalCode") for o in twin.store.of_type("customerorder").values())
    row: dict[str, Any] = {
        "run": f"peer: {result.orders} orders, one POST each with a search",
        "seconds": round(result.seconds, 2),
        "requests": {"moysklad": ms_requests, "retailcrm": len(crm)},
        "refused": {"429": result.refused_429, "503": result.refused_503},
        "searches": result.searches,
        "orders_posted": result.orders_posted,
        "counterparties_created": len(twin.store.of_type("counterparty")) - before,
        "contacts_as_typed": len(result.contacts),
        "in_moysklad": {
            "once": sum(1 for n in counted.values() if n == 1),
            "more_than_once": sum(1 for n in counted.values() if n > 1),
        },
        "what": "CRM history pages, then per order: GET counterparty?filter=<phone or e-mail as typed>, "
        "POST counterparty when none, POST customerorder; sequential, waits out 429s",
    }
    per_order(row, result.orders)
    return row


# -- the run ------------------------------------------------------------------------------------------------


@contextmanager
def order_world(workdir: Path, products: int, seed: int, catalog_wait: float) -> Iterator[Bench]:
    import yaml

    from deployments.demo import DEMO_INTEGRATION, demo_world
    from flows.full_import import full_import

    with demo_world(workdir, products, seed=seed) as world:
        config = yaml.safe_load(world.config_path.read_text(encoding="utf-8"))
        integ = config["integrations"][DEMO_INTEGRATION]
        integ["flows"]["orders"] = {"from": "crm", "to": "ms"}
        integ["mappings"].update(
            {"statuses": STATUSES, "order_stores": {"msk": "Основной склад"}, "delivery_types": {"self-delivery": None}}
        )
        integ["options"]["orders"] = {"upload_statuses": ["new", "assembling"]}
        config_path = workdir / "bench-orders.yaml"
        config_path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
        from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

        with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            full_import(DEMO_INTEGRATION, config_path=str(config_path), catalog_wait_seconds=catalog_wait)
        b = Bench(world, config_path)
        first = b.upload()  # sets the cursor
        assert first["first_read"], first
        b.ours_ms = {e.credential for e in world.moysklad.log if e.credential}
        b.ours_crm = {e.credential for e in world.retailcrm.log if e.credential}
        yield b


def run(args: argparse.Namespace) -> dict[str, Any]:
    from prefect.client.orchestration import get_client

    work = BENCH / ".work"
    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed + 12)
    result: dict[str, Any] = {
        "benchmark": "orders",
        "orders": args.orders,
        "products": args.products,
        "parameters": {k: getattr(args, k) for k in ("latency_orders", "poll_seconds", "arrival_seconds", "seed")},
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "targets": TARGETS,
        "notes": [
            "sandboxes, the watcher and our flow share one process (uvicorn threads, one GIL); orders are placed "
            "in-process (no request)",
            "requests are read from the sandboxes' logs, our credentials only",
            "the 2-second poll is a loop calling the order-upload flow (Prefect flow run included) every 2 s; the "
            "1-minute schedule is modelled (uniform wait + a measured cycle carrying a minute's orders)",
            "latency: from create_order returning in the retailCRM sandbox to the order being in the MoySklad "
            "sandbox's state (polled every 10 ms)",
        ],
    }
    with get_client(sync_client=True) as client:
        client.api_healthcheck()
    with tempfile.TemporaryDirectory(dir=work, prefix=f"orders-{args.orders}-") as tmp:
        started = time.monotonic()
        print(f"world: {args.products} products, full import (not measured) ...", flush=True)
        with order_world(Path(tmp), args.products, args.seed, args.catalog_wait) as b:
            result["world_seconds"] = round(time.monotonic() - started, 1)
            print(f"bulk: {args.orders} orders at once, one cycle ...", flush=True)
            bulk, placed, head = run_bulk(b, args.orders, rng)
            result["runs"] = [bulk]
            print("one order on its own, twice ...", flush=True)
            result["runs"] += run_single(b, rng)
            print(
                f"latency, polling every {args.poll_seconds:g} s: {args.latency_orders} orders over "
                f"{args.arrival_seconds:g} s ...",
                flush=True,
            )
            result["latency"] = {
                "poll": run_polling(b, args.latency_orders, args.poll_seconds, args.arrival_seconds, rng)
            }
            per_minute = max(1, round(args.latency_orders / args.arrival_seconds * SCHEDULE_SECONDS))
            print(f"latency, scheduled 1-minute flow: a cycle with {per_minute} orders ...", flush=True)
            result["latency"]["scheduled"] = run_scheduled(b, per_minute, rng)
            if not args.no_peer:
                print("peer: the seed module's upload of the bulk orders ...", flush=True)
                try:
                    result["runs"].append(run_peer(b, placed, head, args.products, args.seed))
                except Exception:
                    result["peer_error"] = traceback.format_exc()
            result["moysklad_banned_flag"] = b.world.moysklad.banned
    result["verdict"] = verdict(result)
    return result


def verdict(result: dict[str, Any]) -> dict[str, Any]:
    runs = [r for r in result.get("runs") or [] if r["run"].startswith("ours")]
    bulk, singles = runs[0], runs[1:]
    poll = result["latency"]["poll"]
    ours = [*runs, poll, result["latency"]["scheduled"]]
    return {
        "all_orders_once": all(
            r["in_moysklad"]["once"] == r["orders"] and not r["in_moysklad"]["more_than_once"] for r in runs
        )
        and poll["held"] == poll["orders"],
        "ms_requests_per_order_bulk": bulk["requests_per_order"]["moysklad"],
        "bulk_within_target": bulk["requests_per_order"]["moysklad"] <= TARGETS["ms_requests_per_order_bulk"],
        "ms_requests_single": [r["requests"]["moysklad"] for r in singles],
        "ms_requests_single_without_reference_books": [
            r["requests"]["moysklad"] - r["reference_book_requests"] for r in singles
        ],
        "single_within_target": all(r["requests"]["moysklad"] <= TARGETS["ms_requests_single_order"] for r in singles),
        "poll_p95_within_5s": poll["p95"] is not None and poll["p95"] <= TARGETS["poll_p95_seconds"],
        "zero_429_503": all(not r["refused"]["429"] and not r["refused"]["503"] for r in ours),
        "no_cycle_failed": not any("error" in r for r in ours) and not poll["errors"],
    }


# -- report -------------------------------------------------------------------------------------------------

RUN_HEADER = ["run", "orders", "s", "orders/min", "MS req", "MS req/order", "CRM req", "CRM req/order", "429/503"]
LATENCY_HEADER = ["path", "orders held", "p50 s", "p95 s", "max s"]


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def run_rows(result: dict[str, Any]) -> list[list[str]]:
    rows = []
    for r in result.get("runs") or []:
        ms = _fmt(r["requests"]["moysklad"])
        if r.get("reference_book_requests"):
            ms += f" ({r['reference_book_requests']} books)"
        rows.append(
            [
                r["run"],
                str(r["orders"]),
                _fmt(r["seconds"]),
                _fmt(r["orders_per_minute"]),
                ms,
                _fmt(r["requests_per_order"]["moysklad"]),
                _fmt(r["requests"]["retailcrm"]),
                _fmt(r["requests_per_order"]["retailcrm"]),
                f"{r['refused']['429']}/{r['refused']['503']}",
            ]
        )
    return rows


def latency_rows(result: dict[str, Any]) -> list[list[str]]:
    poll, sched = result["latency"]["poll"], result["latency"]["scheduled"]
    return [
        [poll["path"], f"{poll['held']}/{poll['orders']}", _fmt(poll["p50"]), _fmt(poll["p95"]), _fmt(poll["max"])],
        [
            sched["path"] + f", cycle {_fmt(sched['cycle_seconds'])} s",
            "-",
            _fmt(sched["p50"]),
            _fmt(sched["p95"]),
            _fmt(sched["max"]),
        ],
    ]


def main(argv: list[str] | None = None) -> int:
    from bench.report import markdown_table, text_table, write_result

    args = parse_args(argv)
    from bench.full_import import configure_prefect

    configure_prefect(args.prefect_home)
    started = time.monotonic()
    result = run(args)
    result["total_seconds"] = round(time.monotonic() - started, 1)
    result["tables_markdown"] = {
        "runs": markdown_table(RUN_HEADER, run_rows(result)),
        "latency": markdown_table(LATENCY_HEADER, latency_rows(result)),
    }
    path = write_result(result, args.out, f"orders-{result['orders']}")
    print()
    print(f"order upload, {args.orders} orders at once, {args.products} products; requests from the sandboxes' logs")
    print(text_table(RUN_HEADER, run_rows(result)))
    print()
    print(text_table(LATENCY_HEADER, latency_rows(result)))
    print()
    print("verdict: " + ", ".join(f"{k}={v}" for k, v in result["verdict"].items()))
    for r in result.get("runs") or []:
        if "error" in r:
            print(f"RUN {r['run']} FAILED:\n{r['error']}", file=sys.stderr)
    if "peer_error" in result:
        print(f"PEER FAILED:\n{result['peer_error']}", file=sys.stderr)
    print(f"results: {path}")
    v = result["verdict"]
    return 0 if v["all_orders_once"] and v["no_cycle_failed"] and "peer_error" not in result else 1


if __name__ == "__main__":
    sys.exit(main())
