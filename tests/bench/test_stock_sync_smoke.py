"""Smoke test of ``bench/stock_sync.py`` in a subprocess, tiny, as CI runs it.

It checks what the benchmark claims to measure is there and holds on a small world: every cycle at
the minimum the changes need (the ratio is a request count, not a timing), no 429/503, the CRM
converged, every timed change held on both paths, and the peer side by side. No timing assertion.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_stock_sync_benchmark_runs_at_the_minimum_with_both_paths_and_the_peer(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API_URL")}
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "stock_sync.py"),
            "--products",
            "400",
            "--cycles",
            "1",
            "--changes",
            "6",
            "--poll-seconds",
            "1",
            "--arrival-seconds",
            "2",
            "--webhook-interval",
            "1",
            "--catalog-wait",
            "60",
            "--out",
            str(tmp_path),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-5000:]}"
    files = list(tmp_path.glob("stock_sync-400-*.json"))
    assert len(files) == 1, proc.stdout
    result = json.loads(files[0].read_text(encoding="utf-8"))

    (cycle,) = result["cycles"]
    assert "error" not in cycle and cycle["offers_changed_in_moysklad"] > 0
    assert cycle["requests"]["moysklad"] >= cycle["minimum"]["moysklad"] == 1
    assert cycle["requests"]["retailcrm"] >= cycle["minimum"]["retailcrm"] >= 1
    verdict = result["verdict"]
    assert verdict["requests_within_1_1x"] and verdict["zero_429_503"] and verdict["crm_converged"], verdict
    for path in ("polling", "webhook"):
        latency = result["latency"][path]
        assert latency["held"] == latency["changes"] == 6, latency
    peer = result["peer"]
    # the seed's way re-sends every offer: more uploads than the changes need
    assert peer["requests"]["retailcrm"] > peer["minimum_for_the_same_changes"]["retailcrm"]
    assert "MS req/min" in proc.stdout and "p95 s" in proc.stdout
