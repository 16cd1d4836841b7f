"""Benchmark of stock sync (issue 11) against the sandboxes on loopback, with the seed module's 10-minute poll.

    python bench/stock_sync.py [--products 100000] [--cycles 5] [--changes 200] [--poll-seconds 30]
                               [--webhook-interval 60] [--quick] [--out bench/results]

One run on the demo world (MoySklad sandbox seeded with ``--products`` products, variants and 10
stores, every store mapped onto the CRM's two warehouses; retailCRM sandbox; feed server):

1. the full import once and a first stock-sync cycle (a whole read), neither measured; then
   ``--cycles`` cycles, each after ``--change-share`` (1 %) of the stocked offers changed at a random
   store through MoySklad documents (shipments and sales returns, made by a user with a credential
   of its own). Per cycle: our requests per system, read from the sandboxes' logs, against the
   minimum the changes need (1 MoySklad read + ⌈changed offers ÷ 250⌉ retailCRM writes), 429/503,
   seconds, and whether the CRM then holds what MoySklad's ledger says.
2. latency over ``--changes`` changes made one at a time at random moments over ``--arrival-seconds``,
   from the moment the document is saved in MoySklad to the moment the retailCRM sandbox holds the
   new stock (a watcher thread polls the CRM's state every 10 ms): (a) the polling path, a cycle
   every ``--poll-seconds``; (b) the webhook path, through the receiver (``deployments/service/webhooks``)
   and the sandbox's webhooks, ``webhookstock`` every ``--webhook-interval`` seconds (MoySklad: 1-5 min).
3. the peer, the seed module's way: a whole stock report and an upload of every offer (⌈offers ÷ 250⌉)
   every 10 minutes, run once for real on a fresh 1 % of changes; its latency is modelled (a change
   waits for the next 10-minute poll: uniform) plus its measured cycle.

Writes ``<out>/stock_sync-<products>-<UTC>.json`` and prints the tables.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import random
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

BENCH = REPO / "bench"
CRM_BATCH = 250
PEER_PERIOD_SECONDS = 600.0
TARGET_RATIO = 1.1
HOOK_ENV = "SKLADBRIDGE_BENCH_WEBHOOK_SECRET"
QUICK = {
    "products": 2000,
    "cycles": 2,
    "changes": 16,
    "poll_seconds": 1.0,
    "arrival_seconds": 4.0,
    "webhook_interval": 1.0,
}

Sync = Callable[[str], dict[str, Any]]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--products", type=int, default=100_000)
    p.add_argument("--stores", type=int, default=10)
    p.add_argument("--cycles", type=int, default=5, help="measured cycles of 1 %% changes")
    p.add_argument("--change-share", type=float, default=0.01, help="share of stocked offers changing per cycle")
    p.add_argument("--changes", type=int, default=200, help="changes timed per latency path")
    p.add_argument("--poll-seconds", type=float, default=30.0, help="the polling path's period")
    p.add_argument(
        "--arrival-seconds",
        type=float,
        default=None,
        help="changes arrive at random moments over this long (default: 4 poll periods, at least 2 webhook intervals)",
    )
    p.add_argument(
        "--webhook-interval",
        type=float,
        default=60.0,
        help="seconds between the sandbox's webhookstock notifications (MoySklad: 60-300)",
    )
    p.add_argument("--no-webhook", action="store_true", help="skip the webhook path")
    p.add_argument("--no-peer", action="store_true", help="skip the seed module's poll")
    p.add_argument("--auth", choices=("login", "app"), default="login")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--catalog-wait", type=float, default=180.0)
    p.add_argument(
        "--quick",
        action="store_true",
        help="CI smoke: 2000 products, 2 cycles, 16 changes over 4 s, 1 s poll and webhook interval",
    )
    p.add_argument("--out", type=Path, default=BENCH / "results")
    p.add_argument("--prefect-home", type=Path, default=BENCH / ".prefect")
    args = p.parse_args(argv)
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
    if args.arrival_seconds is None:
        args.arrival_seconds = max(4 * args.poll_seconds, 2 * args.webhook_interval)
    return args


# -- context -----------------------------------------------------------------------------------------


@dataclass
class Bench:
    """The running world and what the phases share."""

    bw: Any  # bench.world.BenchWorld
    view: Any  # bench.stock_world.StockView
    operator: Any  # bench.stock_world.Operator
    rng: random.Random
    ours_ms: set[str] = field(default_factory=set)  # our credentials in each sandbox's log
    ours_crm: set[str] = field(default_factory=set)

    def sync(self, trigger: str = "schedule") -> dict[str, Any]:
        """One stock-sync cycle, the flow called in this thread (heartbeat off, like the full-import bench)."""
        from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

        from deployments.demo import DEMO_INTEGRATION
        from flows.stock_sync import stock_sync

        with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            return stock_sync(DEMO_INTEGRATION, config_path=str(self.bw.config_path), trigger=trigger)

    def spent(
        self,
        since: float,
        until: float,
        *,
        credentials: tuple[set[str], set[str]] | None = None,
    ) -> dict[str, Any]:
        """What the sandboxes logged in ``[since, until]`` from ``credentials`` (default: ours)."""
        from bench import measure

        ms_cred, crm_cred = credentials or (self.ours_ms, self.ours_crm)
        ms = measure.count_log([e for e in self.bw.demo.moysklad.log if e.credential in ms_cred], since, until, 429)
        crm = measure.count_log([e for e in self.bw.demo.retailcrm.log if e.credential in crm_cred], since, until, 503)
        return {"moysklad": ms.as_dict(), "retailcrm": crm.as_dict(), "would_ban": measure.would_ban(ms)}


def minimum(changed: int) -> dict[str, int]:
    return {"moysklad": 1, "retailcrm": math.ceil(changed / CRM_BATCH)}


def ratio(requests: int, floor: int) -> float | None:
    return round(requests / floor, 3) if floor else None


# -- phase 1: cycles of 1 % ----------------------------------------------------------------------------


def run_cycles(b: Bench, cycles: int, share: float) -> list[dict[str, Any]]:
    from bench.stock_world import plan_changes

    out: list[dict[str, Any]] = []
    for number in range(1, cycles + 1):
        offers = b.rng.sample(b.view.offers, max(1, round(len(b.view.offers) * share)))
        changes = plan_changes(b.view, offers, b.rng)
        b.operator.make(changes)
        for change in changes:
            change.expected = b.view.expected(change.offer_id)
        moved = sum(1 for c in changes if c.expected != c.before)
        since, started = time.time(), time.monotonic()
        error = summary = None
        try:
            summary = b.sync()
        except Exception:
            error = traceback.format_exc()
        seconds = round(time.monotonic() - started, 2)
        spent = b.spent(since, time.time())
        floor = minimum(moved)
        ms_req, crm_req = spent["moysklad"]["requests"], spent["retailcrm"]["requests"]
        row: dict[str, Any] = {
            "cycle": number,
            "offers_changed_in_moysklad": moved,
            "documents": "demand + salesreturn by store",
            "minimum": floor,
            "requests": {"moysklad": ms_req, "retailcrm": crm_req},
            "ratio": {
                "moysklad": ratio(ms_req, floor["moysklad"]),
                "retailcrm": ratio(crm_req, floor["retailcrm"]),
                "total": ratio(ms_req + crm_req, sum(floor.values())),
            },
            "refused": {"429": spent["moysklad"]["refused"], "503": spent["retailcrm"]["refused"]},
            "seconds": seconds,
            "log": spent,
            "crm_mismatches_after": len(b.view.mismatches(c.offer_id for c in changes)),
        }
        if summary is not None:
            row["summary"] = {
                k: summary.get(k)
                for k in (
                    "full",
                    "why",
                    "rows_read",
                    "offers_affected",
                    "offers_changed",
                    "batches_sent",
                    "offers_sent",
                    "not_found",
                    "seconds",
                    "requests",
                )
            }
        if error:
            row["error"] = error
        out.append(row)
        print(
            f"  cycle {number}: {moved} offers changed, MoySklad {ms_req}/{floor['moysklad']}, "
            f"retailCRM {crm_req}/{floor['retailcrm']}, {seconds} s",
            flush=True,
        )
    return out


# -- phase 2: latency ------------------------------------------------------------------------------------


class Poller(threading.Thread):
    """Runs a cycle every ``period`` seconds (at once when one overran) until stopped."""

    def __init__(self, run: Callable[[], dict[str, Any]], period: float) -> None:
        super().__init__(name="poller", daemon=True)
        self.run_cycle, self.period = run, period
        self.cycles: list[dict[str, Any]] = []
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def run(self) -> None:
        due = time.monotonic()
        while not self._halt.is_set():
            started = time.monotonic()
            try:
                summary = self.run_cycle()
                self.cycles.append(
                    {
                        "seconds": round(time.monotonic() - started, 2),
                        **{k: summary.get(k) for k in ("offers_changed", "batches_sent", "skipped")},
                    }
                )
            except Exception as exc:
                self.cycles.append({"seconds": round(time.monotonic() - started, 2), "error": repr(exc)})
            due += self.period
            due = max(due, time.monotonic())
            self._halt.wait(due - time.monotonic())


def timed_changes(b: Bench, count: int, window: float, settle: float) -> dict[str, Any]:
    """``count`` changes at random moments over ``window`` s, each on its own offer; wait ``settle`` s at most
    after the last for the CRM to hold them all. Returns the latencies and what was left."""
    from bench.stock_world import Change, Watcher, percentile, plan_changes

    watcher = Watcher(b.view)
    watcher.start()
    moments = sorted(b.rng.uniform(0, window) for _ in range(count))
    candidates = iter(b.rng.sample(b.view.offers, min(len(b.view.offers), count * 3)))
    changes: list[Change] = []
    start = time.monotonic()
    try:
        for moment in moments:
            change = None
            while change is None:  # an offer the CRM holds as MoySklad says (none pending elsewhere)
                offer = next(candidates)
                planned = plan_changes(b.view, [offer], b.rng)
                if planned and b.view.held(offer) == planned[0].before:
                    change = planned[0]
            time.sleep(max(0.0, start + moment - time.monotonic()))
            b.operator.make_one(change)
            change.expected = b.view.expected(change.offer_id)
            watcher.watch(change)
            changes.append(change)
        deadline = time.monotonic() + settle
        while watcher.pending and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        watcher.stop()
    latencies = [c.latency for c in changes if c.latency is not None]
    return {
        "changes": len(changes),
        "held": len(latencies),
        "not_held": len(changes) - len(latencies),
        "arrival_seconds": window,
        "p50": _r(percentile(latencies, 0.50)),
        "p95": _r(percentile(latencies, 0.95)),
        "max": _r(max(latencies) if latencies else None),
        "mean": _r(sum(latencies) / len(latencies) if latencies else None),
        "by_document": {
            kind: {"changes": len(lat), "p50": _r(percentile(lat, 0.5)), "p95": _r(percentile(lat, 0.95))}
            for kind in ("salesreturn", "demand")
            if (lat := [c.latency for c in changes if c.document == kind and c.latency is not None])
        },
    }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def run_polling(b: Bench, changes: int, period: float, window: float) -> dict[str, Any]:
    poller = Poller(lambda: b.sync("schedule"), period)
    since = time.time()
    poller.start()
    try:
        result = timed_changes(b, changes, window, settle=2 * period + 60)
    finally:
        poller.stop()
    result.update(path="polling", poll_seconds=period, cycles=poller.cycles, spent=b.spent(since, time.time()))
    return result


def run_webhook(b: Bench, changes: int, interval: float, window: float) -> dict[str, Any]:
    """The webhook path through the receiver; not measured when ``deployments/service/webhooks.py`` is absent."""
    if importlib.util.find_spec("deployments.service.webhooks") is None:
        return {
            "path": "webhook",
            "measured": False,
            "reason": "not measured: receiver not present (deployments/service/webhooks.py has not landed)",
        }
    try:
        with webhook_receiver(b, interval) as receiver:
            since = time.time()
            result = timed_changes(b, changes, window, settle=2 * interval + 60)
            until = time.time()
            result.update(
                path="webhook",
                measured=True,
                webhook_interval=interval,
                **receiver.report(since, until),
                spent=b.spent(since, until),
            )
            return result
    except Exception:
        return {"path": "webhook", "measured": False, "reason": "the receiver failed", "error": traceback.format_exc()}


@dataclass
class RunningReceiver:
    """The receiver on loopback, what MoySklad's sandbox subscribed, and the cycles it ran."""

    url: str
    subscribed: list[str]
    ms: Any  # MoySkladSandbox
    cycles: list[dict[str, Any]] = field(default_factory=list)

    def report(self, since: float, until: float) -> dict[str, Any]:
        inside = [c for c in self.cycles if since <= c["started_at"] <= until]
        deliveries = self.ms.webhooks.deliveries
        kinds: dict[str, int] = {}
        for d in deliveries:
            kind = (
                "webhookstock"
                if "reportUrl" in d.body
                else ",".join(sorted({e["meta"]["type"] for e in d.body.get("events", [])}))
            )
            kinds[kind] = kinds.get(kind, 0) + 1
        return {
            "subscribed": self.subscribed,
            "receiver_cycles": len(inside),
            "receiver_cycle_seconds": {
                "p50": _r(percentile_of([c["seconds"] for c in inside], 0.5)),
                "max": _r(max((c["seconds"] for c in inside), default=None)),
            },
            "cycles_failed_or_skipped": sum(1 for c in inside if c.get("error") or c.get("skipped")),
            "deliveries": {
                "attempts": len(deliveries),
                "by_kind": kinds,
                "failed_attempts": sum(1 for d in deliveries if d.status not in (200, 204)),
                "dropped": len(self.ms.webhooks.dropped),
            },
        }


