"""Smoke test of ``bench/orders.py`` in a subprocess, tiny (``--quick``), as CI runs it.

It checks that what the benchmark claims to measure is there and holds on a small world: every bulk
and single order once in MoySklad, requests counted per order from the sandboxes' logs (at least the
one order upsert, the reference books shown apart), no 429/503, every timed order arrived on the
polling path, the scheduled path modelled, and the peer side by side with more MoySklad requests per
order than ours. No timing assertion.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_orders_benchmark_counts_requests_per_order_times_both_paths_and_runs_the_peer(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API_URL")}
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "orders.py"), "--quick", "--out", str(tmp_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-5000:]}"
    files = list(tmp_path.glob("orders-20-*.json"))
    assert len(files) == 1, proc.stdout
    result = json.loads(files[0].read_text(encoding="utf-8"))

    bulk, new, linked, peer = result["runs"]
    assert (bulk["orders"], new["orders"], linked["orders"]) == (20, 1, 1)
    for run in (bulk, new, linked):
        assert "error" not in run and run["in_moysklad"] == {"once": run["orders"], "more_than_once": 0, "missing": 0}
        # the upsert at least, besides the reference books (read, or kept in the hub once that lands)
        assert run["requests"]["moysklad"] - run["reference_book_requests"] >= 1
    assert bulk["summary"]["accepted"] == 20 and bulk["requests_per_order"]["moysklad"] < 1
    assert linked["summary"]["customers_found"] == 0 and linked["summary"]["customers_created"] == 0  # by its link
    assert linked["requests"]["moysklad"] < new["requests"]["moysklad"]

    poll, scheduled = result["latency"]["poll"], result["latency"]["scheduled"]
    assert poll["held"] == poll["orders"] == 4 and poll["p95"] is not None and not poll["errors"]
    assert scheduled["p50"] is not None and scheduled["cycle_seconds"] > 0 and "error" not in scheduled

    assert peer["orders"] == peer["orders_posted"] == peer["searches"] == 20
    assert peer["in_moysklad"]["once"] == 20
    assert peer["requests_per_order"]["moysklad"] > bulk["requests_per_order"]["moysklad"]
    verdict = result["verdict"]
    assert verdict["all_orders_once"] and verdict["zero_429_503"] and verdict["no_cycle_failed"], verdict
    assert "MS req/order" in proc.stdout and "p95 s" in proc.stdout
