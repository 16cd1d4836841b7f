"""Smoke test of ``bench/console_pages.py``: a tiny run in a subprocess, as CI runs it.

Checks that the benchmark fills the store, logs in, opens every page and writes its JSON. No timing
assertion (``--no-target``): the figures for 100 000 queue items and 1 000 000 journal entries are
the benchmark's (bench/results/console_pages-*.json), not a test's on a shared machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_console_pages_benchmark_runs_tiny(tmp_path: Path) -> None:
    command = [
        sys.executable,
        str(REPO / "bench" / "console_pages.py"),
        *("--queue", "300", "--journal", "3000", "--repeat", "2", "--no-target", "--out", str(tmp_path)),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (result_file,) = tmp_path.glob("console_pages-300-3000-*.json")
    result = json.loads(result_file.read_text(encoding="utf-8"))
    assert (result["queue_items"], result["journal_entries"]) == (300, 3000)
    assert len(result["pages"]) == 10
    for name, page in result["pages"].items():
        assert page["p95_ms"] > 0 and page["rows"] >= 2, name  # the header row and at least one item or entry