def percentile_of(values: list[float], share: float) -> float | None:
    from bench.stock_world import percentile

    return percentile(values, share)


@contextmanager
def webhook_receiver(b: Bench, interval: float) -> Iterator[RunningReceiver]:
    """The receiver (``deployments.service.webhooks.webhook_app``, its default in-process stock-sync cycle, with
    the flow heartbeat off as everywhere in the benchmark) on a loopback socket; MoySklad's sandbox
    subscribed to it the way ``skladbridge webhooks register`` does, ``webhookstock`` every ``interval`` s.
    On exit the subscriptions are switched off and the receiver closed (running cycles end first)."""
    import asyncio

    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from connectors.sandboxing import LoopbackServer
    from deployments.demo import DEMO_INTEGRATION
    from deployments.service.webhooks import hook_url, receiving_hooks, stock_sync_cycle, webhook_app
    from hub.capabilities import StockEvents
    from hub.config import load_config
    from tasks.clients import open_capability

    inner = stock_sync_cycle(b.bw.config_path)
    ms = b.bw.demo.moysklad
    running = RunningReceiver("", [], ms)

    def run_cycle(integration: str, noticed_at: datetime | None) -> object:
        started_at, started = time.time(), time.monotonic()
        entry: dict[str, Any] = {"started_at": started_at}
        try:
            with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
                summary = inner(integration, noticed_at)
            if isinstance(summary, dict):
                entry.update({k: summary.get(k) for k in ("offers_changed", "batches_sent", "lag", "skipped")})
            return summary
        except Exception as exc:
            entry["error"] = repr(exc)
            raise
        finally:
            entry["seconds"] = round(time.monotonic() - started, 2)
            running.cycles.append(entry)

    app = webhook_app(b.bw.config_path, run_cycle)
    receiver = app.state.receiver
    ms.webhooks.stock_interval = interval
    config = load_config(b.bw.config_path)
    hook = next(h for h in receiving_hooks(config).values() if h.integration == DEMO_INTEGRATION)
    try:
        with LoopbackServer(app) as server:
            url = hook_url(server.url, hook.system, DEMO_INTEGRATION, hook.token.decode())
            ours = hook_url(server.url, hook.system, DEMO_INTEGRATION, "")

            async def subscribe() -> list[str]:
                async with open_capability(config.integration(DEMO_INTEGRATION), hook.alias, StockEvents) as events:
                    return await events.subscribe(url, ours=ours)

            running.url, running.subscribed = ours + "<token>", asyncio.run(subscribe())
            time.sleep(3.5)  # the subscription's requests spent our MoySklad bucket: let it refill
            try:
                yield running
            finally:
                for kind in ("webhook", "webhookstock"):
                    for subscription in list(ms.store.of_type(kind).values()):
                        subscription["enabled"] = False
                receiver.trigger.wait_idle(timeout=300)
    finally:
        receiver.close()


