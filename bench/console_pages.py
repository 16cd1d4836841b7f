"""Benchmark of the console's queue and journal pages on a big shop (issue 27).

    python bench/console_pages.py [--queue 100000] [--journal 1000000] [--database-url URL]
                                  [--repeat 20] [--out bench/results] [--no-target]

A hub store (a fresh SQLite file by default; ``--database-url`` for PostgreSQL, whose tables are
emptied first) is filled with ``--queue`` exchange-queue items (done, a few dead, some pending; five
integrations, three kinds) and ``--journal`` journal entries (five integrations; 1 % warnings, 0.1 %
errors). The console runs on a loopback port under the hub's uvicorn set-up; a logged-in client opens
each page ``--repeat`` times: the first page, filtered pages, and a page deep in the history (keyset:
``before=<id>``). Writes ``<out>/console_pages-<queue>-<journal>-<UTC>.json`` with p50/p95/max per page.

Exit status: 2 when a page's p95 is 300 ms or more (unless ``--no-target``), else 0.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

TARGET_MS = 300.0
INTEGRATIONS = [f"shop{n}" for n in range(5)]
KINDS = ("orders", "stock", "order_statuses")
PASSWORD = "bench password 1"
BATCH = 20_000


def fill(store: Any, queue_items: int, journal_entries: int) -> dict[str, float]:
    """Bulk rows straight into the tables (the repositories' one-by-one writes would take hours)."""
    from sqlalchemy import delete, insert

    from hub.store.tables import exchange_queue, journal

    rng = random.Random(27)
    now = datetime.now(UTC)
    took: dict[str, float] = {}
    started = time.monotonic()
    with store.db.write() as conn:
        conn.execute(delete(exchange_queue))
        conn.execute(delete(journal))
    for start in range(0, queue_items, BATCH):
        rows = []
        for n in range(start, min(start + BATCH, queue_items)):
            roll = rng.random()
            status = "dead" if roll < 0.01 else "pending" if roll < 0.03 else "done"
            at = now - timedelta(seconds=queue_items - n)
            rows.append(
                {
                    "integration": INTEGRATIONS[n % len(INTEGRATIONS)],
                    "kind": KINDS[n % len(KINDS)],
                    "idempotency_key": f"key-{n}",
                    "payload": {"order_id": str(100_000 + n), "hash": f"{n:016x}"},
                    "payload_hash": f"{n:064x}",
                    "status": status,
                    "attempts": 8 if status == "dead" else 1,
                    "max_attempts": 8,
                    "last_error": "the ERP answered 412: state not found" if status == "dead" else None,
                    "next_attempt_at": at,
                    "created_at": at,
                    "updated_at": at,
                    "claimed_by": None,
                    "lease_until": None,
                    "result": {"erp_id": f"erp-{n}"} if status == "done" else None,
                }
            )
        with store.db.write() as conn:
            conn.execute(insert(exchange_queue), rows)
    took["queue_fill_seconds"] = round(time.monotonic() - started, 1)
    started = time.monotonic()
    for start in range(0, journal_entries, BATCH):
        rows = []
        for n in range(start, min(start + BATCH, journal_entries)):
            roll = rng.random()
            level, level_no = ("error", 40) if roll < 0.001 else ("warning", 30) if roll < 0.011 else ("info", 20)
            rows.append(
                {
                    "at": now - timedelta(seconds=(journal_entries - n) * 2),
                    "integration": INTEGRATIONS[n % len(INTEGRATIONS)],
                    "level": level,
                    "level_no": level_no,
                    "event": "stock-sync.done",
                    "message": f"stock sync: {n % 300} offers changed, {n % 300} sent",
                    "data": None,
                }
            )
        with store.db.write() as conn:
            conn.execute(insert(journal), rows)
    took["journal_fill_seconds"] = round(time.monotonic() - started, 1)
    if store.dialect == "postgresql":
        # what autovacuum does to a table that has settled: statistics, and the visibility map that
        # lets the counts by status be read from the index alone
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE exchange_queue")
            conn.exec_driver_sql("VACUUM ANALYZE journal")
    else:
        with store.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    return took


def pages(store: Any) -> dict[str, str]:
    """The pages to open: first pages, filters a manager uses, and pages deep in the history."""
    from sqlalchemy import func, select

    from hub.store.tables import exchange_queue, journal

    with store.db.read() as conn:
        q_mid = int(conn.scalar(select(func.max(exchange_queue.c.id))) or 0) // 2
        j_mid = int(conn.scalar(select(func.max(journal.c.id))) or 0) // 2
    return {
        "queue: first page": "/console/queue",
        "queue: dead of one integration": "/console/queue?integration=shop1&status=dead",
        "queue: one integration and kind": "/console/queue?integration=shop2&kind=stock",
        "queue: deep page": f"/console/queue?before={q_mid}",
        "queue: live rows": "/console/queue?rows=1",
        "journal: first page": "/console/journal",
        "journal: errors": "/console/journal?level=error",
        "journal: one integration, last 24 h": "/console/journal?integration=shop3&since=24h",
        "journal: warnings of one integration": "/console/journal?integration=shop4&level=warning",
        "journal: deep page": f"/console/journal?before={j_mid}",
    }


def measure(base: str, paths: dict[str, str], repeat: int) -> dict[str, dict[str, float]]:
    import httpx

    out: dict[str, dict[str, float]] = {}
    with httpx.Client(base_url=base, timeout=60) as client:
        login = client.get("/console/login").text
        marker = 'name="csrf" value="'
        csrf = login.split(marker, 1)[1].split('"', 1)[0]
        answer = client.post("/console/login", data={"user": "bench", "password": PASSWORD, "csrf": csrf})
        assert answer.status_code in (200, 303), answer.text[:200]
        for name, path in paths.items():
            times = []
            for _ in range(repeat + 1):
                started = time.perf_counter()
                response = client.get(path)
                elapsed = (time.perf_counter() - started) * 1000
                assert response.status_code == 200, (path, response.status_code, response.text[:300])
                times.append(elapsed)
            times = times[1:]  # the first opens the connection and warms the caches
            times.sort()
            out[name] = {
                "p50_ms": round(statistics.median(times), 1),
                "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1),
                "max_ms": round(times[-1], 1),
                "rows": float(response.text.count("<tr")),
            }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queue", type=int, default=100_000)
    parser.add_argument("--journal", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--no-target", action="store_true")
    args = parser.parse_args(argv)

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.pop("PREFECT_API_URL", None)
    from deployments.console import console_app
    from deployments.console.auth import hash_password
    from hub.config import parse_config
    from hub.store import open_store
    from tests.deployments.console.browser import served

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'hub.db'}"
        raw = {
            "database_url": url,
            "integrations": {
                name: {
                    "systems": {
                        "crm": {
                            "system": "retailcrm",
                            "base_url": "http://127.0.0.1:9",
                            "api_key": "${K}",
                            "site": name,
                        }
                    }
                }
                for name in INTEGRATIONS
            },
            "console": {"users": {"bench": {"password_hash": hash_password(PASSWORD)}}},
        }
        config = parse_config(raw, source=Path(tmp) / "skladbridge.yaml", require_secrets=False)
        store = open_store(url)
        try:
            filled = fill(store, args.queue, args.journal)
            print(f"filled: {args.queue} queue items, {args.journal} journal entries {filled}", flush=True)
            with served(console_app(config, lambda: store)) as console:
                base = console.removesuffix("/console")
                results = measure(base, pages(store), args.repeat)
        finally:
            store.close()

    width = max(len(n) for n in results)
    for name, r in results.items():
        print(f"{name:<{width}}  p50 {r['p50_ms']:7.1f} ms  p95 {r['p95_ms']:7.1f} ms  max {r['max_ms']:7.1f} ms")
    slow = [name for name, r in results.items() if r["p95_ms"] >= TARGET_MS]
    result = {
        "benchmark": "console_pages",
        "at": datetime.now(UTC).isoformat(),
        "database": url.split(":", 1)[0] if args.database_url else "sqlite",
        "queue_items": args.queue,
        "journal_entries": args.journal,
        "repeat": args.repeat,
        "target_p95_ms": TARGET_MS,
        "fill": filled,
        "pages": results,
        "slow_pages": slow,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = args.out / f"console_pages-{args.queue}-{args.journal}-{stamp}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"wrote {path}")
    if slow and not args.no_target:
        print(f"over {TARGET_MS:.0f} ms (p95): {slow}")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
