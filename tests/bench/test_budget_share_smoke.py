"""Smoke test of ``bench/budget_share.py``: a tiny run in a subprocess, as CI runs it.

Two worker processes on one MoySklad sandbox account through the test Redis and a few hundred
timed acquires (the contrast without Redis is ``tests/connectors/http/test_budget_processes.py``).
Checks that the run completes, that the shared-budget run drew no 429 and the JSON has what
``docs/budgets.md`` reads. No timing or
rate assertion (``--no-target``): a two-second run says nothing reliable about the share of the
budget, and timings belong to the benchmark's report, not to a test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TIMEOUT_SECONDS = 600


def test_budget_share_benchmark_runs_tiny(tmp_path: Path, redis_url: str) -> None:
    command = [
        sys.executable,
        str(REPO / "bench" / "budget_share.py"),
        "--processes",
        "2",
        "--seconds",
        "2",
        "--embedded",
        "0",
        "--acquire-cost",
        "--acquire-n",
        "200",
        "--redis",
        redis_url,
        "--no-target",
        "--out",
        str(tmp_path),
    ]
    postgres = os.environ.get("SKLADBRIDGE_TEST_POSTGRES_URL")
    if postgres:
        command += ["--postgres", postgres]
    env = {k: v for k, v in os.environ.items() if k != "SKLADBRIDGE_REDIS_URL"}
    proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
    # exit 1 means a 429 on the shared budget
    assert proc.returncode == 0, f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-5000:]}"
    files = list(tmp_path.glob("budget_share-*.json"))
    assert len(files) == 1, proc.stdout
    result = json.loads(files[0].read_text(encoding="utf-8"))

    [shared] = result["runs"]
    assert (shared["processes"], shared["budget"]) == (2, "redis")
    assert shared["refused_429"] == 0 and not shared["banned"]
    assert [w["errors"] for w in shared["workers"]] == [0, 0]
    assert all(w["pages"] > 0 for w in shared["workers"])  # both processes did read
    costs = result["acquire_cost"]
    assert {"in_process", "redis_lua"} <= set(costs)
    assert ("postgres_function" in costs) == bool(postgres)
    assert all(c["n"] == 200 for c in costs.values())
    assert "% budget" in proc.stdout  # the table was printed