# -- phase 3: the peer -----------------------------------------------------------------------------------


def run_peer(b: Bench, share: float) -> dict[str, Any]:
    """The seed module's cycle, once, for real: a whole stock report and an upload of every offer."""
    import httpx

    from bench.stock_world import plan_changes
    from deployments.demo import DEMO_INTEGRATION

    offers = b.rng.sample(b.view.offers, max(1, round(len(b.view.offers) * share)))
    changes = plan_changes(b.view, offers, b.rng)
    b.operator.make(changes)
    for change in changes:
        change.expected = b.view.expected(change.offer_id)
    time.sleep(3.5)  # our last cycle's bucket refills: the peer starts as fresh as we did
    crm_key = "peer-" + os.urandom(8).hex()
    b.bw.demo.retailcrm.add_api_key(crm_key, sites=[DEMO_INTEGRATION])
    ms_auth = b.bw.credential
    ms_headers = {"Accept-Encoding": "gzip"}
    if "token" in ms_auth:
        ms_headers["Authorization"] = f"Bearer {ms_auth['token']}"
    crm_url = os.environ["SKLADBRIDGE_DEMO_CRM_URL"].rstrip("/") + "/api/v5"
    since, started = time.time(), time.monotonic()
    refused = {"429": 0, "503": 0}
    with httpx.Client(timeout=300) as http:
        auth = (ms_auth["login"], ms_auth["password"]) if "login" in ms_auth else None
        while True:
            report = http.get(
                f"{b.bw.ms_url}/report/stock/bystore/current",
                params={"stockType": b.view.measure},
                headers=ms_headers,
                auth=auth,
            )
            if report.status_code != 429:
                break
            refused["429"] += 1
            time.sleep(int(report.headers.get("X-Lognex-Retry-After", "1000")) / 1000)
        report.raise_for_status()
        read_seconds = time.monotonic() - started
        totals: dict[str, dict[str, float]] = {}
        for row in report.json():
            code = b.view.store_code.get(row.get("storeId"))
            if code is not None:
                per = totals.setdefault(row["assortmentId"], dict.fromkeys(b.view.codes, 0.0))
                per[code] += max(float(row.get(b.view.measure) or 0), 0.0)
        entries = [
            {
                "xmlId": offer,
                "stores": [
                    {"code": code, "available": qty}
                    for code, qty in totals.get(offer, dict.fromkeys(b.view.codes, 0.0)).items()
                ],
            }
            for offer in b.view.offers
        ]
        uploads, last = 0, 0.0
        for start in range(0, len(entries), CRM_BATCH):
            body = {"offers": json.dumps(entries[start : start + CRM_BATCH]), "site": DEMO_INTEGRATION}
            while True:
                time.sleep(max(0.0, last + 0.105 - time.monotonic()))  # 10 requests a second, the CRM's limit
                last = time.monotonic()
                answer = http.post(f"{crm_url}/store/inventories/upload", data=body, headers={"X-API-Key": crm_key})
                uploads += 1
                if answer.status_code != 503:
                    break
                refused["503"] += 1
                time.sleep(1.0)
            answer.raise_for_status()
    seconds = time.monotonic() - started
    spent = b.spent(since, time.time(), credentials=(b.ours_ms, {_digest(crm_key)}))
    return {
        "what": "every 10 minutes: one whole report/stock/bystore/current read, then every stocked offer "
        "uploaded in 250-offer batches (paced at 10 requests/s)",
        "offers": len(entries),
        "offers_changed_in_moysklad": sum(1 for c in changes if c.expected != c.before),
        "requests": {"moysklad": spent["moysklad"]["requests"], "retailcrm": spent["retailcrm"]["requests"]},
        "minimum_for_the_same_changes": minimum(sum(1 for c in changes if c.expected != c.before)),
        "refused": {"429": spent["moysklad"]["refused"], "503": spent["retailcrm"]["refused"]},
        "cycle_seconds": round(seconds, 2),
        "read_seconds": round(read_seconds, 2),
        "latency_model": {
            "what": "a change waits for the next 10-minute poll (uniform over the period), then the cycle",
            "period_seconds": PEER_PERIOD_SECONDS,
            "p50": round(0.50 * PEER_PERIOD_SECONDS + seconds, 1),
            "p95": round(0.95 * PEER_PERIOD_SECONDS + seconds, 1),
        },
        "crm_mismatches_after": len(b.view.mismatches(c.offer_id for c in changes)),
        "log": spent,
    }


