"""Smoke test of ``bench/horoshop_orders.py`` on a small day: the hub reads each order once, at one call a
cycle, the seed's way re-reads, and the archive stays inside the quota with no refusal."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_small_day_and_archive(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("horoshop_bench", REPO / "bench" / "horoshop_orders.py")
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.main(["--orders", "60", "--archive", "250", "--quota", "100", "--out", str(tmp_path)])
    hub, seed = result["day"]
    assert hub["orders_read"] == 60 and hub["orders_read_again"] == 0 and hub["refused"] == 0
    assert hub["calls"] == hub["minimum_at_10_min_freshness"]  # one call a cycle: the window fits a page
    assert seed["orders_read_again"] > 0 and seed["calls"] >= hub["calls"]
    archive = result["archive"]
    assert archive["orders_read"] == 250 and archive["refused"] == 0
    assert archive["minimum"] <= archive["calls"] <= archive["minimum"] + 1
    assert json.loads(next(tmp_path.glob("horoshop_orders-60-*.json")).read_text())["quota"] == 100
