"""Benchmark of the full import (issue 5) against the sandboxes on loopback, with a peer.

    python bench/full_import.py --products 10000 [--auth login|app] [--quick] [--out bench/results]

One run: build the demo world (MoySklad sandbox seeded with ``--products`` products, variants,
images and 10 stores; retailCRM sandbox; feed server), run our ``full-import`` flow once, then the
peer extraction (the same assortment + current stock + images with MoySklad's official
``moysklad-remap-12-sdk``, and with ``moyskladapi`` where a Python >= 3.12 venv for it exists) on
the same world. Requests, weight, 429s and 503s are read from the sandboxes' own request logs
(and cross-checked with the flow's own counters) and compared with the minimum the data needs.
Writes ``<out>/full_import-<products>-<auth>-<UTC>.json`` and prints a short table.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import traceback
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

BENCH = REPO / "bench"
QUICK_PRODUCTS = 500
FROM_DECEMBER = date(2026, 12, 1)


def configure_prefect(home: Path) -> None:
    """Prefect settings the notes ask for, before ``prefect`` is imported."""
    home.mkdir(parents=True, exist_ok=True)
    os.environ["PREFECT_HOME"] = str(home)
    os.environ.pop("PREFECT_API_URL", None)  # the temporary server, never someone's real one
    os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "120"
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ.setdefault("PREFECT_LOGGING_TO_API_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("DO_NOT_TRACK", "1")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--products", type=int, default=10_000)
    p.add_argument(
        "--auth",
        choices=("login", "app"),
        default="login",
        help="MoySklad credential: login/password (dated weight) or a solution token (weight 1)",
    )
    p.add_argument("--quick", action="store_true", help=f"{QUICK_PRODUCTS} products, login/password (CI smoke)")
    p.add_argument("--stores", type=int, default=10)
    p.add_argument(
        "--weight-day",
        default=FROM_DECEMBER.isoformat(),
        help="day of MoySklad's weight table, pinned on sandbox and client ('today' = unpinned); "
        "default 2026-12-01: login/password weight 4",
    )
    p.add_argument(
        "--catalog-wait", type=float, default=120.0, help="seconds the flow may wait for the CRM to load the feed"
    )
    p.add_argument("--no-peer", action="store_true", help="skip the peers")
    p.add_argument("--no-moyskladapi", action="store_true", help="run only the moysklad-remap-12-sdk peer")
    p.add_argument("--out", type=Path, default=BENCH / "results")
    p.add_argument("--prefect-home", type=Path, default=BENCH / ".prefect")
    args = p.parse_args(argv)
    if args.quick:
        args.products, args.auth = QUICK_PRODUCTS, "login"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_prefect(args.prefect_home)
    from bench.report import markdown, table, write_json

    weight_day = None if args.weight_day == "today" else date.fromisoformat(args.weight_day)
    result = run(
        args.products,
        args.auth,
        weight_day,
        args.stores,
        args.catalog_wait,
        not args.no_peer,
        moyskladapi=not args.no_moyskladapi,
    )
    result["table_markdown"] = markdown(result)
    path = write_json(result, args.out)
    print()
    print(
        f"full import, {args.products} products, {args.stores} stores, MoySklad auth {args.auth} "
        f"(weight {result['minimum']['moysklad']['data']['weight_plain']}), day {result['weight_day']}"
    )
    print("minimum MoySklad:  " + result["minimum"]["moysklad"]["formula"])
    print("minimum retailCRM: " + result["minimum"]["retailcrm"]["formula"])
    print(table(result))
    for line in result["ours"].get("warnings", []):
        print(f"note: {line}")
    if result["ours"].get("error"):
        print("OUR FLOW FAILED:\n" + result["ours"]["error"], file=sys.stderr)
    print(f"results: {path}")
    return 1 if result["ours"].get("error") else 0


def run(
    products: int,
    auth: str,
    weight_day: date | None,
    stores: int,
    catalog_wait: float,
    with_peer: bool,
    *,
    moyskladapi: bool = True,
) -> dict[str, Any]:
    """One benchmark run; returns the JSON-ready result."""
    from bench import minimum, peers
    from bench.world import bench_world

    peer_proc = peers.start_sdk_peer() if with_peer else None  # its ~40 s import overlaps the seeding
    work = BENCH / ".work"
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work, prefix=f"run-{products}-") as tmp:
        seeded = time.monotonic()
        with bench_world(Path(tmp), products, auth=auth, weight_day=weight_day, stores=stores) as bw:  # type: ignore[arg-type]
            seed_seconds = time.monotonic() - seeded
            ms = bw.demo.moysklad
            day = ms.weight_day()
            result: dict[str, Any] = {
                "benchmark": "full_import",
                "products": products,
                "stores": stores,
                "auth": auth,
                "weight_day": day.isoformat(),
                "weight_day_pinned": weight_day is not None,
                "machine": {
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "platform": platform.platform(),
                },
                "world": {
                    "seed_seconds": round(seed_seconds, 1),
                    "moysklad": minimum.moysklad_data(ms),
                    "retailcrm": minimum.crm_offers(ms),
                },
                "minimum": {
                    "moysklad": minimum.moysklad_minimum(ms, "app" if auth == "app" else "user", day).as_dict(),
                    "retailcrm": minimum.retailcrm_minimum(ms, polls_sites=catalog_wait > 0).as_dict(),
                },
                "notes": [
                    "sandboxes (uvicorn threads) run in the benchmark process: they share its CPU (GIL) and "
                    "memory; ours.peak_rss_mb includes the seeded sandbox state, ours.phase_peak_rss_mb is the "
                    "peak during the flow (VmHWM reset before it), still including the sandboxes' resident data",
                    "the peers run in their own processes: their peak RSS is theirs alone",
                    "the MoySklad sandbox records a ban (sandbox.banned) but keeps answering; the real API "
                    "would switch the user's API access off from that moment",
                ],
            }
            if peer_proc is not None:
                peers.wait_ready(peer_proc)
            result["ours"] = run_ours(bw, catalog_wait)
            result["peers"] = (
                peers.run_peers(bw, peer_proc, stock_type="freeStock", moyskladapi=moyskladapi) if with_peer else {}
            )
    return result


def run_ours(bw: Any, catalog_wait: float) -> dict[str, Any]:
    """Our flow, once, with the heartbeat off; measured from the flow and from the sandbox logs."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from bench import measure
    from deployments.demo import DEMO_INTEGRATION
    from flows.full_import import full_import
    from hub.exchanges import ran

    started = time.monotonic()
    with get_client(sync_client=True) as client:  # starts the temporary server before the clock runs
        client.api_healthcheck()
    out: dict[str, Any] = {
        "prefect_start_seconds": round(time.monotonic() - started, 1),
        "rss_before_mb": measure.rss_mb(),
    }
    measure.reset_phase_peak()
    since, t0 = time.time(), time.monotonic()
    summary: dict[str, Any] | None = None
    try:
        with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            summary = ran(
                full_import(DEMO_INTEGRATION, config_path=str(bw.config_path), catalog_wait_seconds=catalog_wait)
            )
    except Exception:
        out["error"] = traceback.format_exc()
    out["flow_seconds"] = round(time.monotonic() - t0, 2)
    until = time.time()
    out["phase_peak_rss_mb"] = measure.phase_peak_mb()
    out["peak_rss_mb"] = round(measure.peak_rss_mb(), 1)
    ms_log = measure.count_log(bw.demo.moysklad.log, since, until, 429)
    crm_log = measure.count_log(bw.demo.retailcrm.log, since, until, 503)
    out.update(
        {
            "moysklad_log": ms_log.as_dict(),
            "retailcrm_log": crm_log.as_dict(),
            "moysklad_banned_flag": bw.demo.moysklad.banned,
            "would_ban": measure.would_ban(ms_log),
        }
    )
    if summary is not None:
        flow_counts = summary.get("requests", {})
        out.update(
            {
                "flow_inner_seconds": summary.get("seconds"),
                "summary_requests": flow_counts,
                "pages": summary.get("pages"),
                "planned": summary.get("planned"),
                "uploaded": summary.get("uploaded"),
                "warnings": summary.get("warnings", []),
                "cross_check": {
                    "moysklad": {"flow": flow_counts.get("moysklad", {}).get("requests"), "sandbox": ms_log.requests},
                    "retailcrm": {
                        "flow": flow_counts.get("retailcrm", {}).get("requests"),
                        "sandbox": crm_log.requests,
                    },
                },
            }
        )
    return out


if __name__ == "__main__":
    sys.exit(main())
