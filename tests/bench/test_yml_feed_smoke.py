"""Smoke test of ``bench/yml_feed.py memory`` in a subprocess, tiny, as CI runs it.

It checks that the measurement is there and whole: the catalog pass in its own process wrote every
offer (read back by the strict portal check inside the benchmark), the stock report was real input
(its rows counted), and the peak RSS is the whole process's (imports included, so never below the
RSS before the pass). No memory bar at this size: the imports alone are most of it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_yml_feed_memory_benchmark_measures_the_whole_pass(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "yml_feed.py"), "memory", "--products", "200", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    [path] = tmp_path.glob("yml_feed-memory-*.json")
    result = json.loads(path.read_text())
    assert result["offers"] == 240 and result["feed_offers"] == 240  # every fifth product has two variants
    assert result["stock_rows"] == 450  # three stores for three products in four
    assert 50 < result["rss_before_pass_mb"] <= result["peak_rss_mb"]
    assert result["writer_alone"]["offers"] == 240