def _digest(secret: str) -> str:
    from connectors.sandboxing.rules import credential_digest

    return credential_digest(secret)


# -- the run ------------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from bench.stock_world import Operator, StockView
    from bench.world import bench_world
    from deployments.demo import DEMO_INTEGRATION
    from flows.full_import import full_import

    work = BENCH / ".work"
    work.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "benchmark": "stock_sync",
        "products": args.products,
        "stores": args.stores,
        "auth": args.auth,
        "parameters": {
            k: getattr(args, k)
            for k in (
                "cycles",
                "change_share",
                "changes",
                "poll_seconds",
                "arrival_seconds",
                "webhook_interval",
                "seed",
            )
        },
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "targets": {"requests_ratio": TARGET_RATIO, "refused": 0, "webhook_p95_seconds": 30},
        "notes": [
            "sandboxes, the CRM watcher, the operator and our flow share one process (uvicorn threads, one GIL)",
            "requests are read from the sandboxes' logs, our credentials only (the operator making the stock "
            "documents has its own token); the minimum is 1 MoySklad read + ceil(changed offers / 250) "
            "retailCRM uploads",
            "latency: from the moment MoySklad saved the document (its HTTP answer) to the moment the retailCRM "
            "sandbox's state holds the new stock (polled every 10 ms in-process)",
        ],
    }
    with tempfile.TemporaryDirectory(dir=work, prefix=f"stock-{args.products}-") as tmp:
        seeded = time.monotonic()
        with bench_world(
            Path(tmp), args.products, auth=args.auth, weight_day=None, stores=args.stores, seed=args.seed
        ) as bw:
            result["world"] = {"seed_seconds": round(time.monotonic() - seeded, 1)}
            config = take_webhooks(bw.config_path)
            with get_client(sync_client=True) as client:
                client.api_healthcheck()
            started = time.monotonic()
            print(f"full import of {args.products} products (not measured) ...", flush=True)
            with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
                full_import(DEMO_INTEGRATION, config_path=str(bw.config_path), catalog_wait_seconds=args.catalog_wait)
            result["world"]["full_import_seconds"] = round(time.monotonic() - started, 1)
            print(f"  {result['world']['full_import_seconds']} s", flush=True)
            measure = ((config.get("options") or {}).get("stock") or {}).get("measure", "freeStock")
            view = StockView(bw.demo.moysklad, bw.demo.retailcrm, config["mappings"]["stores"], measure)
            # only our flow has called the sandboxes so far: its credentials tell our requests apart
            ours_ms = {e.credential for e in bw.demo.moysklad.log if e.credential}
            ours_crm = {e.credential for e in bw.demo.retailcrm.log if e.credential}
            b = Bench(bw, view, Operator(bw.demo.moysklad, bw.ms_url), random.Random(args.seed + 11), ours_ms, ours_crm)
            result["world"].update(stocked_offers=len(view.offers), crm_warehouses=view.codes, measure=measure)
            phases: dict[str, float] = {}
            result["phase_seconds"] = phases

            @contextmanager
            def phase(name: str, line: str) -> Iterator[None]:
                print(line, flush=True)
                began = time.monotonic()
                try:
                    yield
                finally:
                    phases[name] = round(time.monotonic() - began, 1)

            try:
                with phase("first_cycle", "first stock-sync cycle (a whole read; not measured) ..."):
                    first = b.sync()
                result["first_cycle"] = {
                    "seconds": phases.get("first_cycle"),
                    **{
                        k: first.get(k)
                        for k in ("full", "why", "rows_read", "offers_changed", "batches_sent", "requests")
                    },
                }
                result["crm_mismatches_before"] = len(view.mismatches(view.offers))
                with phase(
                    "cycles", f"{args.cycles} cycles, {args.change_share:.0%} of {len(view.offers)} offers changing ..."
                ):
                    result["cycles"] = run_cycles(b, args.cycles, args.change_share)
                with phase(
                    "polling",
                    f"latency, polling every {args.poll_seconds:g} s: {args.changes} changes "
                    f"over {args.arrival_seconds:g} s ...",
                ):
                    result["latency"] = {
                        "polling": run_polling(b, args.changes, args.poll_seconds, args.arrival_seconds)
                    }
                if args.no_webhook:
                    result["latency"]["webhook"] = {"path": "webhook", "measured": False, "reason": "--no-webhook"}
                else:
                    with phase(
                        "webhook",
                        f"latency, webhook path (webhookstock every {args.webhook_interval:g} s)"
                        f": {args.changes} changes over {args.arrival_seconds:g} s ...",
                    ):
                        result["latency"]["webhook"] = run_webhook(
                            b, args.changes, args.webhook_interval, args.arrival_seconds
                        )
                if not args.no_peer:
                    with phase("peer", "the seed module's poll, once ..."):
                        result["peer"] = run_peer(b, args.change_share)
                result["operator_requests"] = b.operator.requests
                result["moysklad_banned_flag"] = bw.demo.moysklad.banned
            finally:
                b.operator.close()
    result["verdict"] = verdict(result)
    return result


