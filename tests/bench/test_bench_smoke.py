"""Smoke tests of the benchmarks: ``bench/full_import.py --quick`` and a small ``bench/publication_memory.py``
in subprocesses, as CI runs them.

Checks that the run completes and that our flow stayed inside the budgets (no MoySklad 429, no
retailCRM 503) while spending at least the minimum the data needs; the peer section must be there.
No timing assertion: timings belong to the benchmark's report, not to a test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.full_import import QUICK_PRODUCTS

REPO = Path(__file__).resolve().parents[2]
TIMEOUT_SECONDS = 900


def test_quick_benchmark_runs_within_budgets(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API_URL")}
    proc = subprocess.run(
        # the moyskladapi peer paces by request count (minutes even at 2 000 products): benchmark-only
        [sys.executable, str(REPO / "bench" / "full_import.py"), "--quick", "--no-moyskladapi", "--out", str(tmp_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-5000:]}"
    files = list(tmp_path.glob(f"full_import-{QUICK_PRODUCTS}-login-*.json"))
    assert len(files) == 1, proc.stdout
    result = json.loads(files[0].read_text(encoding="utf-8"))

    ours, minimum = result["ours"], result["minimum"]
    assert "error" not in ours, ours.get("error")
    assert ours["moysklad_log"]["refused"] == 0  # no 429
    assert ours["retailcrm_log"]["refused"] == 0  # no 503
    assert not ours["would_ban"] and not ours["moysklad_banned_flag"]
    assert ours["moysklad_log"]["requests"] >= minimum["moysklad"]["requests"]
    assert ours["retailcrm_log"]["requests"] >= minimum["retailcrm"]["requests"]
    assert ours["moysklad_log"]["weight"] >= minimum["moysklad"]["weight"]
    assert "moysklad-remap-12-sdk" in result["peers"] and "moyskladapi" in result["peers"]
    assert "MS req/min" in proc.stdout  # the table was printed


def test_publication_memory_benchmark_runs_and_both_passes_agree(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "publication_memory.py"), "--sizes", "300,1200", "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
    )
    # the benchmark itself exits non-zero when the sliced and the whole pass differ in any output
    assert proc.returncode == 0, f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-5000:]}"
    files = list(tmp_path.glob("publication_memory-*.json"))
    assert len(files) == 1, proc.stdout
    sizes = json.loads(files[0].read_text(encoding="utf-8"))["sizes"]
    assert [s["products"] for s in sizes] == [300, 1200]
    for size in sizes:
        ours, peer = size["runs"].values()
        assert ours["feed_offers"] == peer["feed_offers"] == size["offers"]
        assert ours["batches"]["inventories"] >= 1 and ours["peak_mb"] > 0