def take_webhooks(config_path: Path) -> dict[str, Any]:
    """Give the benchmark's integration a webhook token (``options.stock.webhook_secret``, a reference to
    :data:`HOOK_ENV`, set here); returns the integration's config."""
    import secrets

    import yaml

    from deployments.demo import DEMO_INTEGRATION

    os.environ[HOOK_ENV] = secrets.token_urlsafe(24)
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    integ = config["integrations"][DEMO_INTEGRATION]
    integ.setdefault("options", {}).setdefault("stock", {})["webhook_secret"] = "${" + HOOK_ENV + "}"
    config_path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return dict(integ)


def verdict(result: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets, each true or false (None: not measured)."""
    cycles = result.get("cycles") or []
    worst = max((c["ratio"]["total"] or 0 for c in cycles), default=None)
    webhook = (result.get("latency") or {}).get("webhook") or {}
    return {
        "worst_cycle_ratio": worst,
        "requests_within_1_1x": None if worst is None else worst <= TARGET_RATIO,
        "zero_429_503": all(not c["refused"]["429"] and not c["refused"]["503"] for c in cycles)
        and all(
            not (p.get("spent") or {}).get("moysklad", {}).get("refused")
            and not (p.get("spent") or {}).get("retailcrm", {}).get("refused")
            for p in (result.get("latency") or {}).values()
        ),
        "crm_converged": all(c["crm_mismatches_after"] == 0 and "error" not in c for c in cycles),
        "webhook_p95_within_30s": (webhook["p95"] <= 30 if webhook.get("p95") is not None else None),
    }


# -- report -------------------------------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def cycle_rows(result: dict[str, Any]) -> list[list[str]]:
    rows = []
    for c in result.get("cycles") or []:
        rows.append(
            [
                f"ours: cycle {c['cycle']}",
                str(c["offers_changed_in_moysklad"]),
                f"{c['requests']['moysklad']}/{c['minimum']['moysklad']}",
                f"{c['requests']['retailcrm']}/{c['minimum']['retailcrm']}",
                _fmt(c["ratio"]["total"]),
                f"{c['refused']['429']}/{c['refused']['503']}",
                _fmt(c["seconds"]),
            ]
        )
    peer = result.get("peer")
    if peer:
        floor = peer["minimum_for_the_same_changes"]
        rows.append(
            [
                "peer: seed module's poll",
                str(peer["offers_changed_in_moysklad"]),
                f"{peer['requests']['moysklad']}/{floor['moysklad']}",
                f"{peer['requests']['retailcrm']}/{floor['retailcrm']}",
                _fmt(ratio(sum(peer["requests"].values()), sum(floor.values()))),
                f"{peer['refused']['429']}/{peer['refused']['503']}",
                _fmt(peer["cycle_seconds"]),
            ]
        )
    return rows


CYCLE_HEADER = ["run", "offers changed", "MS req/min", "CRM req/min", "ratio", "429/503", "s per cycle"]
LATENCY_HEADER = ["path", "changes held", "p50 s", "p95 s", "max s"]


def latency_rows(result: dict[str, Any]) -> list[list[str]]:
    rows = []
    for name, lat in (result.get("latency") or {}).items():
        label = (
            f"polling every {_fmt(lat.get('poll_seconds'))} s"
            if name == "polling"
            else f"webhook (webhookstock every {_fmt(lat.get('webhook_interval'))} s)"
        )
        if lat.get("measured") is False:
            rows.append([f"webhook: {lat.get('reason')}", "-", "-", "-", "-"])
            continue
        rows.append([label, f"{lat['held']}/{lat['changes']}", _fmt(lat["p50"]), _fmt(lat["p95"]), _fmt(lat["max"])])
    peer = result.get("peer")
    if peer:
        model = peer["latency_model"]
        rows.append(
            [
                f"peer: 10-minute poll (model + measured {_fmt(peer['cycle_seconds'])} s cycle)",
                "-",
                _fmt(model["p50"]),
                _fmt(model["p95"]),
                _fmt(PEER_PERIOD_SECONDS + peer["cycle_seconds"]),
            ]
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    from bench.report import markdown_table, text_table, write_result

    args = parse_args(argv)
    from bench.full_import import configure_prefect

    configure_prefect(args.prefect_home)
    started = time.monotonic()
    result = run(args)
    result["total_seconds"] = round(time.monotonic() - started, 1)
    result["tables_markdown"] = {
        "cycles": markdown_table(CYCLE_HEADER, cycle_rows(result)),
        "latency": markdown_table(LATENCY_HEADER, latency_rows(result)),
    }
    path = write_result(result, args.out, f"stock_sync-{result['products']}")
    print()
    print(
        f"stock sync, {args.products} products ({result['world'].get('stocked_offers')} stocked offers), "
        f"{args.stores} stores, {args.change_share:.0%} changing per cycle; minimum = 1 MoySklad read + "
        f"ceil(changed / 250) retailCRM uploads"
    )
    print(text_table(CYCLE_HEADER, cycle_rows(result)))
    print()
    print(text_table(LATENCY_HEADER, latency_rows(result)))
    print()
    print("verdict: " + ", ".join(f"{k}={v}" for k, v in result["verdict"].items()))
    failed = [c for c in result.get("cycles") or [] if "error" in c]
    for c in failed:
        print(f"CYCLE {c['cycle']} FAILED:\n{c['error']}", file=sys.stderr)
    print(f"results: {path}")
    return 1 if failed or not result["verdict"]["crm_converged"] else 0


if __name__ == "__main__":
    sys.exit(main())
